# What the router's modules (nix/router/*.nix) derive from services.unbound-sidecar.router:
# prefixes, the WAN-namespace transit link, the nftables ruleset. A plain function each of them
# imports, so every file can be read on its own; the arithmetic lives in nix/lib (pure, tested
# in CI without nixpkgs).
{ config, lib, utils }:
let
  cfg = config.services.unbound-sidecar.router;
  net = import ../lib/net.nix;
  ns = cfg.wan.namespace;
  vpn = cfg.vpn;

  lan4 = net.ipv4Network cfg.lan.ipv4.address cfg.lan.ipv4.prefixLength;
  lan6 = if cfg.lan.ipv6 == null then null else net.ipv6Network cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength;
  # First four hextets of the LAN prefix: its first /64, for the DHCPv6 pool and the RA prefix.
  lan6Head = if cfg.lan.ipv6 == null then null else net.ipv6Head64 (lib.head (lib.splitString "/" lan6));

  # The link between the main namespace and the WAN namespace (double NAT: the main namespace
  # masquerades to main4/main6, the WAN namespace to the ISP's address). Its IPv6 /64 is a subnet
  # of the LAN's ULA site outside the LAN prefix (net.transit6Subnet); when there is none, the
  # router's assertion (net.transitProblem) fails the build and the LAN's head stands in here.
  transit6 =
    if cfg.lan.ipv6 == null then "fd00:0:0:ffff"
    else let t = net.transit6Subnet cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength; in if t != null then t else lan6Head;
  link = {
    main = "wanlink0";
    ns = "wanlink1";
    main4 = net.transit4.main;
    ns4 = net.transit4.ns;
    prefixLength4 = net.transit4.prefixLength;
    main6 = "${transit6}::1";
    ns6 = "${transit6}::2";
  };

  # The sidecar's lists whose sets live in the router's table: declared there (so an nftables
  # reload re-creates them empty and the sidecar refills them) and used to mark traffic.
  sidecarLists = config.services.unbound-sidecar.settings.lists;
  ourLists = lib.filter (l: l.nft.table == cfg.table && l.nft.family == "inet" && l.nft.netns == null) sidecarLists;
  setsOf = l:
    let
      via = cfg.routing.listVia.${l.name} or "vpn";
      set = name: family: timeout: lib.optional (name != null) { inherit name family via timeout; };
      learn = l.learn or null;
    in
    set l.nft.set4 "ipv4" false ++ set l.nft.set6 "ipv6" false
    # the learned sets (addresses with a TTL: `flags timeout`), lists[].learn.set4/set6
    ++ lib.optionals (learn != null) (set (learn.set4 or null) "ipv4" true ++ set (learn.set6 or null) "ipv6" true);

  ruleset = import ../lib/ruleset.nix {
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
in
{
  inherit cfg net ns vpn lan4 lan6 lan6Head link ruleset;
  # The systemd device unit of a network interface (what a unit binds to, to follow the NIC).
  deviceUnit = dev: "${utils.escapeSystemdPath "/sys/subsystem/net/devices/${dev}"}.device";
}
