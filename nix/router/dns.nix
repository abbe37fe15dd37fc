# Router: DNS for the LAN — Unbound listens on the router's LAN addresses and answers the LAN, the
# sidecar answers .local and the LAN's reverse zone (Unbound forwards them, nix/module.nix), and
# Avahi announces and browses on the LAN only.
{ config, lib, utils, ... }:
let
  inherit (lib) mkDefault mkIf;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg net lan4 lan6;
in
{
  config = mkIf cfg.enable {
    services.unbound.settings.server = {
      interface = [ "127.0.0.1" "::1" cfg.lan.ipv4.address ] ++ lib.optional (cfg.lan.ipv6 != null) cfg.lan.ipv6.address;
      access-control = [ "127.0.0.0/8 allow" "::1/128 allow" "${lan4} allow" ]
        ++ lib.optional (lan6 != null) "${lan6} allow";
    };
    services.unbound-sidecar = {
      enable = mkDefault true;
      settings.dns.zones = mkDefault [ "local." (net.ipv4ReverseZone cfg.lan.ipv4.address cfg.lan.ipv4.prefixLength) ];
    };
    services.avahi = {
      allowInterfaces = [ cfg.lan.interface ]; # never announce on the WAN
      publish = { enable = mkDefault true; addresses = mkDefault true; };
    };
  };
}
