{
  description = "unbound-sidecar: .local answers for Unbound through Avahi, nftables routing sets, and the NixOS router around them";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
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

      # What CI (test/nix/*.test.ts) checks without nixpkgs, checked here with it.
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
          # nix/tests/eval-upstream.nix: both modules inside a whole NixOS of this nixpkgs, for
          # every sample in test/nix/samples/nixos-samples.nix (option types, assertions, the
          # toplevel instantiated, what the samples must produce).
          evalModules = import ./nix/tests/eval-upstream.nix { nixpkgs = nixpkgs.outPath; inherit lib pkgs system; };
        in
        {
          package = self.packages.${system}.default;

          ruleset-vpn = nftCheck "vpn" (inetOnly (renderRuleset ./test/nix/samples/router-vpn.json));
          ruleset-netns = nftCheck "netns" (inetOnly (renderRuleset ./test/nix/samples/router-netns.json));

          # The Unbound settings the module produces, through nixpkgs' own renderer + checkconf.
          # (checkconf is off by default there because nixpkgs always sets remote-control.)
          unbound-conf = (lib.nixosSystem {
            inherit system;
            modules = [
              self.nixosModules.default
              ./test/nix/samples/nixos-sidecar.nix
              { services.unbound.checkconf = true; }
            ];
          }).config.environment.etc."unbound/unbound.conf".source;

          # Assertions only fail a full system build; the harness forces them (and everything else).
          eval-modules =
            if evalModules.problems != [ ] then
              throw "eval-modules:\n${lib.concatStringsSep "\n" evalModules.problems}"
            else pkgs.writeText "eval-modules.json" (builtins.toJSON evalModules.summary);

          # A VM with Unbound and the sidecar: a static record resolves through Unbound (kdig).
          vm-sidecar = pkgs.testers.runNixOSTest (import ./nix/tests/vm-sidecar.nix { module = self.nixosModules.default; });
        });
    };
}
