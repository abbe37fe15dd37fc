# settings -> nftables text for the router. A pure function, builtins only, so
# CI renders it with a bare `nix-instantiate --eval --strict --json` and checks it with `nft -c`
# in a throwaway namespace (test/nix/nix-render.test.ts) — no nixpkgs needed.
#
# It follows the router write-up (shared/reference/router-write-up.txt) with its gaps closed:
#   * netdev ingress hardening goes in one table *per device*, loaded by a unit bound to that
#     device: a netdev chain naming a missing device makes the whole `nft -f` transaction fail,
#     and a device that disappears (or moves to the WAN namespace) takes its chain with it.
#   * DHCP and DAD packets come from addresses with no route back (0.0.0.0, ::, a server before we
#     hold a lease); they are exempt from the `fib saddr . iif oif missing` check, which would
#     otherwise break both Kea on the LAN and the DHCP client on the WAN.
#   * WAN ICMPv6 rate limits spare neighbour discovery and router adverts, without which IPv6 on
#     the WAN stops working under load; `fib daddr type` lets broadcast/multicast through too
#     (DHCP offers and RAs are not addressed to a local unicast address).
#   * The mark is restored from `ct mark` on *every* interface, so rp_filter=1 with
#     src_valid_mark=1 validates VPN replies against the VPN table; LAN destinations are routed
#     by `ip rule to <lan> lookup main` (nix/router/interfaces.nix), so marked replies still reach the LAN.
#
# Output: { main = { inet; ingress; text; }; wanNamespace = null | { inet; ingress; text; }; }
# where inet is { family; name; content; } (the shape of networking.nftables.tables.<name>) and
# ingress is a list of { device; family; name; content; text; }. Every `text` is a file for
# `nft -f` / `nft -c` that replaces its tables atomically (create, delete, re-create), so loading
# it again is a reload.
settings:
let
  inherit (builtins) concatStringsSep filter length map match toString;

  s = {
    table = "global";
    lan = { interfaces = [ "lan0" ]; ipv4 = null; ipv6 = null; };
    wan = { interface = "wan0"; namespace = null; allowTcp = [ ]; allowUdp = [ ]; };
    vpn = null;
    marks = { wan = 1; vpn = 2; default = "vpn"; };
    sets = [ ];
    clients = [ ];
  } // settings;
  hard = { icmpRate = "5/second"; mssMin = 501; } // (settings.hardening or { });
  lan = { ipv4 = null; ipv6 = null; } // s.lan;
  wan = { namespace = null; allowTcp = [ ]; allowUdp = [ ]; } // s.wan;
  net = import ./net.nix;

  q = name: ''"${name}"'';
  anyOf = names: if length names == 1 then q (builtins.head names) else "{ ${concatStringsSep ", " (map q names)} }";
  ports = ps: if length ps == 1 then toString (builtins.head ps) else "{ ${concatStringsSep ", " (map toString ps)} }";
  lines = ls: concatStringsSep "\n" (filter (l: l != null && l != "") ls);
  optional = cond: l: if cond then l else null;
  indent = prefix: text: concatStringsSep "\n" (map (l: if l == "" then l else prefix + l)
    (filter builtins.isString (builtins.split "\n" text)));

  lan4 = if lan.ipv4 == null then null else net.ipv4Network lan.ipv4.address lan.ipv4.prefixLength;
  lan6 = if lan.ipv6 == null then null else net.ipv6Network lan.ipv6.address lan.ipv6.prefixLength;
  routerAddrs4 = if lan.ipv4 == null then [ ] else [ lan.ipv4.address ];
  routerAddrs6 = if lan.ipv6 == null then [ ] else [ lan.ipv6.address ];

  # In the namespace variant the main namespace reaches the internet through a veth to the WAN
  # namespace; otherwise through the WAN interface itself.
  uplink = if wan.namespace == null then wan.interface else wan.namespace.linkMain;
  vpnIf = if s.vpn == null then null else s.vpn.interface;
  egress = [ uplink ] ++ (if vpnIf == null then [ ] else [ vpnIf ]);
  markOf = via: if via == "wan" then s.marks.wan else s.marks.vpn;

  table = family: name: content: { inherit family name content; };
  asFile = t: ''
    table ${t.family} ${t.name} {}
    delete table ${t.family} ${t.name}
    table ${t.family} ${t.name} {
    ${indent "  " t.content}
    }
  '';

  # ---- netdev ingress: runs before conntrack, routing and every inet chain ----------------------
  ingressTable = { device, physicalWan, spoofed4, spoofed6 }: table "netdev" "ingress_${device}" (lines [
    "chain ingress {"
    "  type filter hook ingress device ${q device} priority -500; policy accept;"
    "  # TCP flag combinations no stack sends: SYN+FIN, SYN+RST, XMAS, NULL"
    "  tcp flags & (fin|syn) == (fin|syn) drop"
    "  tcp flags & (syn|rst) == (syn|rst) drop"
    "  tcp flags & (fin|syn|rst|psh|ack|urg) == (fin|syn|rst|psh|ack|urg) drop"
    "  tcp flags & (fin|syn|rst|psh|ack|urg) == 0x0 drop"
    "  # a SYN announcing a tiny MSS makes us send a flood of small segments"
    "  tcp flags & (syn|ack) == syn tcp option maxseg size 0-${toString (hard.mssMin - 1)} drop"
    (optional (spoofed4 != [ ]) "  # nobody outside may claim the router's (or, from the WAN, the LAN's) addresses")
    (optional (spoofed4 != [ ]) "  ip saddr { ${concatStringsSep ", " spoofed4} } drop")
    (optional (spoofed6 != [ ]) "  ip6 saddr { ${concatStringsSep ", " spoofed6} } drop")
    (optional physicalWan "  # WAN: ICMP is rate limited; neighbour discovery and RAs are not (IPv6 needs them)")
    (optional physicalWan "  icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept")
    (optional physicalWan "  ip protocol icmp limit rate ${hard.icmpRate} accept")
    (optional physicalWan "  ip protocol icmp counter drop")
    (optional physicalWan "  meta l4proto ipv6-icmp limit rate ${hard.icmpRate} accept")
    (optional physicalWan "  meta l4proto ipv6-icmp counter drop")
    "  # DHCP and DAD come from 0.0.0.0/:: or from a server we have no route to yet: no reverse path"
    (if physicalWan then "  udp sport { 67, 547 } udp dport { 68, 546 } accept"
     else "  udp sport { 68, 546 } udp dport { 67, 547 } accept")
    "  ip6 saddr :: accept"
    "  # strict reverse path (rp_filter does not exist for IPv6): drop what arrives on the wrong interface"
    "  fib saddr . iif oif missing drop"
    (optional physicalWan "  # from the WAN, accept only what is addressed to us (forwarded LAN traffic comes back de-NATed)")
    (optional physicalWan "  fib daddr . iif type != { local, broadcast, multicast } drop")
    "}"
  ]);

  wanSpoofed4 = (if lan4 == null then [ ] else [ lan4 ]) ++ [ "127.0.0.0/8" ];
  wanSpoofed6 = (if lan6 == null then [ ] else [ lan6 ]) ++ [ "::1" ];

  # ---- inet input chains shared by both namespaces --------------------------------------------
  wanInput = { physical, extraUdp }: lines [
    "chain input_wan {"
    "  icmp type { destination-unreachable, echo-request, time-exceeded, parameter-problem } accept"
    "  icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, echo-request, nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept"
    (optional physical "  # DHCP replies are broadcast (v4) or answer a multicast solicit (v6): conntrack cannot match them")
    (optional physical "  udp sport 67 udp dport 68 accept")
    (optional physical "  udp sport 547 udp dport 546 accept")
    (optional (wan.allowTcp != [ ]) "  tcp dport ${ports wan.allowTcp} accept")
    (optional (wan.allowUdp ++ extraUdp != [ ]) "  udp dport ${ports (wan.allowUdp ++ extraUdp)} accept")
    "}"
  ];
  stateful = [
    "  ct state vmap { established : accept, related : accept, invalid : drop }"
    "  # a new TCP connection starts with a SYN; anything else is a scan or a stale flow"
    "  ct state new tcp flags & syn != syn drop"
  ];

  # ---- the main namespace ---------------------------------------------------------------------
  mainInet = table "inet" s.table (lines ([
    "# Sets the sidecar fills (lists[].nft.set4/set6); declared here, so an nftables reload"
    "# re-creates them empty and the sidecar refills them."
  ] ++ map (set: lines [
    "set ${set.name} {"
    "  type ${if set.family == "ipv6" then "ipv6_addr" else "ipv4_addr"}"
    "  flags ${if set.timeout or false then "timeout" else "interval"}"
    "}"
  ]) s.sets ++ [
    ""
    "chain input {"
    "  type filter hook input priority filter; policy drop;"
  ] ++ stateful ++ [
    "  iifname \"lo\" accept"
    "  iifname ${anyOf lan.interfaces} jump input_lan"
    "  iifname ${anyOf egress} jump input_wan"
    "}"
    "chain input_lan {"
    "  # the LAN is trusted (as in the write-up); DNS, DHCP, mDNS and SSH all arrive here"
    "  accept"
    "}"
    (wanInput { physical = wan.namespace == null; extraUdp = [ ]; })
    ""
    "chain forward {"
    "  type filter hook forward priority filter; policy drop;"
  ] ++ stateful ++ [
    "  iifname ${anyOf lan.interfaces} oifname ${anyOf (egress ++ lan.interfaces)} accept"
    "}"
    ""
  ] ++ (if vpnIf == null then [ ] else [
    "# Route choice: mark 0x${toString s.marks.wan} = WAN (table ${toString s.marks.wan}), mark 0x${toString s.marks.vpn} = VPN (table ${toString s.marks.vpn})."
    "# The first packet of a connection decides; the mark lives in ct mark after that."
    "chain prerouting {"
    "  type filter hook prerouting priority mangle; policy accept;"
    "  meta mark set ct mark"
    "  meta mark != 0x0 accept"
    "  iifname != ${anyOf lan.interfaces} accept"
    "  meta mark set ${toString (markOf s.marks.default)}"
  ] ++ map (c: "  ${if match ".*:.*" c.address != null then "ip6" else "ip"} saddr ${c.address} meta mark set ${toString (markOf c.via)}") s.clients
    ++ map (set: "  ${if set.family == "ipv6" then "ip6" else "ip"} daddr @${set.name} meta mark set ${toString (markOf (set.via or "vpn"))}") s.sets
    ++ [
    "  ct mark set meta mark"
    "}"
    ""
  ]) ++ [
    "chain postrouting {"
    "  type nat hook postrouting priority srcnat; policy accept;"
    (optional (lan4 != null) "  ip saddr ${lan4} oifname ${anyOf egress} masquerade")
    (optional (lan6 != null) "  # ULA addresses do not route on the internet: NAT66, as in the write-up")
    (optional (lan6 != null) "  ip6 saddr ${lan6} oifname ${anyOf egress} masquerade")
    "}"
  ]));

  withText = t: t // { text = asFile t; };
  mainIngress = map (dev: withText ({ device = dev; } // ingressTable {
    device = dev; physicalWan = false;
    spoofed4 = routerAddrs4; spoofed6 = routerAddrs6;
  })) lan.interfaces
  ++ (if wan.namespace != null then [ ] else [
    (withText ({ device = wan.interface; } // ingressTable {
      device = wan.interface; physicalWan = true;
      spoofed4 = wanSpoofed4; spoofed6 = wanSpoofed6;
    }))
  ]);

  # ---- the WAN namespace (only with wan.namespace) ----------------------------------------------
  ns = wan.namespace;
  nsInet = table "inet" "wan" (lines ([
    "chain input {"
    "  type filter hook input priority filter; policy drop;"
  ] ++ stateful ++ [
    "  iifname { \"lo\", ${q ns.linkNs} } accept"
    "  iifname ${q wan.interface} jump input_wan"
    "}"
    (wanInput { physical = true; extraUdp = if s.vpn != null && (s.vpn.listenPort or null) != null then [ s.vpn.listenPort ] else [ ]; })
    "chain forward {"
    "  type filter hook forward priority filter; policy drop;"
  ] ++ stateful ++ [
    "  iifname ${q ns.linkNs} oifname ${q wan.interface} accept"
    "}"
    "chain postrouting {"
    "  type nat hook postrouting priority srcnat; policy accept;"
    "  oifname ${q wan.interface} masquerade"
    "}"
  ]));
  nsIngress = [
    (withText ({ device = wan.interface; } // ingressTable {
      device = wan.interface; physicalWan = true;
      spoofed4 = wanSpoofed4; spoofed6 = wanSpoofed6;
    }))
  ];

  bundle = inet: ingress: {
    inherit inet ingress;
    text = concatStringsSep "\n" (map asFile ([ inet ] ++ ingress));
  };
in
{
  main = bundle mainInet mainIngress;
  wanNamespace = if ns == null then null else bundle nsInet nsIngress;
  # What the router modules (nix/router/) need to agree with: exposed so it is computed once.
  inherit uplink;
}
