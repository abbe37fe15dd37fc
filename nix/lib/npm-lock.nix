# package-lock.json -> the same lock with a registry `resolved` URL on every registry package.
#
# The committed lockfile has no `resolved` fields (npm leaves them out with
# omit-lockfile-registry-resolved, and `npm ci` then asks the configured registry), but
# nixpkgs' importNpmLock fetches each package by its `resolved` URL and gives a package without
# one no source, so `npm ci` in the sandbox would have nothing to install. The registry's tarball
# URL is a function of name and version, and `integrity` still pins the content.
# builtins only, so CI checks it with a bare nix-instantiate (test/nix/nix-lib.test.ts).
{ lock, registry ? "https://registry.npmjs.org" }:
let
  inherit (builtins) elemAt mapAttrs match;
  fill = path: pkg:
    let
      # node_modules/a/node_modules/@s/b -> @s/b; an aliased dependency ("x": "npm:y@1") names the
      # real package in `name`.
      installedAs = match ".*node_modules/((@[^/]+/)?[^/]+)" path;
      name = pkg.name or (elemAt installedAs 0);
      base = elemAt (match "(@[^/]+/)?([^/]+)" name) 1;
    in
    # The root project, workspace links, bundled dependencies (no integrity: they come inside
    # their parent's tarball) and anything that already says where it comes from stay as they are.
    if path == "" || installedAs == null || pkg ? resolved || (pkg.link or false)
      || !(pkg ? version) || !(pkg ? integrity) || (pkg.inBundle or false)
    then pkg
    else pkg // { resolved = "${registry}/${name}/-/${base}-${pkg.version}.tgz"; };
in
lock // { packages = mapAttrs fill (lock.packages or { }); }
