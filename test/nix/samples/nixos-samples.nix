# The NixOS configurations the module evaluations run against real nixpkgs
# (nix/tests/eval-upstream.nix, and through it flake.nix's checks.eval-modules):
#   name = {
#     module = "sidecar" | "router";          # nix/module.nix or nix/router.nix
#     config = a NixOS module;
#     fails = null | "regex";                 # an assertion message the sample must fail with
#     expect = summary: [ "what must hold" … ] # checks on what it produces (the harness's summary)
#   };
# The harness adds a root file system and no boot loader, so each sample is a whole system whose
# toplevel is instantiated (not built).
let
  lists = [{
    name = "vpn";
    refresh = "1h";
    sources = [
      { url = "https://reestr.rublacklist.net/api/v3/ips/"; format = "json"; contains = "ips"; }
      { url = "https://reestr.rublacklist.net/api/v3/domains/"; format = "json"; contains = "domains"; }
    ];
    nft = { table = "global"; set4 = "force_vpn4"; set6 = "force_vpn6"; };
    learn = { set4 = "learned_vpn4"; set6 = "learned_vpn6"; };
  }];
  has = needle: hay: builtins.match ".*${needle}.*" hay != null;
  routerBase = {
    services.unbound-sidecar.router = {
      enable = true;
      lan = { mac = "aa:bb:cc:00:00:01"; ipv4.address = "10.77.0.1"; ipv6.address = "fd01:2345:6789::1"; };
      wan = { mac = "aa:bb:cc:00:00:02"; };
    };
  };
  wireguard = {
    enable = true;
    ips = [ "10.66.0.2/32" "fd55:aaaa::2/128" ];
    privateKeyFile = "/etc/nixos/wireguard_key";
    listenPort = 51820;
    peers = [{
      publicKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
      endpoint = "198.51.100.1:51820";
      allowedIPs = [ "0.0.0.0/0" "::/0" ];
    }];
  };
in
{
  sidecar-defaults = {
    module = "sidecar";
    config.services.unbound-sidecar.enable = true;
    expect = r: [
      { what = "Unbound and Avahi are enabled"; ok = r.unbound.enable && r.avahi.enable; }
      { what = "Unbound forwards local. to the sidecar"; ok = has "127.0.0.1@5335" (builtins.toJSON r.unbound.settings.forward-zone); }
      { what = "no Group= without dnstap"; ok = !(r.sidecar.serviceConfig ? Group); }
      { what = "Type=notify with the repo unit's NotifyAccess and watchdog"; ok = r.sidecar.serviceConfig.Type == "notify" && r.sidecar.serviceConfig.NotifyAccess == "main" && r.sidecar.serviceConfig.WatchdogSec == "30s"; }
      { what = "no nulls or empty lists in the daemon's JSON"; ok = !(has "null" (builtins.toJSON r.sidecar.config)) && !(r.sidecar.config ? lists); }
      { what = "an empty capability bounding set (an empty list would keep the full one)"; ok = r.sidecar.serviceConfig.CapabilityBoundingSet == ""; }
      { what = "no front block, PrivateUsers without the front"; ok = !(r.sidecar.config ? front) && r.sidecar.serviceConfig.PrivateUsers; }
    ];
  };

  # README: the sidecar alone.
  sidecar-readme = {
    module = "sidecar";
    config = ./nixos-sidecar.nix;
    expect = r: [
      { what = "the reverse zone is transparent"; ok = builtins.elem ''"77.10.in-addr.arpa." transparent'' r.unbound.settings.server.local-zone; }
    ];
  };

  sidecar-lists-dnstap = {
    module = "sidecar";
    config.services.unbound-sidecar = {
      enable = true;
      settings = {
        inherit lists;
        dnstap = { };
      };
    };
    expect = r: [
      { what = "an Unbound built with dnstap, and its dnstap block"; ok = r.unbound.dnstapBuild && r.unbound.settings ? dnstap; }
      { what = "the socket's group is Unbound's"; ok = r.sidecar.serviceConfig.Group or null == "unbound"; }
      { what = "CAP_NET_ADMIN for the lists"; ok = r.sidecar.serviceConfig.AmbientCapabilities == [ "CAP_NET_ADMIN" ]; }
      { what = "unset nft.netns is left out of the JSON"; ok = !(has "netns" (builtins.toJSON r.sidecar.config)); }
    ];
  };

  # Your own Unbound: the module leaves services.unbound alone; you enable it and add the
  # forward zones (`unbound-sidecar render unbound`) and the dnstap block yourself.
  sidecar-own-unbound = {
    module = "sidecar";
    config = {
      services.unbound-sidecar = { enable = true; configureUnbound = false; settings.dnstap = { }; };
      services.unbound.enable = true;
    };
    expect = r: [
      { what = "the module adds nothing to Unbound"; ok = !(r.unbound.settings ? forward-zone) && !(r.unbound.settings ? dnstap); }
      { what = "the socket's group is the enabled Unbound's"; ok = r.sidecar.serviceConfig.Group or null == "unbound"; }
    ];
  };

  sidecar-dnstap-group = {
    module = "sidecar";
    config = {
      services.unbound-sidecar = { enable = true; configureUnbound = false; dnstapGroup = "dnstap"; settings.dnstap = { }; };
      users.groups.dnstap = { };
    };
    expect = r: [
      { what = "Unbound is not enabled"; ok = !r.unbound.enable; }
      { what = "Group= is the configured group"; ok = r.sidecar.serviceConfig.Group or null == "dnstap"; }
    ];
  };

  # A past bug: dnstap with configureUnbound = false and no Unbound here.
  sidecar-dnstap-without-unbound = {
    module = "sidecar";
    config.services.unbound-sidecar = { enable = true; configureUnbound = false; settings.dnstap = { }; };
    fails = "services.unbound-sidecar.settings.dnstap is set, but services.unbound is not enabled.*";
    expect = r: [
      { what = "no Group=unbound for a group that does not exist"; ok = !(r.sidecar.serviceConfig ? Group); }
    ];
  };

  sidecar-dnstap-undeclared-group = {
    module = "sidecar";
    config.services.unbound-sidecar = { enable = true; configureUnbound = false; dnstapGroup = "nosuch"; settings.dnstap = { }; };
    fails = ''services.unbound-sidecar.dnstapGroup: group "nosuch" is not declared in users.groups.*'';
  };

  # README: the DNS front beside the sidecar alone.
  sidecar-front = {
    module = "sidecar";
    config = ./nixos-front.nix;
    expect = r: let sc = r.sidecar.serviceConfig; u = r.unbound.settings.server; in [
      { what = "the daemon's front block"; ok = r.sidecar.config.front == {
          listen = [ "10.77.0.1:53" "[fd01:2345:6789::1]:53" ]; upstream = "127.0.0.1:5301"; proxyProtocol = true;
          allow = [ "10.77.0.0/24" "fd01:2345:6789::/64" ]; insertDeadlineMs = 50; failClosed = false; maxInflight = 2048; }; }
      { what = "Unbound on loopback plus its proxy-protocol interface"; ok = u.interface == [ "127.0.0.1" "::1" "127.0.0.1@5301" ] && u.proxy-protocol-port == 5301; }
      { what = "Unbound's access-control admits the LAN by prefix"; ok = builtins.elem "10.77.0.0/24 allow" u.access-control && builtins.elem "127.0.0.0/8 allow" u.access-control; }
      { what = "CAP_NET_BIND_SERVICE, ambient and bounding, and nothing else without lists"; ok = sc.AmbientCapabilities == [ "CAP_NET_BIND_SERVICE" ] && sc.CapabilityBoundingSet == [ "CAP_NET_BIND_SERVICE" ]; }
      { what = "no private user namespace (the capability must count against the host's ports)"; ok = sc.PrivateUsers == false; }
      { what = "the front's clients pass IPAddressAllow"; ok = builtins.elem "10.77.0.0/24" sc.IPAddressAllow && sc.IPAddressDeny == "any"; }
      { what = "ordered after Unbound and network-online.target"; ok = builtins.elem "unbound.service" r.sidecar.service.after && builtins.elem "network-online.target" r.sidecar.service.after && builtins.elem "network-online.target" r.sidecar.service.wants; }
    ];
  };

  sidecar-front-unbound-clash = {
    module = "sidecar";
    config = { imports = [ ./nixos-front.nix ]; services.unbound.settings.server.interface = [ "10.77.0.1" ]; };
    fails = ''services.unbound-sidecar.front.listen: 10.77.0.1 port 53 is also Unbound's interface "10.77.0.1".*'';
  };

  sidecar-front-no-allow = {
    module = "sidecar";
    config.services.unbound-sidecar = { enable = true; front = { enable = true; listen = [ "10.77.0.1:53" ]; }; };
    fails = "services.unbound-sidecar.front.allow: name the client prefixes.*";
  };

  # README: the whole router, WireGuard with its socket in the WAN namespace.
  router-readme = {
    module = "router";
    config = ./nixos-router.nix;
    expect = r: [
      { what = "WireGuard's socket in the WAN namespace"; ok = has ''ip netns exec "wan"'' r.router.services."wireguard-wg0".script; }
      { what = "transit link in subnet ffff"; ok = has "fd01:2345:6789:ffff::1/64" r.router.networkd."20-wanlink0.network"; }
      { what = "fwmark rules"; ok = has "FirewallMark=2" r.router.networkd."20-lan0.network"; }
      { what = "Kea DHCPv4 and v6"; ok = r.router.kea.dhcp4 != null && r.router.kea.dhcp6 != null; }
      { what = "radvd"; ok = has "prefix fd01:2345:6789:0::/64" r.router.radvd; }
      { what = "the list's sets are in the ruleset"; ok = has "set force_vpn4" r.router.nftables.tables.global.content; }
      { what = "the netns ruleset is loaded in the namespace"; ok = has "ip netns exec wan nft -f" r.router.services.router-netns-wan.script; }
      { what = "the front on the LAN addresses, port 53"; ok = r.sidecar.config.front.listen == [ "10.77.0.1:53" "[fd01:2345:6789::1]:53" ] && r.sidecar.config.front.allow == [ "10.77.0.0/24" "fd01:2345:6789:0:0:0:0:0/64" ]; }
      { what = "Unbound off the LAN addresses, on 127.0.0.1@5301 with proxy-protocol-port"; ok = r.unbound.settings.server.interface == [ "127.0.0.1" "::1" "127.0.0.1@5301" ] && r.unbound.settings.server.proxy-protocol-port == 5301; }
      { what = "Unbound's access-control admits the LAN prefixes"; ok = builtins.elem "10.77.0.0/24 allow" r.unbound.settings.server.access-control && builtins.elem "fd01:2345:6789:0:0:0:0:0/64 allow" r.unbound.settings.server.access-control; }
      { what = "clients keep the router's address as their resolver (DHCPv4, DHCPv6, RA)"; ok = builtins.elem { name = "domain-name-servers"; data = "10.77.0.1"; } (builtins.head r.router.kea.dhcp4.subnet4).option-data
          && builtins.elem { name = "dns-servers"; data = "fd01:2345:6789::1"; } (builtins.head r.router.kea.dhcp6.subnet6).option-data && has "RDNSS fd01:2345:6789::1" r.router.radvd; }
      { what = "CAP_NET_BIND_SERVICE next to CAP_NET_ADMIN"; ok = r.sidecar.serviceConfig.AmbientCapabilities == [ "CAP_NET_ADMIN" "CAP_NET_BIND_SERVICE" ]; }
      { what = "the front may bind before networkd has the LAN addresses"; ok = r.router.sysctl."net.ipv4.ip_nonlocal_bind" == 1 && r.router.sysctl."net.ipv6.ip_nonlocal_bind" == 1; }
      { what = "vpn_table ends in unreachable default (v4 and v6)"; ok = has "Type=unreachable[^[]*Destination=0.0.0.0/0" r.router.networkd."20-lan0.network"
          || has "Destination=0.0.0.0/0[^[]*Type=unreachable" r.router.networkd."20-lan0.network"; }
      { what = "the guard's IPv6 route"; ok = has "Destination=::/0" r.router.networkd."20-lan0.network" && has "Metric=4294967295" r.router.networkd."20-lan0.network"; }
    ];
  };

  # The older layout: Unbound itself on the LAN addresses; WAN fallback allowed.
  router-no-front = {
    module = "router";
    config = {
      imports = [ routerBase ];
      services.unbound-sidecar.front.enable = false;
      services.unbound-sidecar.router.vpn = wireguard // { allowWanFallback = true; };
    };
    expect = r: [
      { what = "Unbound on the LAN addresses, no proxy-protocol-port"; ok = builtins.elem "10.77.0.1" r.unbound.settings.server.interface && !(r.unbound.settings.server ? proxy-protocol-port); }
      { what = "no front block, no CAP_NET_BIND_SERVICE"; ok = !(r.sidecar.config ? front) && !(builtins.elem "CAP_NET_BIND_SERVICE" r.sidecar.serviceConfig.AmbientCapabilities); }
      { what = "no nonlocal-bind sysctl"; ok = !(r.router.sysctl ? "net.ipv4.ip_nonlocal_bind"); }
      { what = "fwmark rules, but no unreachable route with allowWanFallback"; ok = has "FirewallMark=2" r.router.networkd."20-lan0.network" && !(has "unreachable" r.router.networkd."20-lan0.network"); }
    ];
  };

  router-plain = {
    module = "router";
    config = routerBase;
    expect = r: [
      { what = "WAN by networkd DHCP in the main namespace"; ok = r.router.networkd ? "20-wan0.network" && has "DHCP=yes" r.router.networkd."20-wan0.network"; }
      { what = "no WireGuard, no namespace"; ok = r.router.wireguard == { } && !(r.router.services ? router-netns-wan); }
      { what = "netdev hardening on both NICs"; ok = r.router.services ? nftables-ingress-lan0 && r.router.services ? nftables-ingress-wan0; }
    ];
  };

  router-vpn = {
    module = "router";
    config = {
      imports = [ routerBase ];
      services.unbound-sidecar.router.vpn = wireguard;
      services.unbound-sidecar.settings = { inherit lists; dnstap = { }; };
    };
    expect = r: [
      { what = "WireGuard routes into vpn_table"; ok = r.router.wireguard.wg0.table == "2"; }
      { what = "learned sets declared with timeouts"; ok = has "set learned_vpn4 [{][^}]*flags timeout" r.router.nftables.tables.global.content; }
      { what = "WAN gateways copied to wan_table"; ok = has "Table=1" r.router.networkd."20-wan0.network"; }
    ];
  };

  router-namespace-no-vpn = {
    module = "router";
    config = { imports = [ routerBase ]; services.unbound-sidecar.router.wan.namespace = "wan"; };
    expect = r: [
      { what = "no WireGuard"; ok = r.router.wireguard == { }; }
      { what = "the WAN's DHCP client runs in the namespace"; ok = r.router.services.router-wan-dhcp.serviceConfig.NetworkNamespacePath == "/run/netns/wan"; }
    ];
  };

  # A past bug: a /48 LAN is the whole ULA site; the transit /64 cannot be taken from it.
  router-ula48-namespace = {
    module = "router";
    config = {
      imports = [ routerBase ];
      services.unbound-sidecar.router = { lan.ipv6 = { prefixLength = 48; slaac = false; }; wan.namespace = "wan"; };
    };
    fails = ".*is the whole ULA site [(]/48[)], so there is no /64 left in it.*";
  };

  # ... and a LAN that holds subnet ffff gets the transit link in subnet 0 instead.
  router-ula-ffff-namespace = {
    module = "router";
    config = { lib, ... }: {
      imports = [ routerBase ];
      services.unbound-sidecar.router = { lan.ipv6.address = lib.mkForce "fd01:2345:6789:ffff::1"; wan.namespace = "wan"; };
    };
    expect = r: [
      { what = "transit link in subnet 0"; ok = has "fd01:2345:6789:0::1/64" r.router.networkd."20-wanlink0.network"; }
    ];
  };

  router-multicast-mac = {
    module = "router";
    config = { imports = [ routerBase ]; services.unbound-sidecar.router.wan.macAddress = "11:22:33:44:55:66"; };
    fails = ".*11:22:33:44:55:66 is a multicast MAC address.*";
  };
}
