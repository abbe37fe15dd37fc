# sidecar settings -> the `services.unbound.settings` fragment that forwards the sidecar's zones
# to it. Pure (builtins only) so CI can render it without nixpkgs and feed it to
# unbound-checkconf (test/nix/nix-render.test.ts). It is the Nix twin of src/cli/render-unbound.ts —
# `unbound-sidecar render unbound` — and must say the same thing.
#
# Values are strings exactly as unbound.conf wants them: the nixpkgs module writes strings
# verbatim (`name: value`), so quoted names carry their quotes here.
{
  zones ? [ "local." ],
  listen ? [ "127.0.0.1:5335" ],
  # null, or the unix socket the sidecar reads dnstap from.
  dnstapSocket ? null,
  # null, or the DNS front in front of Unbound: { port; allow; ipv6 ? true; } — Unbound then
  # listens on loopback only (the router itself, the sidecar's own `resolve` upstream) plus
  # 127.0.0.1@port, where every query carries a PROXYv2 header naming the real client.
  front ? null,
}:
let
  inherit (builtins) elem filter genList head match length map toString;
  nonEmpty = name: list: if list == [ ] then { } else { ${name} = list; };

  withDot = z: if match ".*\\." z != null then z else "${z}.";
  zs = map withDot zones;
  isReverse = z: match ".*\\.(in-addr|ip6)\\.arpa\\." z != null;

  # Unbound's built-in local zones for private/special reverse ranges (unbound.conf(5),
  # "local-zone" defaults). `nodefault` removes one of these only when named exactly; on a
  # subzone (77.10.in-addr.arpa.) `transparent` is what lets the forward through.
  defaultReverseZones = [
    "10.in-addr.arpa." "168.192.in-addr.arpa." "254.169.in-addr.arpa." "64.100.in-addr.arpa."
    "127.in-addr.arpa." "d.f.ip6.arpa." "8.e.f.ip6.arpa." "9.e.f.ip6.arpa." "a.e.f.ip6.arpa."
    "b.e.f.ip6.arpa."
  ] ++ genList (i: "${toString (16 + i)}.172.in-addr.arpa.") 16;

  # The first listen address, as Unbound's `addr@port`; a wildcard bind is reached over loopback.
  forwardAddr =
    let
      first = if listen == [ ] then "127.0.0.1:5335" else head listen;
      v6 = match "\\[(.*)]:([0-9]+)" first;
      v4 = match "(.*):([0-9]+)" first;
      hp = if v6 != null then v6 else v4;
      host = builtins.elemAt hp 0;
      port = builtins.elemAt hp 1;
      reachable = if host == "0.0.0.0" then "127.0.0.1" else if host == "::" then "::1" else host;
    in if hp == null then "127.0.0.1@5335" else "${reachable}@${port}";

  # Empty lists are left out rather than set to [ ]: a user who sets `local-zone` to a single
  # string elsewhere would otherwise get a str-vs-list merge error from the nixpkgs option type.
  server = {
    # Unbound refuses to forward to 127.0.0.1/::1 without this.
    do-not-query-localhost = false;
  } // nonEmpty "domain-insecure"
    # The signed root proves `local` does not exist; without this the answers are bogus.
    (map (z: ''"${builtins.substring 0 (builtins.stringLength z - 1) z}"'') (filter (z: !isReverse z) zs))
  // nonEmpty "local-zone"
    (map (z: ''"${z}" ${if elem z defaultReverseZones then "nodefault" else "transparent"}'') (filter isReverse zs));

  # unbound.conf(5), proxy-protocol-port: "any interface listening on those port numbers will
  # expect PROXYv2" (UDP and TCP since 1.17), and the proxied address is the one access-control
  # checks — so the LAN's prefixes stay allowed and the front's own 127.0.0.1 decides nothing.
  # Setting `interface` replaces nixpkgs' loopback default, so loopback is listed here again.
  frontServer =
    let
      port = toString front.port;
      ipv6 = front.ipv6 or true;
    in {
      interface = [ "127.0.0.1" ] ++ (if ipv6 then [ "::1" ] else [ ]) ++ [ "127.0.0.1@${port}" ];
      proxy-protocol-port = front.port;
      # The front hands Unbound bursts (a LAN's parallel lookups arrive together); the default
      # 208 KiB queue holds ~200 queries. As root Unbound sets it with SO_RCVBUFFORCE; otherwise
      # net.core.rmem_max caps it (the module raises that to 1 MiB).
      so-rcvbuf = "1m";
      access-control = [ "127.0.0.0/8 allow" ] ++ (if ipv6 then [ "::1/128 allow" ] else [ ])
        ++ map (p: "${p} allow") front.allow;
    };
in
{
  inherit server;
  forward-zone = map (z: { name = ''"${z}"''; forward-addr = forwardAddr; }) zs;
} // (if front == null then { } else {
  server = server // frontServer;
}) // (if dnstapSocket == null then { } else {
  # Unbound connects to the sidecar's socket as the Frame Streams client.
  dnstap = {
    dnstap-enable = true;
    dnstap-socket-path = ''"${dnstapSocket}"'';
    dnstap-log-client-response-messages = true;
  };
})
