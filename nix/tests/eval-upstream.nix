# The NixOS modules (nix/module.nix, nix/router.nix) evaluated inside a real NixOS: nixpkgs' own
# nixos/lib/eval-config.nix — lib.evalModules over every module in nixos/modules/module-list.nix,
# with nixpkgs' pkgs — for each sample in test/nix/samples/nixos-samples.nix. Every option we set
# is type-checked against its upstream declaration, assertions and warnings are collected, the
# toplevel derivation is instantiated (not built), and what the modules produce is returned with
# every string forced.
#
# Needs a nixpkgs checkout, which is not part of this repository (CI has none; test/nix skips):
#   nix-instantiate --eval --strict --json nix/tests/eval-upstream.nix --arg nixpkgs /path/to/nixpkgs -A problems
#       [] when every sample evaluates and meets its expectations, otherwise what went wrong
#   ... -A summary                        what each sample produces (units, Unbound settings, ruleset, Kea, radvd, …)
#   ... -A stubs                          what was replaced because this Nix or checkout cannot evaluate it
#   NIXPKGS=/path/to/nixpkgs node --test dist/test/nix/nix-lib.test.js the same, from the test suite
# flake.nix's checks.eval-modules runs it against the flake's nixpkgs input.
{
  nixpkgs,
  system ? "x86_64-linux",
  lib ? import (nixpkgs + "/lib"),
  pkgs ? null,
  repo ? ../..,
  samples ? import (repo + "/test/nix/samples/nixos-samples.nix"),
}:
let
  inherit (builtins) compareVersions pathExists;

  # ---- what cannot be evaluated here, and is replaced (each one listed in `stubs`) --------------
  # nixpkgs refuses Nix < 2.18 in its default.nix; its package set itself evaluates with older
  # ones, so impure.nix (what default.nix imports after that check) is imported directly.
  oldNix = compareVersions builtins.nixVersion "2.18" < 0;
  # lib.fileset (nix/package.nix's src) needs builtins.readFileType (Nix >= 2.14).
  noFileset = !(builtins ? readFileType);
  # A checkout without the Haskell package set (hackage-packages.nix is 10 MiB; partial mirrors
  # drop it) cannot evaluate ShellCheck, which writeShellApplication runs.
  noHaskell = !(pathExists (nixpkgs + "/pkgs/development/haskell-modules/hackage-packages.nix"));

  stubs =
    lib.optional oldNix "nixpkgs' Nix >= 2.18 check (pkgs imported through pkgs/top-level/impure.nix)"
    ++ lib.optional noFileset "services.unbound-sidecar.package (lib.fileset needs builtins.readFileType, Nix >= 2.14)"
    ++ lib.optional noHaskell "shellcheck-minimal (no pkgs/development/haskell-modules/hackage-packages.nix in this checkout)";

  overlays = lib.optional noHaskell (final: prev: {
    shellcheck-minimal = final.writeShellScriptBin "shellcheck" "exit 0" // { compiler.bootstrapAvailable = false; };
  });
  thePkgs =
    if pkgs != null && overlays == [ ] then pkgs
    else import (nixpkgs + (if oldNix then "/pkgs/top-level/impure.nix" else "")) {
      inherit system overlays;
      config = { };
    };

  modules = {
    sidecar = repo + "/nix/module.nix";
    router = repo + "/nix/router.nix";
  };
  machine = {
    fileSystems."/" = { device = "/dev/vda"; fsType = "ext4"; };
    boot.loader.grub.enable = false;
    system.stateVersion = lib.mkDefault lib.trivial.release;
  };
  packageStub = { pkgs, ... }: lib.mkIf noFileset {
    services.unbound-sidecar.package = pkgs.writeShellScriptBin "unbound-sidecar" "exit 0";
  };

  evalSample = name: sample:
    import (nixpkgs + "/nixos/lib/eval-config.nix") {
      inherit lib system;
      pkgs = thePkgs;
      modules = [
        modules.${sample.module}
        { _file = "test/nix/samples/nixos-samples.nix (${name})"; imports = [ sample.config ]; }
        machine
        packageStub
      ];
    };

  # Plain data: derivations become their paths, and string context is dropped so that nothing
  # this returns (or a check writing it to a file) makes Nix build the systems.
  plain = v: builtins.fromJSON (builtins.unsafeDiscardStringContext (builtins.toJSON v));

  summarise = name: sample:
    let
      system' = evalSample name sample;
      c = system'.config;
      failed = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
      sc = c.services.unbound-sidecar;
      r = sc.router or { enable = false; };
      services = lib.filterAttrs (n: _: lib.any (p: lib.hasPrefix p n) [ "router-" "nftables-ingress-" "wireguard-" ]) c.systemd.services;
      # The options a service sets (some others, e.g. startLimitBurst, have no value to read).
      unitOf = s: {
        inherit (s) description wants after before bindsTo requires partOf wantedBy requiredBy
          environment path script preStart postStart preStop postStop serviceConfig unitConfig;
      };
    in
    {
      failedAssertions = failed;
      inherit (c) warnings;
      toplevel = if failed == [ ] then system'.config.system.build.toplevel.drvPath else null;
      sidecar = {
        inherit (sc) enable;
        config = (import (repo + "/nix/lib/sidecar.nix")).configValue sc.settings;
        service = unitOf c.systemd.services.unbound-sidecar;
        inherit (c.systemd.services.unbound-sidecar) serviceConfig;
        unit = c.systemd.units."unbound-sidecar.service".text;
      };
      unbound = {
        inherit (c.services.unbound) enable settings group;
        package = c.services.unbound.package.name;
        dnstapBuild = lib.elem "--enable-dnstap" (c.services.unbound.package.configureFlags or [ ]);
      };
      avahi = { inherit (c.services.avahi) enable allowInterfaces publish; };
      groups = lib.attrNames c.users.groups;
      router = if !r.enable then null else {
        nftables = {
          inherit (c.networking.nftables) enable tables;
          ruleset = c.networking.nftables.ruleset;
        };
        kea = {
          dhcp4 = if c.services.kea.dhcp4.enable then c.services.kea.dhcp4.settings else null;
          dhcp6 = if c.services.kea.dhcp6.enable then c.services.kea.dhcp6.settings else null;
        };
        radvd = if c.services.radvd.enable then c.services.radvd.config else null;
        networkd = lib.mapAttrs (_: u: u.text) c.systemd.network.units;
        sysctl = c.boot.kernel.sysctl;
        rtTables = c.networking.iproute2.rttablesExtraConfig;
        services = lib.mapAttrs (_: unitOf) services;
        units = lib.mapAttrs' (n: _: lib.nameValuePair n c.systemd.units."${n}.service".text) services;
        wireguard = lib.mapAttrs (_: i: { inherit (i) ips table listenPort socketNamespace interfaceNamespace allowedIPsAsRoutes; }) c.networking.wireguard.interfaces;
      };
    };

  summary = lib.mapAttrs (name: sample: plain (summarise name sample)) samples;

  problemsOf = name: sample:
    let
      r = summary.${name};
      fails = sample.fails or null;
      matching = lib.filter (m: builtins.match fails m != null) r.failedAssertions;
    in
    (if fails == null then
      map (m: "${name}: assertion failed: ${m}") r.failedAssertions
    else lib.optional (matching == [ ])
      "${name}: expected an assertion failure matching /${fails}/, got ${builtins.toJSON r.failedAssertions}")
    ++ map (w: "${name}: warning: ${w}") r.warnings
    ++ map (e: "${name}: expected ${e.what}") (lib.filter (e: !e.ok) ((sample.expect or (_: [ ])) r));
in
{
  inherit summary stubs;
  problems = lib.concatLists (lib.mapAttrsToList problemsOf samples);
  versions = { nix = builtins.nixVersion; nixpkgs = lib.version; };
}
