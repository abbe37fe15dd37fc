# Router: DNS for the LAN. By default the sidecar's DNS front answers on the router's LAN addresses
# (port 53) and forwards to Unbound, which listens on loopback only — 127.0.0.1@5301 with
# proxy-protocol-port for the front (nix/module.nix), plain loopback for the router itself — so
# clients keep the resolver address DHCP and RA give them (nix/router/dhcp.nix: the router's LAN
# address). services.unbound-sidecar.front.enable = false keeps the older layout: Unbound itself on
# the LAN addresses. Either way Unbound's access-control admits the LAN by prefix (behind the front
# it sees each client's own address through PROXYv2), the sidecar answers .local and the LAN's
# reverse zone (Unbound forwards them), and Avahi announces and browses on the LAN only.
{ config, lib, utils, ... }:
let
  inherit (lib) mkDefault mkIf mkMerge;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg net lan4 lan6;
  front = config.services.unbound-sidecar.front;
  lanPrefixes = [ lan4 ] ++ lib.optional (lan6 != null) lan6;
in
{
  config = mkIf cfg.enable (mkMerge [
    {
      services.unbound-sidecar = {
        enable = mkDefault true;
        settings.dns.zones = mkDefault [ "local." (net.ipv4ReverseZone cfg.lan.ipv4.address cfg.lan.ipv4.prefixLength) ];
        front = {
          enable = mkDefault true;
          listen = mkDefault ([ "${cfg.lan.ipv4.address}:53" ] ++ lib.optional (cfg.lan.ipv6 != null) "[${cfg.lan.ipv6.address}]:53");
          allow = mkDefault lanPrefixes;
        };
      };
      services.avahi = {
        allowInterfaces = [ cfg.lan.interface ]; # never announce on the WAN
        publish = { enable = mkDefault true; addresses = mkDefault true; };
      };
    }
    # The front binds the LAN addresses, which networkd may not have configured yet when the unit
    # starts (lan0 is not RequiredForOnline: the router must boot without a LAN cable). Unbound
    # has ip-freebind for this (nixpkgs sets it); Node has no IP_FREEBIND, and this sysctl is its
    # namespace-wide equivalent (ip-sysctl.rst, ip_nonlocal_bind).
    (mkIf front.enable {
      boot.kernel.sysctl = {
        "net.ipv4.ip_nonlocal_bind" = 1;
        "net.ipv6.ip_nonlocal_bind" = 1;
      };
    })
    # The older layout: Unbound answers the LAN itself.
    (mkIf (!front.enable) {
      services.unbound.settings.server = {
        interface = [ "127.0.0.1" "::1" cfg.lan.ipv4.address ] ++ lib.optional (cfg.lan.ipv6 != null) cfg.lan.ipv6.address;
        access-control = [ "127.0.0.0/8 allow" "::1/128 allow" ] ++ map (p: "${p} allow") lanPrefixes;
      };
    })
  ]);
}
