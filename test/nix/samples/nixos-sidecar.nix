# README: the sidecar alone, beside an Unbound you already run (checked by flake.nix `checks`).
{
  services.unbound-sidecar = {
    enable = true;
    settings = {
      dns.zones = [ "local." "77.10.in-addr.arpa." ];
      mdns.policy.staticRecords = [ "router.local. A 10.77.0.1" ];
    };
  };
  # The module turns on Unbound and Avahi and forwards the zones; say where Avahi may speak.
  services.avahi.allowInterfaces = [ "lan0" ];
  system.stateVersion = "25.05";
}
