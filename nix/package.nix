# The daemon as a Nix package: `npm ci` from the committed package-lock.json, `npm run build`
# (tsc), then npm's install hook copies package.json's `files` and the production
# node_modules and links the `unbound-sidecar` bin.
#
# importNpmLock (nixpkgs >= 24.05) fetches every tarball by the `integrity` hash already in
# package-lock.json, so there is no npmDepsHash to keep in step with the lockfile. It fetches
# from each package's `resolved` URL, which the committed lockfile leaves out; nix/lib/npm-lock.nix
# puts the registry URL back (without it, evaluation fails in importNpmLock with "attribute
# 'resolved' missing"). On an older nixpkgs without importNpmLock, replace the npmDeps and
# npmConfigHook lines with
#   npmDepsHash = lib.fakeHash;
# build once, and copy the hash Nix prints ("got: sha256-…") over lib.fakeHash; redo that after
# every lockfile change.
{ lib, buildNpmPackage, importNpmLock, makeWrapper, nodejs_22, nftables, iproute2 }:
let
  root = ../.;
  packageJson = lib.importJSON (root + "/package.json");
in
buildNpmPackage {
  pname = packageJson.name;
  inherit (packageJson) version;
  nodejs = nodejs_22;

  # Only what the build reads: not node_modules/, dist/ or the Nix files (so editing a module
  # does not rebuild the package).
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/package.json")
      (root + "/package-lock.json")
      (root + "/tsconfig.json")
      (root + "/README.md")
      (root + "/src")
      (root + "/test")
      (root + "/bench")
      (root + "/config")
      (root + "/systemd")
    ];
  };

  npmDeps = importNpmLock {
    npmRoot = root;
    packageLock = import ./lib/npm-lock.nix { lock = lib.importJSON (root + "/package-lock.json"); };
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  # tsconfig.json compiles test/ and bench/ too; they only need to type-check here.
  npmBuildScript = "build";

  # set-sync spawns `nft` and `ip netns exec` for lists with nft.netns; the install
  # hook's bin wrapper takes no extra arguments, so wrap it once more.
  nativeBuildInputs = [ makeWrapper ];
  postInstall = ''
    wrapProgram $out/bin/unbound-sidecar --prefix PATH : ${lib.makeBinPath [ nftables iproute2 ]}
  '';

  meta = {
    description = packageJson.description;
    license = lib.licenses.mit;
    mainProgram = "unbound-sidecar";
    platforms = lib.platforms.linux;
  };
}
