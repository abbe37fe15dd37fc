# Router: the WAN in its own network namespace (wan.namespace; the write-up's "wan" netns). A unit
# creates the namespace, moves the WAN NIC into it, links it to the main namespace with a veth pair
# (addresses from nix/lib/net.nix's transit link: 100.64.255.0/30 and a /64 of the LAN's ULA site
# outside the LAN) and loads the namespace's ruleset; dhcpcd runs the WAN's DHCP inside it. The
# main namespace routes (and wan_table points) through the link. WireGuard then opens its socket
# there (nix/router/wireguard.nix), so the tunnel's own packets can never enter the tunnel.
{ config, lib, pkgs, utils, ... }:
let
  inherit (lib) mkIf;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg ns vpn link ruleset deviceUnit;
in
{
  config = mkIf (cfg.enable && ns != null) {
    systemd.services."router-netns-${ns}" = {
      description = "Network namespace ${ns} holding ${cfg.wan.interface}";
      # Wants, not BindsTo: moving the NIC into the namespace makes its device unit go inactive.
      wants = [ (deviceUnit cfg.wan.interface) ];
      after = [ (deviceUnit cfg.wan.interface) ];
      before = [ "network.target" "systemd-networkd.service" ]
        ++ lib.optional vpn.enable "wireguard-${vpn.interface}.service";
      wantedBy = [ "network.target" ];
      path = [ pkgs.iproute2 pkgs.procps pkgs.nftables ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        set -eu
        ip netns add ${ns} 2>/dev/null || true
        ip link set ${cfg.wan.interface} netns ${ns}
        ip link add ${link.main} type veth peer name ${link.ns} netns ${ns}
        ip -n ${ns} link set lo up
        ip -n ${ns} link set ${cfg.wan.interface} up
        ip -n ${ns} link set ${link.ns} up
        ip -n ${ns} addr add ${link.ns4}/${toString link.prefixLength4} dev ${link.ns}
        ip -n ${ns} addr add ${link.ns6}/64 dev ${link.ns} nodad
        # a moved device gets the new namespace's defaults: set its sysctls after the move
        ip netns exec ${ns} sysctl -q -w net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1 \
          net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.${cfg.wan.interface}.rp_filter=1
        ip netns exec ${ns} nft -f ${pkgs.writeText "netns-${ns}.nft" ruleset.wanNamespace.text}
        ip link set ${link.main} up
      '';
      preStop = ''
        ip -n ${ns} link set ${cfg.wan.interface} netns 1 || true
        ip link del ${link.main} || true
        ip netns del ${ns} || true
      '';
    };
    # The main namespace's side of the link: default route and wan_table via the WAN namespace.
    systemd.network.networks."20-${link.main}" = {
      matchConfig.Name = link.main;
      address = [ "${link.main4}/${toString link.prefixLength4}" "${link.main6}/64" ];
      routes = [
        { Gateway = link.ns4; }
        { Gateway = link.ns6; }
      ] ++ lib.optionals vpn.enable [
        { Gateway = link.ns4; Table = cfg.routing.wanMark; }
        { Gateway = link.ns6; Table = cfg.routing.wanMark; }
      ];
      linkConfig.RequiredForOnline = "no";
    };
    boot.kernel.sysctl."net.ipv4.conf.${link.main}.rp_filter" = 1;
    # DHCP client for the WAN inside the namespace (networkd only manages its own namespace).
    systemd.services."router-wan-dhcp" = {
      description = "DHCP client for ${cfg.wan.interface} in namespace ${ns}";
      bindsTo = [ "router-netns-${ns}.service" ];
      after = [ "router-netns-${ns}.service" ];
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        NetworkNamespacePath = "/run/netns/${ns}";
        ExecStart = "${pkgs.dhcpcd}/bin/dhcpcd --nobackground --config ${pkgs.writeText "dhcpcd-${ns}.conf" ''
          # Only the WAN's address and routes: Unbound resolves from the root, so resolv.conf
          # (shared with the main namespace) stays untouched.
          nohook resolv.conf
          option rapid_commit, interface_mtu
          require dhcp_server_identifier
        ''} ${cfg.wan.interface}";
        Restart = "always";
        RestartSec = "5s";
        StateDirectory = "dhcpcd";
        RuntimeDirectory = "dhcpcd";
      };
    };
    # dhcpcd drops privileges to this user (as nixpkgs' dhcpcd module sets it up).
    users.users.dhcpcd = { isSystemUser = true; group = "dhcpcd"; };
    users.groups.dhcpcd = { };
  };
}
