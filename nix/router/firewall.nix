# Router: the nftables ruleset of the main namespace (nix/lib/ruleset.nix: stateful input/forward,
# NAT, fwmark route choice, the sidecar's sets) through networking.nftables, and the netdev
# ingress hardening, one table per device loaded by a unit that follows the device.
# (The WAN namespace's own ruleset is loaded by nix/router/wan-namespace.nix.)
{ config, lib, pkgs, utils, ... }:
let
  inherit (lib) mkDefault mkIf;
  inherit (import ./shared.nix { inherit config lib utils; }) cfg ruleset deviceUnit;
  nft = "${pkgs.nftables}/bin/nft";
in
{
  config = mkIf cfg.enable {
    networking.firewall.enable = mkDefault false; # this ruleset is the firewall
    networking.nftables.enable = true;
    networking.nftables.tables.${cfg.table} = { inherit (ruleset.main.inet) family content; };

    # ---- netdev ingress hardening, one unit per device ------------------------------------------
    # A netdev chain names its device: loading it before udev has renamed the NIC fails, and the
    # chain goes away with the device. So each device's table is loaded by a unit the device
    # itself pulls in, and re-loaded whenever nftables.service is (a `flush ruleset` removes it).
    systemd.services = lib.listToAttrs (map (t: lib.nameValuePair "nftables-ingress-${t.device}" {
      description = "nftables ingress hardening on ${t.device}";
      bindsTo = [ (deviceUnit t.device) ];
      after = [ (deviceUnit t.device) "nftables.service" ];
      wantedBy = [ (deviceUnit t.device) ];
      partOf = [ "nftables.service" ];
      unitConfig.ReloadPropagatedFrom = "nftables.service";
      serviceConfig = let file = pkgs.writeText "ingress-${t.device}.nft" t.text; in {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStart = "${nft} -f ${file}";
        ExecReload = "${nft} -f ${file}";
        ExecStop = "-${nft} delete table netdev ${t.name}";
      };
    }) ruleset.main.ingress);
  };
}
