/**
 * The NixOS module repeats some of the daemon's schema as option types (so a bad value fails at
 * `nixos-rebuild` with the option's name, before check-config runs). Those copies are read here
 * from nix/module.nix as text — no nix needed — and held equal to the one rule in src/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SOURCE_CONTAINS, SOURCE_FORMATS } from '../../src/blocklist/formats/index.js';
import { learnConfigSchema } from '../../src/learner/config.js';
import { localNamesConfigSchema } from '../../src/local-names/config.js';
import { NFT_NAME } from '../../src/lib/nft/nft-name.js';
import { setTargetConfigSchema } from '../../src/set-sync/config.js';
import { repoRoot } from '../helpers/repo-root.js';

const module = readFileSync(join(repoRoot(), 'nix', 'module.nix'), 'utf8');

/** The string of `<option> = mkOption { type = types.enum [ "a" "b" ]; …` (the first such option). */
function nixEnum(option: string): string[] {
  const m = new RegExp(`\\b${option} = mkOption \\{ type = types\\.enum \\[([^\\]]*)\\]`).exec(module);
  assert.ok(m?.[1] !== undefined, `nix/module.nix has no enum option "${option}"`);
  return [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1] ?? '');
}

test("nftName: the module's types.strMatching is the daemon's NFT_NAME (builtins.match anchors the whole string)", () => {
  const m = /\bnftName = types\.strMatching "((?:[^"\\]|\\.)*)";/.exec(module);
  assert.ok(m?.[1] !== undefined, 'nix/module.nix defines nftName');
  assert.equal(`^${m[1]}$`, NFT_NAME.source);
  // The schema keys that take an nft name all follow the rule (set-sync keeps its own copy of it).
  const names = ['global', 'force_vpn4', '_x', 'a.b/c-d', 'x'.repeat(256), 'x'.repeat(257), '4set', '-a', 'a b', '', 'ä'];
  const keys: [string, (s: string) => boolean][] = [
    ['lists[].nft.table', (s) => setTargetConfigSchema.shape.table.safeParse(s).success],
    ['lists[].nft.set4', (s) => setTargetConfigSchema.shape.set4.safeParse(s).success],
    ['lists[].learn.set4', (s) => learnConfigSchema.safeParse({ set4: s }).success],
  ];
  for (const [key, accepts] of keys) {
    for (const n of names) assert.equal(accepts(n), NFT_NAME.test(n), `${key}: ${JSON.stringify(n)}`);
  }
});

test("the module's enums are the schema's", () => {
  assert.deepEqual(nixEnum('format'), [...SOURCE_FORMATS]);
  assert.deepEqual(nixEnum('contains'), [...SOURCE_CONTAINS]);
  assert.deepEqual(nixEnum('family'), setTargetConfigSchema.shape.family.unwrap().options);
  assert.deepEqual(nixEnum('backend'), localNamesConfigSchema.shape.backend.unwrap().options);
});
