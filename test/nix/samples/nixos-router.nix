# README: the whole router of the write-up (checked by flake.nix `checks`). Replace the MACs,
# generate your own ULA (fd + `openssl rand -hex 5`) and WireGuard key and peer.
{
  services.unbound-sidecar.router = {
    enable = true;
    lan = {
      mac = "aa:bb:cc:00:00:01"; # renamed to lan0
      ipv4.address = "10.77.0.1"; # /24, DHCP pool .100-.250
      ipv6.address = "fd01:2345:6789::1"; # /64, RA + DHCPv6
    };
    wan = {
      mac = "aa:bb:cc:00:00:02"; # renamed to wan0
      macAddress = "00:11:22:33:44:55"; # what the ISP expects; must be unicast
      namespace = "wan"; # WAN + WireGuard's socket in their own namespace
    };
    vpn = {
      enable = true;
      ips = [ "10.66.0.2/32" "fd55:aaaa::2/128" ];
      privateKeyFile = "/etc/nixos/wireguard_key";
      peers = [{
        publicKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
        endpoint = "198.51.100.1:51820";
        allowedIPs = [ "0.0.0.0/0" "::/0" ];
        persistentKeepalive = 25;
      }];
    };
    routing = {
      default = "wan"; # most traffic leaves directly...
      clients = [ { address = "10.77.0.50"; via = "vpn"; } ]; # ...this host always uses the VPN
    };
  };

  # ...and whatever the registry lists goes through the VPN for everyone.
  services.unbound-sidecar.settings.lists = [{
    name = "vpn";
    refresh = "1h";
    sources = [
      { url = "https://reestr.rublacklist.net/api/v3/ips/"; format = "json"; contains = "ips"; }
      { url = "https://reestr.rublacklist.net/api/v3/domains/"; format = "json"; contains = "domains"; }
    ];
    nft = { table = "global"; set4 = "force_vpn4"; set6 = "force_vpn6"; };
  }];

  system.stateVersion = "25.05";
}
