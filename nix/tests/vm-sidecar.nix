# NixOS VM test (flake.nix checks.vm-sidecar, via pkgs.testers.runNixOSTest): one machine with
# nix/module.nix's defaults — Unbound, Avahi, the sidecar — and a static record. The record must
# come back from the sidecar itself and through Unbound's forward zone (do-not-query-localhost,
# domain-insecure: the VM has no internet, so without the forward Unbound would only time out
# asking the root servers).
{ module }:
{
  name = "unbound-sidecar";

  nodes.machine = { pkgs, ... }: {
    imports = [ module ];
    services.unbound-sidecar = {
      enable = true;
      settings.mdns.policy.staticRecords = [ "router.local. A 10.77.0.1" ];
    };
    environment.systemPackages = [ pkgs.knot-dns ];
  };

  testScript = ''
    machine.wait_for_unit("unbound-sidecar.service")
    machine.wait_for_unit("unbound.service")
    machine.wait_for_open_port(5335)
    machine.wait_for_open_port(53)

    with subtest("the sidecar answers its static record"):
        machine.succeed("kdig @127.0.0.1 -p 5335 +short router.local A | grep -x 10.77.0.1")

    with subtest("Unbound forwards local. to the sidecar"):
        machine.wait_until_succeeds("kdig @127.0.0.1 +short router.local A | grep -x 10.77.0.1", timeout=60)
        out = machine.succeed("kdig @127.0.0.1 router.local A")
        assert "status: NOERROR" in out, out
  '';
}
