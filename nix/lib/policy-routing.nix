# The router's policy routing (the write-up's `ip rule add fwmark N table T`), as data: rules and
# routes, rendered for systemd-networkd (nix/router/interfaces.nix) and as `ip` arguments (the
# namespace test in test/nix/policy-routing.test.ts applies those with the real iproute2).
# builtins only, so CI evaluates it without nixpkgs.
#
#   lan4, lan6       : the LAN prefixes (lan6 may be null); routed by main whatever the mark, so
#                      replies to marked connections reach the LAN
#   marks            : { wan; vpn; } — each mark's routing table has the same number
#   allowWanFallback : false = the VPN table ends in `unreachable default`
#
# Why the guard: WireGuard's routes in the VPN table exist only while its interface does. With
# the tunnel down the table is empty, an empty table is "no match" (fib_rules.c: the lookup goes
# on to the next rule), and the next rule is main, whose default route is the WAN — so traffic the
# lists mark for the VPN would leave, unencrypted, by the WAN. A route of type unreachable is a
# match: the lookup ends there with EHOSTUNREACH (ip-route(8), "unreachable"; the sender gets an
# ICMP host unreachable). Its metric is the largest there is, so any route WireGuard adds
# (`ip route replace 0.0.0.0/0 dev wg0 table N`, metric 0; IPv6 1024) wins while it exists.
{ lan4, lan6 ? null, marks, allowWanFallback ? false }:
let
  inherit (builtins) concatLists map toString;
  guardMetric = 4294967295;

  rules =
    [ { to = lan4; table = "main"; priority = 100; family = "ipv4"; } ]
    ++ (if lan6 == null then [ ] else [ { to = lan6; table = "main"; priority = 100; family = "ipv6"; } ])
    ++ [
      { fwmark = marks.wan; table = marks.wan; priority = 200; family = "both"; }
      { fwmark = marks.vpn; table = marks.vpn; priority = 200; family = "both"; }
    ];

  routes = if allowWanFallback then [ ] else [
    { family = "ipv4"; type = "unreachable"; destination = "0.0.0.0/0"; table = marks.vpn; metric = guardMetric; }
    { family = "ipv6"; type = "unreachable"; destination = "::/0"; table = marks.vpn; metric = guardMetric; }
  ];

  families = f: if f == "both" then [ "-4" "-6" ] else if f == "ipv6" then [ "-6" ] else [ "-4" ];
in
{
  inherit rules routes guardMetric;

  # systemd.network.networks.<lan>.routingPolicyRules / .routes (systemd.network(5): [RoutingPolicyRule], [Route]).
  networkd = {
    routingPolicyRules = map (r:
      (if r ? to then { To = r.to; } else { FirewallMark = r.fwmark; Family = r.family; })
      // { Table = r.table; Priority = r.priority; }) rules;
    routes = map (r: { Type = r.type; Destination = r.destination; Table = r.table; Metric = r.metric; }) routes;
  };

  # The same as `ip` argument lists, rules first.
  ipCommands =
    concatLists (map (r: map (f: [ f "rule" "add" "priority" (toString r.priority) ]
      ++ (if r ? to then [ "to" r.to ] else [ "fwmark" (toString r.fwmark) ])
      ++ [ "table" (toString r.table) ]) (families r.family)) rules)
    ++ map (r: [ (if r.family == "ipv6" then "-6" else "-4") "route" "add" r.type "default"
      "table" (toString r.table) "metric" (toString r.metric) ]) routes;
}
