# Router: addresses for the LAN's hosts — Kea DHCPv4, Kea DHCPv6 with lan.ipv6 (ISC dhcpd is gone
# from nixpkgs), and router advertisements (radvd) announcing the LAN's /64, SLAAC when lan.ipv6.slaac.
{ config, lib, utils, ... }:
let
  inherit (lib) mkIf;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg lan4 lan6 lan6Head;
in
{
  config = mkIf cfg.enable {
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
  };
}
