{
  description = "unbound-sidecar: .local answers for Unbound through Avahi, nftables routing sets, and the NixOS router around them";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The sample configurations the README shows, evaluated by `checks` below.
      sampleSystem = system: modules: lib.nixosSystem {
        inherit system;
        modules = [ self.nixosModules.router ] ++ modules;
      };
    in
    {
      packages = forAllSystems (pkgs: rec {
        unbound-sidecar = pkgs.callPackage ./nix/package.nix { };
        default = unbound-sidecar;
      });

      # nix/module.nix defaults its package to nix/package.nix, so it works without the flake too.
      nixosModules = {
        default = ./nix/module.nix;
        router = ./nix/router.nix; # imports the sidecar module
      };

      # What CI (test/nix/nix.test.ts) checks without nixpkgs, checked here with it.
      checks = forAllSystems (pkgs:
        let
          system = pkgs.stdenv.hostPlatform.system;
          renderRuleset = sample: import ./nix/lib/ruleset.nix (lib.importJSON sample);
          # nixpkgs' own nftables check: nft --check against the Linux Kernel Library, no root or
          # namespaces needed (networking.nftables.checkRuleset does the same at build time). Only
          # the inet tables: the netdev ones name devices that do not exist in the sandbox.
          nftCheck = name: text: pkgs.runCommand "nft-check-${name}" {
            nativeBuildInputs = [ pkgs.buildPackages.nftables ];
            ruleset = text;
            passAsFile = [ "ruleset" ];
          } ''
            export NIX_REDIRECTS=/etc/protocols=${pkgs.buildPackages.iana-etc}/etc/protocols:/etc/services=${pkgs.buildPackages.iana-etc}/etc/services
            LD_PRELOAD="${pkgs.buildPackages.libredirect}/lib/libredirect.so ${pkgs.buildPackages.lklWithFirewall.lib}/lib/liblkl-hijack.so" \
              nft --check --file "$rulesetPath"
            touch $out
          '';
          inetOnly = r: ''
            table inet ${r.main.inet.name} {
            ${r.main.inet.content}
            }
          '';
          # Assertions only fail a full system build; force them here on the module's samples.
          evalSample = name: sample:
            let
              cfg = (sampleSystem system [ sample ]).config;
              failed = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
            in
            if failed != [ ] then throw "${name}: ${lib.concatStringsSep "; " failed}"
            else pkgs.writeText "eval-${name}" (builtins.toJSON {
              unit = cfg.systemd.units."unbound-sidecar.service".text;
              unbound = cfg.environment.etc."unbound/unbound.conf".source;
              nftables = cfg.networking.nftables.tables;
            });
        in
        {
          package = self.packages.${system}.default;

          ruleset-vpn = nftCheck "vpn" (inetOnly (renderRuleset ./test/nix/samples/router-vpn.json));
          ruleset-netns = nftCheck "netns" (inetOnly (renderRuleset ./test/nix/samples/router-netns.json));

          # The Unbound settings the module produces, through nixpkgs' own renderer + checkconf.
          # (checkconf is off by default there because nixpkgs always sets remote-control.)
          unbound-conf = (sampleSystem system [
            ./test/nix/samples/nixos-sidecar.nix
            { services.unbound.checkconf = true; }
          ]).config.environment.etc."unbound/unbound.conf".source;

          eval-sidecar = evalSample "sidecar" ./test/nix/samples/nixos-sidecar.nix;
          eval-router = evalSample "router" ./test/nix/samples/nixos-router.nix;
        });
    };
}
