# NixOS module: services.unbound-sidecar.
#
# The daemon's JSON config is `settings` (freeform, rendered with pkgs.formats.json) with typed
# options for the keys other parts of the system depend on: the DNS listen address and zones
# (Unbound forwards to them), the mDNS backend (Avahi), the state directory (the unit owns it),
# the IP lists (nft capabilities) and dnstap (Unbound's dnstap block). By default it also wires
# Unbound and Avahi; `configureUnbound = false` leaves Unbound to you — `unbound-sidecar render
# unbound` prints what to add. `front` puts the sidecar's DNS front on the LAN's resolver address
# and Unbound behind it on loopback (nix/lib/sidecar.nix, nix/lib/unbound-settings.nix).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkDefault mkEnableOption mkIf mkOption types;
  cfg = config.services.unbound-sidecar;
  pure = import ./lib/sidecar.nix;
  json = pkgs.formats.json { };
  freeform = options: types.submodule { freeformType = json.type; inherit options; };

  nftName = types.strMatching "[A-Za-z_][A-Za-z0-9_./-]{0,255}";
  listType = freeform {
    name = mkOption { type = types.strMatching "[a-z0-9_-]+"; description = "List name (metrics label, snapshot file): lowercase letters, digits, _ and -."; };
    refresh = mkOption { type = types.str; default = "1h"; description = "How often the sources are fetched."; };
    sources = mkOption {
      type = types.listOf (freeform {
        url = mkOption { type = types.str; };
        format = mkOption { type = types.enum [ "json" "lines" "csv" ]; };
        contains = mkOption { type = types.enum [ "ips" "domains" ]; };
      });
      description = "Where the entries come from (json, lines or csv; ips or domains).";
    };
    exclude = mkOption { type = types.listOf types.str; default = [ ]; description = "Prefixes never put in the sets."; };
    nft = mkOption {
      type = freeform {
        family = mkOption { type = types.enum [ "inet" "ip" "ip6" ]; default = "inet"; };
        table = mkOption { type = types.str; default = "global"; };
        # Either may be left out (an `ip` table holds no ipv6_addr set, an `ip6` table no ipv4_addr set).
        set4 = mkOption { type = types.nullOr nftName; default = null; description = "ipv4_addr set (flags interval)."; };
        set6 = mkOption { type = types.nullOr nftName; default = null; description = "ipv6_addr set (flags interval)."; };
        netns = mkOption { type = types.nullOr types.str; default = null; description = "Apply inside this named network namespace (needs CAP_SYS_ADMIN)."; };
        createSets = mkOption { type = types.bool; default = false; };
      };
      description = "The nftables sets this list fills.";
    };
  };

  s = cfg.settings;
  # The daemon's schema is strict and has no nullable keys: nulls (an unset nft.netns, set4 or
  # dnstap) and an empty `lists` are left out rather than written (nix/lib/sidecar.nix).
  rawConfig = json.generate "unbound-sidecar.json" (pure.configValue s);
  # Like services.unbound.checkconf: a config the daemon would reject fails the build, not the boot.
  configFile = if !cfg.checkConfig then rawConfig else
    pkgs.runCommand "unbound-sidecar.json" { nativeBuildInputs = [ cfg.package ]; } ''
      unbound-sidecar check-config ${rawConfig}
      cp ${rawConfig} $out
    '';
  exe = lib.getExe cfg.package;

  hasLists = s.lists != [ ];
  hasNetns = lib.any (l: l.nft.netns != null) s.lists;
  hasDnstap = s.dnstap != null;
  dnstap = pure.dnstapGroup {
    dnstap = hasDnstap;
    configured = cfg.dnstapGroup;
    unboundEnabled = config.services.unbound.enable;
    unboundGroup = config.services.unbound.group;
    groups = lib.attrNames config.users.groups;
  };
  front = cfg.front;
  # Binding port 53 needs CAP_NET_BIND_SERVICE (ports below net.ipv4.ip_unprivileged_port_start).
  frontBinds53 = front.enable && pure.frontBindsPrivilegedPort front.listen;
  unboundServer = config.services.unbound.settings.server;
  frontProblems = if !front.enable then [ ] else pure.frontProblems {
    inherit (front) listen allow upstreamPort;
    # Only an Unbound on this system can clash with the front's addresses.
    unboundInterfaces = if config.services.unbound.enable then unboundServer.interface or [ ] else null;
    unboundPort = unboundServer.port or 53;
  };
  # nft talks netlink to the kernel: CAP_NET_ADMIN; entering another namespace: CAP_SYS_ADMIN.
  caps = lib.optional hasLists "CAP_NET_ADMIN" ++ lib.optional hasNetns "CAP_SYS_ADMIN"
    ++ lib.optional frontBinds53 "CAP_NET_BIND_SERVICE";
in
{
  options.services.unbound-sidecar = {
    enable = mkEnableOption "unbound-sidecar, which answers .local for Unbound through Avahi and keeps nftables routing sets in sync";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The unbound-sidecar package.";
    };

    configureUnbound = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Enable Unbound and forward the sidecar's zones to it: a forward-zone per zone,
        do-not-query-localhost = no, domain-insecure for each forward zone, local-zone transparent
        for private reverse zones, and the dnstap block (with a dnstap-enabled Unbound) when
        settings.dnstap is set.
      '';
    };

    dnstapGroup = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "unbound";
      description = ''
        With settings.dnstap: the group the dnstap socket and its directory belong to (the unit's
        Group=); the user Unbound runs as must be in it. null means services.unbound.group when
        services.unbound is enabled on this system; otherwise (your own Unbound with
        configureUnbound = false) set it, to a group declared in users.groups.
      '';
    };

    front = {
      enable = mkEnableOption ''
        the DNS front (settings.front): the sidecar answers the LAN's DNS on front.listen, forwards
        every query to Unbound on 127.0.0.1@front.upstreamPort with a PROXYv2 header (Unbound's
        proxy-protocol-port, so access-control still sees the real client), and puts the addresses
        of listed names into the learned sets before the client gets the answer. With
        configureUnbound, Unbound then listens on loopback only'';
      listen = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "10.77.0.1:53" "[fd01:2345:6789::1]:53" ];
        description = "host:port addresses (UDP and TCP) the LAN asks; Unbound must not listen on them (the build says so if it does).";
      };
      upstreamPort = mkOption {
        type = types.port;
        default = 5301;
        description = "Unbound's proxy-protocol interface, 127.0.0.1@upstreamPort: every query there carries a PROXYv2 header.";
      };
      allow = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "10.77.0.0/24" "fd01:2345:6789::/64" ];
        description = ''
          Client prefixes (CIDR) the front answers; everyone else gets REFUSED. With
          configureUnbound they are also Unbound's access-control (behind the front Unbound sees
          each client's own address), and without lists the unit's IPAddressAllow.
        '';
      };
      insertDeadlineMs = mkOption {
        type = types.ints.unsigned;
        default = 50;
        description = "How long an answer may wait for its addresses to reach the sets; then it goes out anyway (or SERVFAIL with failClosed).";
      };
      failClosed = mkOption {
        type = types.bool;
        default = false;
        description = "Past insertDeadlineMs answer SERVFAIL (the client retries) instead of an answer whose first connection may leave by the wrong route.";
      };
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = "Run `unbound-sidecar check-config` on the generated file at build time.";
    };

    settings = mkOption {
      default = { };
      description = "The daemon's JSON configuration (see the README's Configuration section).";
      type = freeform {
        dns = mkOption {
          default = { };
          type = freeform {
            listen = mkOption { type = types.listOf types.str; default = [ "127.0.0.1:5335" ]; description = "host:port addresses (UDP and TCP); Unbound forwards to the first."; };
            zones = mkOption { type = types.listOf types.str; default = [ "local." ]; example = [ "local." "77.10.in-addr.arpa." ]; description = "Zones answered; everything else is REFUSED."; };
          };
        };
        mdns = mkOption {
          default = { };
          type = freeform {
            backend = mkOption { type = types.enum [ "auto" "avahi" "native" ]; default = "auto"; description = "`auto` uses Avahi when it is on the bus."; };
          };
        };
        metrics = mkOption {
          default = { };
          type = freeform {
            listen = mkOption { type = types.str; default = "127.0.0.1:9335"; };
          };
        };
        log = mkOption {
          default = { };
          type = freeform {
            level = mkOption { type = types.enum [ "fatal" "error" "warn" "info" "debug" "trace" ]; default = "info"; };
          };
        };
        stateDir = mkOption {
          type = types.strMatching "/var/lib/[^/]+";
          default = "/var/lib/unbound-sidecar";
          description = "Snapshots and learned addresses; the unit's StateDirectory.";
        };
        lists = mkOption {
          type = types.listOf listType;
          default = [ ];
          description = "IP/domain lists kept in nftables sets. The unit gets CAP_NET_ADMIN when this is not empty.";
        };
        dnstap = mkOption {
          type = types.nullOr (freeform {
            socket = mkOption { type = types.str; default = "/run/unbound-sidecar/dnstap.sock"; };
          });
          default = null;
          example = { socket = "/run/unbound-sidecar/dnstap.sock"; };
          description = "Learn addresses from Unbound's answers over dnstap.";
        };
      };
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = s.dns.listen != [ ];
        message = "services.unbound-sidecar.settings.dns.listen must name at least one address.";
      }
      {
        assertion = lib.allUnique (map (l: l.name) s.lists);
        message = "services.unbound-sidecar.settings.lists: list names must be unique.";
      }
      {
        assertion = lib.all (l: l.nft.set4 != null || l.nft.set6 != null) s.lists;
        message = "services.unbound-sidecar.settings.lists: every list names at least one of nft.set4 and nft.set6.";
      }
      {
        assertion = dnstap.problem == null;
        message = toString dnstap.problem;
      }
    ] ++ map (message: { assertion = false; inherit message; }) frontProblems ++ [
      {
        assertion = !hasDnstap || lib.hasPrefix "/run/unbound-sidecar/" s.dnstap.socket;
        message = "services.unbound-sidecar.settings.dnstap.socket must be under /run/unbound-sidecar/ (the unit's RuntimeDirectory, shared with Unbound's group).";
      }
    ];

    # Written with the other settings; more keys (upstreamTimeoutMs, maxInflight, …) can be
    # added under settings.front.
    services.unbound-sidecar.settings.front = mkIf front.enable (pure.frontBlock {
      inherit (front) listen upstreamPort allow insertDeadlineMs failClosed;
    });

    services.unbound = mkIf cfg.configureUnbound {
      enable = mkDefault true;
      settings = import ./lib/unbound-settings.nix {
        inherit (s.dns) zones listen;
        dnstapSocket = if hasDnstap then s.dnstap.socket else null;
        front = if !front.enable then null else {
          port = front.upstreamPort;
          inherit (front) allow;
          ipv6 = config.networking.enableIPv6;
        };
      };
      # nixpkgs' default unbound-with-systemd is built without dnstap; unbound-full has it.
      package = mkIf hasDnstap (mkDefault pkgs.unbound-full);
    };

    # Unbound's so-rcvbuf (lib/unbound-settings.nix) and the front's receive buffers: without
    # CAP_NET_ADMIN, SO_RCVBUF is capped at rmem_max (socket(7)); 208 KiB by default, ~200 queries.
    boot.kernel.sysctl."net.core.rmem_max" = mkIf front.enable (mkDefault 1048576);

    services.avahi.enable = mkIf (s.mdns.backend != "native") (mkDefault true);

    environment.systemPackages = [ cfg.package ];

    systemd.services.unbound-sidecar = {
      description = "unbound-sidecar: .local answers for Unbound through Avahi, nftables routing sets, metrics";
      documentation = [ "https://github.com/unbound-sidecar/unbound-sidecar#readme" ];
      wantedBy = [ "multi-user.target" ];
      # Ordering only: Avahi may come and go (the daemon answers SERVFAIL and reconnects), and an
      # nftables reload empties the sets, which the daemon notices and refills itself — so no
      # Requires/BindsTo/PartOf on nftables.service: restarting the sidecar with the firewall
      # would only lose its in-memory state.
      wants = lib.optional config.services.avahi.enable "avahi-daemon.service"
        ++ lib.optional config.services.unbound.enable "unbound.service"
        ++ lib.optional config.networking.nftables.enable "nftables.service"
        ++ lib.optional front.enable "network-online.target";
      # The front forwards to Unbound, so it starts after it (Unbound's unit is Type=notify: ready
      # means bound). Its listen addresses are the LAN's: network-online.target is when they are
      # configured (the router module also sets ip_nonlocal_bind, nix/router/dns.nix).
      after = [ "network.target" "dbus.service" "avahi-daemon.service" "unbound.service" "nftables.service" ]
        ++ lib.optional front.enable "network-online.target";
      path = [ pkgs.nftables pkgs.iproute2 ];
      restartTriggers = [ configFile ];
      environment.NODE_ENV = "production";

      # The same hardening as systemd/unbound-sidecar.service; the differences are commented.
      serviceConfig = {
        # READY=1 once the listeners are bound and the list snapshots are in the sets; the main
        # process sends every sd_notify message itself, so no other process may speak for it.
        Type = "notify";
        NotifyAccess = "main";
        # WATCHDOG=1 every 15 s from the event loop: a wedged loop gets the service restarted.
        WatchdogSec = "30s";
        # A list: nixpkgs' service-runner.nix (systemd.services.<name>.runner) joins it as one.
        ExecStartPre = [ "${exe} check-config ${configFile}" ];
        ExecStart = "${exe} run --config ${configFile}";
        # SIGHUP = sync the lists now.
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        Restart = "on-failure";
        RestartSec = "2s";

        DynamicUser = true;
        StateDirectory = lib.removePrefix "/var/lib/" s.stateDir;
        StateDirectoryMode = "0750";
        RuntimeDirectory = "unbound-sidecar";
        RuntimeDirectoryMode = "0750";
        # dnstap: Unbound (its own user) connects to our socket, so the socket and its directory
        # belong to Unbound's group (a static group with a dynamic user is allowed) and are
        # group-writable. Only a group that exists: see dnstapGroup and nix/lib/sidecar.nix.
        Group = mkIf (dnstap.group != null) dnstap.group;
        UMask = if hasDnstap then "0007" else "0077";

        # An empty list would write no line at all, i.e. keep the full bounding set (exposure 3.0
        # in `systemd-analyze security`); "" writes `CapabilityBoundingSet=`, which empties it.
        CapabilityBoundingSet = if caps == [ ] then "" else caps;
        AmbientCapabilities = caps;
        NoNewPrivileges = true;

        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateMounts = true;
        PrivateDevices = true;
        # Also with nft.netns: `ip netns exec` detaches the read-only /sys this leaves and mounts the
        # namespace's own sysfs in its private mount namespace (needs CAP_SYS_ADMIN and @mount, which
        # hasNetns grants) — checked with /sys bind-mounted read-only under `unshare -m`.
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        ProtectProc = "invisible";
        ProcSubset = "pid";

        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
        RestrictNamespaces = if hasNetns then [ "net" "mnt" ] else true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        # V8's JIT needs writable+executable memory.
        MemoryDenyWriteExecute = false;
        RemoveIPC = true;
        # A private user namespace would make CAP_NET_ADMIN useless against the host's netfilter,
        # and CAP_NET_BIND_SERVICE against the host's ports: the kernel checks both in the user
        # namespace that owns the network namespace (user_namespaces(7), "Capabilities").
        PrivateUsers = !hasLists && !frontBinds53;
        # Lists are downloaded from the internet; without lists only loopback,
        # link-local and multicast (mDNS) are reachable — and the front's clients.
        IPAddressDeny = mkIf (!hasLists) "any";
        IPAddressAllow = mkIf (!hasLists) ([ "localhost" "link-local" "multicast" ] ++ lib.optionals front.enable front.allow);
        DevicePolicy = "closed";
        KeyringMode = "private";
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          ("~@privileged @resources @obsolete @raw-io @reboot @swap @cpu-emulation @debug @module"
            + lib.optionalString (!hasNetns) " @mount")
        ];
        SystemCallErrorNumber = "EPERM";

        MemoryMax = "512M";
        TasksMax = 64;
        LimitNOFILE = 8192;
      };
    };
  };
}
