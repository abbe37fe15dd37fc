# Test helper: settings -> unbound.conf text, the way nixpkgs' services.unbound writes it
# (nixos/modules/services/networking/unbound.nix: `toConf`, strings verbatim, bools as yes/no,
# lists as repeated keys, attrsets as sections). Re-implemented with builtins because CI has no
# nixpkgs; if nixpkgs changes its renderer, this copy must follow.
{ settings, base ? { } }:
let
  inherit (builtins) concatStringsSep isAttrs isBool isInt isList isString map attrNames removeAttrs;
  toOption = indent: n: v: "${indent}${n}: ${v}";
  toConf = indent: n: v:
    if isInt v then toOption indent n (toString v)
    else if isBool v then toOption indent n (if v then "yes" else "no")
    else if isString v then toOption indent n v
    else if isList v then concatStringsSep "\n" (map (toConf indent n) v)
    else if isAttrs v then concatStringsSep "\n" ([ "${indent}${n}:" ] ++ map (k: toConf "${indent}  " k v.${k}) (attrNames v))
    else throw "unbound-conf: unexpected type for ${n}";
  # What the nixpkgs module always sets (server section) plus the test's sandbox-friendly paths.
  server = base // (settings.server or { });
  rest = removeAttrs settings [ "server" ];
in
concatStringsSep "\n" (
  [ "server:" ] ++ map (k: toConf "  " k server.${k}) (attrNames server)
  ++ map (k: toConf "" k rest.${k}) (attrNames rest)
) + "\n"
