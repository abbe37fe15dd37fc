# NixOS module: services.unbound-sidecar.router — the router from
# shared/reference/router-write-up.txt, declaratively (issue 6, item 3): interfaces named by MAC,
# forwarding, rp_filter, LAN addressing, Kea DHCP, RA, the nftables ruleset (nix/lib/ruleset.nix),
# NAT, fwmark policy routing and optional WireGuard with its socket in a WAN namespace.
# Imports the sidecar module; the sidecar's lists fill the sets the ruleset declares.
{ config, lib, pkgs, utils, ... }:
let
  inherit (lib) mkDefault mkIf mkMerge mkOption types;
  cfg = config.services.unbound-sidecar.router;
  net = import ./lib/net.nix;
  ns = cfg.wan.namespace;
  vpn = cfg.vpn;
  nft = "${pkgs.nftables}/bin/nft";
  ip = "${pkgs.iproute2}/bin/ip";

  lan4 = net.ipv4Network cfg.lan.ipv4.address cfg.lan.ipv4.prefixLength;
  lan6 = if cfg.lan.ipv6 == null then null else net.ipv6Network cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength;
  # First four hextets of the LAN's /64, for pools and the WAN-namespace transit link.
  lan6Head = if cfg.lan.ipv6 == null then null
    else lib.concatStringsSep ":" (lib.take 4 (lib.splitString ":" lan6));
  lan6Site = if lan6Head == null then null else lib.concatStringsSep ":" (lib.take 3 (lib.splitString ":" lan6Head));

  # The transit link between the main namespace and the WAN namespace (double NAT: the main
  # namespace masquerades to linkMain's address, the WAN namespace to the ISP's).
  link = {
    main = "wanlink0"; ns = "wanlink1";
    main4 = "100.64.255.1"; ns4 = "100.64.255.2";
    # subnet ffff of the LAN's ULA site, so no second prefix has to be invented
    main6 = "${lan6Site}:ffff::1"; ns6 = "${lan6Site}:ffff::2";
  };

  sidecarLists = config.services.unbound-sidecar.settings.lists;
  ourLists = lib.filter (l: l.nft.table == cfg.table && l.nft.family == "inet" && l.nft.netns == null) sidecarLists;
  setsOf = l:
    let via = cfg.routing.listVia.${l.name} or "vpn";
    in [ { name = l.nft.set4; family = "ipv4"; inherit via; } { name = l.nft.set6; family = "ipv6"; inherit via; } ]
      # issue 4's learned sets (addresses with a TTL) when the list names them
      ++ lib.optional (l.nft ? learned4) { name = l.nft.learned4; family = "ipv4"; inherit via; timeout = true; }
      ++ lib.optional (l.nft ? learned6) { name = l.nft.learned6; family = "ipv6"; inherit via; timeout = true; };

  rulesetSettings = {
    inherit (cfg) table;
    lan = {
      interfaces = [ cfg.lan.interface ];
      ipv4 = { inherit (cfg.lan.ipv4) address prefixLength; };
      ipv6 = if cfg.lan.ipv6 == null then null else { inherit (cfg.lan.ipv6) address prefixLength; };
    };
    wan = {
      inherit (cfg.wan) interface allowTcp allowUdp;
      namespace = if ns == null then null else { name = ns; linkMain = link.main; linkNs = link.ns; };
    };
    vpn = if !vpn.enable then null else { inherit (vpn) interface listenPort; };
    marks = { wan = cfg.routing.wanMark; vpn = cfg.routing.vpnMark; default = cfg.routing.default; };
    sets = lib.concatMap setsOf ourLists;
    clients = cfg.routing.clients;
    hardening = { inherit (cfg.hardening) icmpRate mssMin; };
  };
  ruleset = import ./lib/ruleset.nix rulesetSettings;
  deviceUnit = dev: "${utils.escapeSystemdPath "/sys/subsystem/net/devices/${dev}"}.device";

  macOption = description: mkOption { type = types.str; inherit description; example = "02:11:22:33:44:55"; };
  problems = lib.filter (p: p != null) ([
    (net.macProblem "services.unbound-sidecar.router.lan.mac" cfg.lan.mac)
    (net.macProblem "services.unbound-sidecar.router.wan.mac" cfg.wan.mac)
    (if cfg.wan.macAddress == null then null else net.macProblem "services.unbound-sidecar.router.wan.macAddress" cfg.wan.macAddress)
    (net.ifnameProblem "services.unbound-sidecar.router.lan.interface" cfg.lan.interface)
    (net.ifnameProblem "services.unbound-sidecar.router.wan.interface" cfg.wan.interface)
    (net.ipv4Problem "services.unbound-sidecar.router.lan.ipv4" cfg.lan.ipv4.address cfg.lan.ipv4.prefixLength)
    (if cfg.lan.ipv6 == null then null else net.ulaProblem "services.unbound-sidecar.router.lan.ipv6" cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength)
    (if cfg.lan.ipv6 != null && cfg.lan.ipv6.slaac && cfg.lan.ipv6.prefixLength != 64 then
      "services.unbound-sidecar.router.lan.ipv6: SLAAC needs a /64 (got /${toString cfg.lan.ipv6.prefixLength}); set slaac = false or use a /64" else null)
    (if cfg.dhcp.enable && cfg.dhcp.pool4 == null && cfg.lan.ipv4.prefixLength != 24 then
      "services.unbound-sidecar.router.dhcp.pool4 has a default only for a /24 LAN; set it, e.g. \"10.77.1.10 - 10.77.1.250\"" else null)
    (if ns != null && cfg.lan.ipv6 == null then
      "services.unbound-sidecar.router.wan.namespace: the transit link takes its IPv6 subnet from lan.ipv6, which is unset" else null)
  ]);
in
{
  imports = [ ./module.nix ];

  options.services.unbound-sidecar.router = {
    enable = lib.mkEnableOption "the companion router: interfaces, forwarding, DHCP, RA, nftables, policy routing, optional WireGuard";

    table = mkOption { type = types.str; default = "global"; description = "The inet table of the ruleset; lists with nft.table equal to it get their sets declared in it."; };

    lan = {
      interface = mkOption { type = types.str; default = "lan0"; };
      mac = macOption "Permanent MAC of the LAN NIC; the interface is renamed to lan.interface by it.";
      ipv4 = {
        address = mkOption { type = types.str; example = "10.77.0.1"; description = "The router's LAN address."; };
        prefixLength = mkOption { type = types.ints.between 8 30; default = 24; };
      };
      ipv6 = mkOption {
        default = null;
        description = "The router's ULA on the LAN (RFC 4193: fd + 40 random bits; generate one, don't use fd00::).";
        type = types.nullOr (types.submodule {
          options = {
            address = mkOption { type = types.str; example = "fd12:3456:789a::1"; };
            prefixLength = mkOption { type = types.ints.between 48 64; default = 64; };
            slaac = mkOption {
              type = types.bool; default = true;
              description = "Let hosts autoconfigure (AdvAutonomous). The write-up turned it off for DHCPv6-only, but Android has no DHCPv6 client.";
            };
          };
        });
      };
    };

    wan = {
      interface = mkOption { type = types.str; default = "wan0"; };
      mac = macOption "Permanent MAC of the WAN NIC; the interface is renamed to wan.interface by it.";
      macAddress = mkOption {
        type = types.nullOr types.str; default = null;
        description = "MAC to present to the ISP (some register the old router's). Must be unicast: an odd first octet is a multicast address the kernel refuses.";
      };
      namespace = mkOption {
        type = types.nullOr (types.strMatching "[a-z][a-z0-9_-]{0,14}"); default = null; example = "wan";
        description = ''
          Move the WAN interface (and its DHCP client) into this network namespace, reached from the
          main namespace over a veth pair. WireGuard then opens its socket there, so the tunnel's
          own packets can never be routed into the tunnel (the write-up's routing loop).
        '';
      };
      allowTcp = mkOption { type = types.listOf types.port; default = [ ]; description = "TCP ports open on the WAN."; };
      allowUdp = mkOption { type = types.listOf types.port; default = [ ]; description = "UDP ports open on the WAN."; };
    };

    dhcp = {
      enable = mkOption { type = types.bool; default = true; description = "Kea DHCPv4 (and DHCPv6 with lan.ipv6) on the LAN."; };
      pool4 = mkOption { type = types.nullOr types.str; default = null; example = "10.77.0.100 - 10.77.0.250"; description = "Defaults to .100 - .250 of a /24."; };
      pool6 = mkOption { type = types.nullOr types.str; default = null; description = "Defaults to <prefix>::1000 - <prefix>::ffff."; };
    };

    vpn = {
      enable = lib.mkEnableOption "a WireGuard tunnel (networking.wireguard) as the VPN route";
      interface = mkOption { type = types.str; default = "wg0"; };
      ips = mkOption { type = types.listOf types.str; default = [ ]; example = [ "10.66.0.2/32" "fd55:aaaa::2/128" ]; };
      privateKeyFile = mkOption { type = types.str; example = "/etc/nixos/wireguard_key"; };
      listenPort = mkOption { type = types.nullOr types.port; default = null; };
      peers = mkOption {
        type = types.listOf (types.attrsOf types.anything); default = [ ];
        description = "networking.wireguard peers; use allowedIPs = [ \"0.0.0.0/0\" \"::/0\" ] — the routes go to the VPN table, not the main one.";
      };
    };

    routing = {
      wanMark = mkOption { type = types.ints.between 1 255; default = 1; description = "fwmark and routing table of the WAN route (wan_table)."; };
      vpnMark = mkOption { type = types.ints.between 1 255; default = 2; description = "fwmark and routing table of the VPN route (vpn_table)."; };
      default = mkOption { type = types.enum [ "wan" "vpn" ]; default = if vpn.enable then "vpn" else "wan"; defaultText = "vpn when vpn.enable"; description = "Route for LAN traffic no rule picks."; };
      clients = mkOption {
        type = types.listOf (types.submodule { options = {
          address = mkOption { type = types.str; description = "A LAN address or prefix."; };
          via = mkOption { type = types.enum [ "wan" "vpn" ]; };
        }; });
        default = [ ]; example = [ { address = "10.77.0.50"; via = "wan"; } ];
        description = "Per-client route choice; destinations in the lists' sets override it.";
      };
      listVia = mkOption { type = types.attrsOf (types.enum [ "wan" "vpn" ]); default = { }; description = "Route for each sidecar list's set (default vpn)."; };
    };

    hardening = {
      icmpRate = mkOption { type = types.str; default = "5/second"; description = "ICMP rate limit on the WAN (nft limit syntax)."; };
      mssMin = mkOption { type = types.ints.between 1 1460; default = 501; description = "SYNs announcing a smaller MSS are dropped."; };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = map (message: { assertion = false; inherit message; }) problems;
      warnings = lib.optional (cfg.lan.ipv6 != null
        && net.ulaProblem "" cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength == null
        && net.ulaGlobalIdIsZero cfg.lan.ipv6.address)
        "services.unbound-sidecar.router.lan.ipv6: ${cfg.lan.ipv6.address} has a zero global ID; RFC 4193 §3.2 asks for 40 random bits after fd (`openssl rand -hex 5` gives them).";

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
        # Policy routing: LAN destinations always via main (so marked replies reach the LAN), then
        # the mark picks wan_table or vpn_table (the write-up's `ip rule add fwmark N table T`).
        routingPolicyRules = lib.optionals vpn.enable ([
          { To = lan4; Table = "main"; Priority = 100; }
        ] ++ lib.optional (lan6 != null) { To = lan6; Table = "main"; Priority = 100; } ++ [
          { FirewallMark = cfg.routing.wanMark; Table = cfg.routing.wanMark; Priority = 200; Family = "both"; }
          { FirewallMark = cfg.routing.vpnMark; Table = cfg.routing.vpnMark; Priority = 200; Family = "both"; }
        ]);
      };
      networking.iproute2 = {
        enable = true;
        rttablesExtraConfig = ''
          ${toString cfg.routing.wanMark} wan_table
          ${toString cfg.routing.vpnMark} vpn_table
        '';
      };

      # ---- nftables ----------------------------------------------------------------------------
      networking.firewall.enable = mkDefault false; # this ruleset is the firewall
      networking.nftables.enable = true;
      networking.nftables.tables.${cfg.table} = { inherit (ruleset.main.inet) family content; };

      # ---- DHCP (Kea) and router advertisements -------------------------------------------------
      services.kea.dhcp4 = mkIf cfg.dhcp.enable {
        enable = true;
        settings = {
          interfaces-config.interfaces = [ cfg.lan.interface ];
          lease-database = { type = "memfile"; persist = true; name = "/var/lib/kea/dhcp4.leases"; };
          valid-lifetime = 3600;
          subnet4 = [{
            id = 1;
            subnet = lan4;
            pools = [{ pool = if cfg.dhcp.pool4 != null then cfg.dhcp.pool4 else
              let p = lib.concatStringsSep "." (lib.take 3 (lib.splitString "." cfg.lan.ipv4.address)); in "${p}.100 - ${p}.250"; }];
            option-data = [
              { name = "routers"; data = cfg.lan.ipv4.address; }
              { name = "domain-name-servers"; data = cfg.lan.ipv4.address; }
            ];
          }];
        };
      };
      services.kea.dhcp6 = mkIf (cfg.dhcp.enable && cfg.lan.ipv6 != null) {
        enable = true;
        settings = {
          interfaces-config.interfaces = [ cfg.lan.interface ];
          lease-database = { type = "memfile"; persist = true; name = "/var/lib/kea/dhcp6.leases"; };
          preferred-lifetime = 3000;
          valid-lifetime = 4000;
          subnet6 = [{
            id = 1;
            # clients on the link reach us from link-local addresses: select the subnet by interface
            interface = cfg.lan.interface;
            subnet = lan6;
            pools = [{ pool = if cfg.dhcp.pool6 != null then cfg.dhcp.pool6 else "${lan6Head}::1000 - ${lan6Head}::ffff"; }];
            option-data = [ { name = "dns-servers"; data = cfg.lan.ipv6.address; } ];
          }];
        };
      };
      services.radvd = mkIf (cfg.lan.ipv6 != null) {
        enable = true;
        config = ''
          interface ${cfg.lan.interface} {
            AdvSendAdvert on;
            AdvManagedFlag ${if cfg.dhcp.enable then "on" else "off"};
            AdvOtherConfigFlag on;
            prefix ${lan6Head}::/64 {
              AdvOnLink on;
              AdvAutonomous ${if cfg.lan.ipv6.slaac then "on" else "off"};
            };
            RDNSS ${cfg.lan.ipv6.address} {
            };
          };
        '';
      };

      # ---- DNS: Unbound for the LAN, the sidecar for .local and the LAN's reverse zone ----------
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

      # ---- netdev ingress hardening, one unit per device ----------------------------------------
      # A netdev chain names its device: loading it before udev has renamed the NIC fails, and the
      # chain goes away with the device. So each device's table is loaded by a unit the device
      # itself pulls in, and re-loaded whenever nftables.service is (a `flush ruleset` removes it).
      systemd.services = lib.listToAttrs (map (t: lib.nameValuePair "nftables-ingress-${t.device}" {
        description = "nftables ingress hardening on ${t.device}";
        bindsTo = [ (deviceUnit t.device) ];
        after = [ (deviceUnit t.device) "nftables.service" ];
        wantedBy = [ (deviceUnit t.device) ];
        partOf = [ "nftables.service" ];
        unitConfig.ReloadPropagatedFrom = "nftables.service";
        serviceConfig = let file = pkgs.writeText "ingress-${t.device}.nft" t.text; in {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${nft} -f ${file}";
          ExecReload = "${nft} -f ${file}";
          ExecStop = "-${nft} delete table netdev ${t.name}";
        };
      }) ruleset.main.ingress);
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

    # ---- WAN in its own namespace (the write-up's "wan" netns) ----------------------------------
    (mkIf (ns != null) {
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
          ip -n ${ns} addr add ${link.ns4}/30 dev ${link.ns}
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
        address = [ "${link.main4}/30" "${link.main6}/64" ];
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
    })

    # ---- WireGuard: routes into vpn_table; the socket in the WAN namespace when there is one ----
    (mkIf vpn.enable {
      networking.wireguard.interfaces.${vpn.interface} = {
        inherit (vpn) ips privateKeyFile listenPort peers;
        table = toString cfg.routing.vpnMark;
        allowedIPsAsRoutes = true;
        socketNamespace = ns;
        interfaceNamespace = if ns == null then null else "init";
      };
      systemd.services."wireguard-${vpn.interface}" = mkIf (ns != null) {
        requires = [ "router-netns-${ns}.service" ];
        after = [ "router-netns-${ns}.service" ];
      };
    })
  ]);
}
