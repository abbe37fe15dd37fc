# NixOS module: services.unbound-sidecar.router — the router from
# shared/reference/router-write-up.txt, declaratively. This file declares the
# options and checks them; each job is its own file under nix/router/:
#   interfaces.nix     NICs named by MAC, forwarding and rp_filter, LAN addressing, policy routing
#                      with the VPN leak guard (nix/lib/policy-routing.nix),
#                      the WAN (DHCP by networkd) when it stays in the main namespace
#   firewall.nix       the nftables ruleset (nix/lib/ruleset.nix) and the per-device ingress tables
#   dhcp.nix           Kea DHCPv4/v6 and radvd
#   dns.nix            the DNS front on the LAN addresses, Unbound behind it (or, front off, on
#                      them), the sidecar's zones, Avahi on the LAN only
#   wan-namespace.nix  the WAN (and its DHCP client) in its own network namespace
#   wireguard.nix      the WireGuard tunnel, its socket in the WAN namespace when there is one
# Imports the sidecar module; the sidecar's lists fill the sets the ruleset declares.
{ config, lib, utils, ... }:
let
  inherit (lib) mkIf mkOption types;
  inherit (import ./router/shared.nix { inherit config lib utils; }) cfg net ns vpn;

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
    # The transit link to the WAN namespace must not overlap the LAN (a /48 LAN would hold it).
    (if ns == null then null else net.transitProblem "services.unbound-sidecar.router.wan.namespace" { inherit (cfg.lan) ipv4 ipv6; })
  ]);
in
{
  imports = [
    ./module.nix
    ./router/interfaces.nix
    ./router/firewall.nix
    ./router/dhcp.nix
    ./router/dns.nix
    ./router/wan-namespace.nix
    ./router/wireguard.nix
  ];

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
            prefixLength = mkOption {
              type = types.ints.between 48 64; default = 64;
              description = "Usually 64. With wan.namespace it must be longer than 48: the link to the WAN namespace takes a /64 of the same /48 outside the LAN (subnet ffff, or 0 when the LAN holds ffff).";
            };
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
          own packets can never be routed into the tunnel (the write-up's routing loop). The veth
          link is 100.64.255.0/30 and a /64 of lan.ipv6's /48 outside the LAN prefix; lan.ipv6 is
          required, and a LAN that overlaps either is refused at build time.
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
      allowWanFallback = mkOption {
        type = types.bool; default = false;
        description = ''
          Let traffic marked for the VPN leave by the WAN while the tunnel is down. By default
          vpn_table ends in `unreachable default` (the largest metric, so WireGuard's routes win
          while they exist): with the tunnel down a marked connection fails (host unreachable)
          instead of leaking out of the WAN — for routing.default = "vpn" that is all LAN traffic.
        '';
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
      listVia = mkOption { type = types.attrsOf (types.enum [ "wan" "vpn" ]); default = { }; description = "Route for each sidecar list's sets — nft.set4/set6 and the learned learn.set4/set6 — by list name (default vpn)."; };
    };

    hardening = {
      icmpRate = mkOption { type = types.str; default = "5/second"; description = "ICMP rate limit on the WAN (nft limit syntax)."; };
      mssMin = mkOption { type = types.ints.between 1 1460; default = 501; description = "SYNs announcing a smaller MSS are dropped."; };
    };
  };

  config = mkIf cfg.enable {
    assertions = map (message: { assertion = false; inherit message; }) problems;
    warnings = lib.optional (cfg.lan.ipv6 != null
      && net.ulaProblem "" cfg.lan.ipv6.address cfg.lan.ipv6.prefixLength == null
      && net.ulaGlobalIdIsZero cfg.lan.ipv6.address)
      "services.unbound-sidecar.router.lan.ipv6: ${cfg.lan.ipv6.address} has a zero global ID; RFC 4193 §3.2 asks for 40 random bits after fd (`openssl rand -hex 5` gives them).";
  };
}
