# Router: the WireGuard tunnel (networking.wireguard, the scripted backend) as the VPN route. Its
# allowed IPs become routes in vpn_table, where the fwmark rules send marked traffic
# (nix/router/interfaces.nix, nix/lib/ruleset.nix). With wan.namespace its UDP socket lives in the
# WAN namespace and the interface in the main one, so the encrypted packets leave by the WAN
# whatever the main namespace's routes say (the write-up's routing loop).
{ config, lib, utils, ... }:
let
  inherit (lib) mkIf mkMerge;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg ns vpn;
in
{
  config = mkIf (cfg.enable && vpn.enable) (mkMerge [
    {
      networking.wireguard.interfaces.${vpn.interface} = {
        inherit (vpn) ips privateKeyFile listenPort peers;
        table = toString cfg.routing.vpnMark;
        allowedIPsAsRoutes = true;
        socketNamespace = ns;
        interfaceNamespace = if ns == null then null else "init";
      };
    }
    (mkIf (ns != null) {
      systemd.services."wireguard-${vpn.interface}" = {
        requires = [ "router-netns-${ns}.service" ];
        after = [ "router-netns-${ns}.service" ];
      };
    })
  ]);
}
