# README: the DNS front, with the sidecar alone (checked by test/nix/nix-lib.test.ts against
# nixpkgs when NIXPKGS is set). The front answers the LAN on port 53 and asks Unbound on
# 127.0.0.1@5301 (proxy-protocol-port); Unbound keeps loopback and admits the LAN by prefix.
{
  services.unbound-sidecar = {
    enable = true;
    front = {
      enable = true;
      listen = [ "10.77.0.1:53" "[fd01:2345:6789::1]:53" ]; # the router's LAN addresses
      allow = [ "10.77.0.0/24" "fd01:2345:6789::/64" ];      # also Unbound's access-control
      insertDeadlineMs = 50;                                 # then the answer goes out anyway
    };
    settings.front.maxInflight = 2048; # any other key of the daemon's front block
  };
  system.stateVersion = "25.05";
}
