# Router: the links and the main namespace's routing — NICs named by their permanent MAC (and the
# WAN MAC override), forwarding, rp_filter and src_valid_mark, the LAN's addresses (networkd),
# fwmark policy routing into wan_table/vpn_table, and the WAN's DHCP when the WAN stays in the main
# namespace (with wan.namespace, nix/router/wan-namespace.nix takes the WAN).
{ config, lib, utils, ... }:
let
  inherit (lib) mkIf mkMerge;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg ns vpn lan4 lan6;
  policy = import ../lib/policy-routing.nix {
    inherit lan4 lan6;
    marks = { wan = cfg.routing.wanMark; vpn = cfg.routing.vpnMark; };
    inherit (vpn) allowWanFallback;
  };
in
{
  config = mkIf cfg.enable (mkMerge [
    {
      # ---- interfaces by MAC (udev applies .link files, with or without networkd) ---------------
      # Matched on the *permanent* MAC: after the WAN override the current MAC is different, and a
      # later `udevadm trigger` must still find the device.
      systemd.network.links."10-${cfg.lan.interface}" = {
        matchConfig.PermanentMACAddress = cfg.lan.mac;
        linkConfig.Name = cfg.lan.interface;
      };
      systemd.network.links."10-${cfg.wan.interface}" = {
        matchConfig.PermanentMACAddress = cfg.wan.mac;
        linkConfig = { Name = cfg.wan.interface; } // lib.optionalAttrs (cfg.wan.macAddress != null) { MACAddress = cfg.wan.macAddress; };
      };

      # ---- forwarding, rp_filter ----------------------------------------------------------------
      # Per-interface keys are applied by systemd's udev rule when the interface appears (so after
      # the rename); `default` covers interfaces created later (wg0, the veth).
      boot.kernel.sysctl = {
        "net.ipv4.conf.all.forwarding" = true;
        "net.ipv6.conf.all.forwarding" = true;
        "net.ipv4.conf.default.rp_filter" = 1;
        "net.ipv4.conf.all.rp_filter" = 1;
        # the reverse-path lookup uses the packet's fwmark, i.e. the policy-routing table it will use
        "net.ipv4.conf.all.src_valid_mark" = 1;
        "net.ipv4.conf.${cfg.lan.interface}.rp_filter" = 1;
        "net.ipv4.conf.${cfg.lan.interface}.src_valid_mark" = 1;
      } // lib.optionalAttrs (ns == null) {
        "net.ipv4.conf.${cfg.wan.interface}.rp_filter" = 1;
        "net.ipv4.conf.${cfg.wan.interface}.src_valid_mark" = 1;
      } // lib.optionalAttrs vpn.enable {
        "net.ipv4.conf.${vpn.interface}.rp_filter" = 1;
        "net.ipv4.conf.${vpn.interface}.src_valid_mark" = 1;
      };

      # ---- addressing (networkd in the main namespace) ----------------------------------------
      networking.useDHCP = false;
      systemd.network.enable = true;
      # Routes wireguard-*.service puts in the VPN table are not networkd's; leave them alone.
      systemd.network.config.networkConfig.ManageForeignRoutes = false;
      systemd.network.networks."20-${cfg.lan.interface}" = {
        matchConfig.Name = cfg.lan.interface;
        address = [ "${cfg.lan.ipv4.address}/${toString cfg.lan.ipv4.prefixLength}" ]
          ++ lib.optional (cfg.lan.ipv6 != null) "${cfg.lan.ipv6.address}/${toString cfg.lan.ipv6.prefixLength}";
        networkConfig = { ConfigureWithoutCarrier = true; IPv6AcceptRA = false; };
        linkConfig.RequiredForOnline = "no";
        # Policy routing (nix/lib/policy-routing.nix): LAN destinations always via main (so marked
        # replies reach the LAN), then the mark picks wan_table or vpn_table; vpn_table ends in
        # `unreachable default` unless vpn.allowWanFallback, so marked traffic never leaves by the
        # WAN while the tunnel is down. networkd owns that route (WireGuard's are foreign, below).
        routingPolicyRules = lib.optionals vpn.enable policy.networkd.routingPolicyRules;
        routes = lib.optionals vpn.enable policy.networkd.routes;
      };
      networking.iproute2 = {
        enable = true;
        rttablesExtraConfig = ''
          ${toString cfg.routing.wanMark} wan_table
          ${toString cfg.routing.vpnMark} vpn_table
        '';
      };
    }

    # ---- WAN in the main namespace: DHCP by networkd; wan_table gets the same gateways -----------
    (mkIf (ns == null) {
      systemd.network.networks."20-${cfg.wan.interface}" = {
        matchConfig.Name = cfg.wan.interface;
        networkConfig = { DHCP = "yes"; IPv6AcceptRA = true; };
        dhcpV4Config.UseDNS = false; # Unbound resolves from the root
        routes = lib.optionals vpn.enable [
          { Gateway = "_dhcp4"; Table = cfg.routing.wanMark; }
          { Gateway = "_ipv6ra"; Table = cfg.routing.wanMark; }
        ];
      };
    })
  ]);
}
