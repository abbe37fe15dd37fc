# Pure decisions of the sidecar module (nix/module.nix), builtins only, so CI checks them with a
# bare `nix-instantiate --eval` (test/nix/nix-lib.test.ts) without nixpkgs.
let
  inherit (builtins) any attrNames concatLists elem elemAt filter fromJSON isAttrs isList listToAttrs map match toString;
  net = import ./net.nix;
in
rec {
  # The module's merged `settings` -> the value written to the daemon's JSON file.
  # The daemon's schema (src/config/schema.ts, zod) is strict and has no nullable keys: an optional
  # key is either absent or a value, so `"netns": null` or `"dnstap": null` is a config error.
  # Attributes whose value is null are dropped at every depth, and so are the empty optional blocks
  # (`lists = [ ]`).
  dropNulls = v:
    if isAttrs v then
      listToAttrs (map (n: { name = n; value = dropNulls v.${n}; }) (filter (n: v.${n} != null) (attrNames v)))
    else if isList v then map dropNulls v
    else v;

  configValue = settings:
    let s = dropNulls settings;
    in removeAttrs s (if (s.lists or [ ]) == [ ] then [ "lists" ] else [ ]);

  # dnstap: Unbound connects to the sidecar's socket, so the socket and the unit's
  # RuntimeDirectory belong to a group Unbound's user is in — the unit's primary Group=.
  #   dnstap        : is settings.dnstap set
  #   configured    : services.unbound-sidecar.dnstapGroup (null = pick)
  #   unboundEnabled: services.unbound.enable;  unboundGroup: services.unbound.group
  #   groups        : the names in users.groups
  # -> { group = null | name; problem = null | message }.
  # Without a group to name, the unit must not say Group=unbound regardless: with DynamicUser a
  # Group= that no static group has is *created* as a fresh dynamic group, which no Unbound is in,
  # so Unbound's connect() fails with EACCES and nothing says why.
  dnstapGroup = { dnstap, configured ? null, unboundEnabled, unboundGroup ? "unbound", groups }:
    let
      group = if !dnstap then null
        else if configured != null then configured
        else if unboundEnabled then unboundGroup
        else null;
    in {
      inherit group;
      problem =
        if !dnstap then null
        else if group == null then
          "services.unbound-sidecar.settings.dnstap is set, but services.unbound is not enabled on this system, so there is no "
          + "Unbound group to give the dnstap socket to (with configureUnbound = false the module does not enable Unbound). "
          + "Enable services.unbound, or set services.unbound-sidecar.dnstapGroup to the group of the user your Unbound runs as."
        else if !(elem group groups) then
          "services.unbound-sidecar.dnstapGroup: group \"${group}\" is not declared in users.groups; with DynamicUser, systemd "
          + "would create a fresh dynamic group of that name that Unbound is not in. Declare it (users.groups.${group} = { }) "
          + "and put Unbound's user in it."
        else null;
    };

  # ---- the DNS front (settings.front) ---------------------------------------------------------
  # "host:port" or "[v6]:port", as the daemon parses it (src/config/common.ts, parseHostPort),
  # -> { host; port; v6; key } or null. `key` compares addresses whatever their spelling
  # (fd01::1 and fd01:0:0::1 are one address).
  parseHostPort = s:
    let
      v6 = match "\\[([^]]+)]:([0-9]{1,5})" s;
      v4 = match "([^:]+):([0-9]{1,5})" s;
      hp = if v6 != null then v6 else v4;
      host = elemAt hp 0;
      port = fromJSON (elemAt hp 1);
      key = addrKey host;
    in if hp == null || key == null || port > 65535 then null
       else { inherit host port key; v6 = v6 != null; };

  # A literal address -> a canonical string, or null for anything else (an interface name).
  addrKey = a:
    let v4 = net.parseIPv4 a; v6 = net.parseIPv6 a;
    in if v4 != null then "4:" + builtins.concatStringsSep "." (map toString v4)
       else if v6 != null then "6:" + builtins.concatStringsSep ":" (map toString v6)
       else null;

  # The module's front options -> the daemon's `front` block (src/dns-front/config.ts). The front
  # forwards to Unbound's proxy-protocol interface on loopback, always with the PROXYv2 header:
  # that interface speaks nothing else (unbound.conf(5), proxy-protocol-port).
  frontBlock = { listen, upstreamPort, allow, insertDeadlineMs, failClosed }: {
    inherit listen allow insertDeadlineMs failClosed;
    upstream = "127.0.0.1:${toString upstreamPort}";
    proxyProtocol = true;
  };

  # Does the front bind a port below 1024 (net.ipv4.ip_unprivileged_port_start)? Then the unit
  # needs CAP_NET_BIND_SERVICE, and no private user namespace (see nix/module.nix).
  frontBindsPrivilegedPort = listen:
    any (l: let hp = parseHostPort l; in hp != null && hp.port < 1024) listen;

  # Why this front cannot work, as messages (empty when it can).
  #   listen, allow, upstreamPort : the module's front options
  #   unboundInterfaces           : services.unbound.settings.server.interface (null: not ours to check)
  #   unboundPort                 : Unbound's `port:` (the port of an interface without @port)
  frontProblems = { listen, allow, upstreamPort, unboundInterfaces ? null, unboundPort ? 53 }:
    let
      opt = "services.unbound-sidecar.front";
      parsed = map parseHostPort listen;
      bad = filter (l: parseHostPort l == null) listen;
      good = filter (hp: hp != null) parsed;
      # Unbound's interface syntax: addr, addr@port, or an interface name (not checked).
      iface = i:
        let m = match "(.*)@([0-9]+)" i; a = if m == null then i else elemAt m 0;
        in { text = i; key = addrKey a; port = if m == null then unboundPort else fromJSON (elemAt m 1); };
      ifaces = filter (i: i.key != null) (map iface (if unboundInterfaces == null then [ ] else unboundInterfaces));
      wildcard = i: i.key == addrKey "0.0.0.0" || i.key == addrKey "::";
      family = key: builtins.substring 0 1 key;
      clash = hp: i: i.port == hp.port && (i.key == hp.key || (wildcard i && family i.key == family hp.key));
      clashes = concatLists (map (hp: map (i: { inherit hp i; }) (filter (clash hp) ifaces)) good);
    in
    (if listen == [ ] then [ "${opt}.listen: name the addresses the front answers on, e.g. [ \"10.77.0.1:53\" \"[fd01:2345:6789::1]:53\" ]" ] else [ ])
    ++ map (l: "${opt}.listen: \"${l}\" is not host:port with a literal IP (\"10.77.0.1:53\", \"[fd01::1]:53\")") bad
    ++ (if allow == [ ] then [
      ("${opt}.allow: name the client prefixes (CIDR) the front answers, e.g. [ \"10.77.0.0/24\" ]. "
       + "Unbound's access-control gets the same prefixes: behind the front it sees each client's own address (PROXYv2), not 127.0.0.1")
    ] else [ ])
    ++ map (c: "${opt}.listen: ${c.hp.host} port ${toString c.hp.port} is also Unbound's interface \"${c.i.text}\"; "
      + "the front takes that address, so Unbound must not listen there (remove it from services.unbound.settings.server.interface — "
      + "Unbound keeps loopback and 127.0.0.1@${toString upstreamPort})") clashes
    ++ map (hp: "${opt}.upstreamPort: ${toString upstreamPort} is also a front listen port on ${hp.host}; the front would forward to itself")
      (filter (hp: hp.key == addrKey "127.0.0.1" && hp.port == upstreamPort) good);
}
