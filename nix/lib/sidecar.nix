# Pure decisions of the sidecar module (nix/module.nix), builtins only, so CI checks them with a
# bare `nix-instantiate --eval` (test/nix/nix-lib.test.ts) without nixpkgs.
let
  inherit (builtins) attrNames elem filter isAttrs isList listToAttrs map;
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
}
