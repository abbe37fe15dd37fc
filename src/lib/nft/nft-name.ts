/**
 * The one rule for the table and set names the config may name: a letter or `_`, then letters,
 * digits and `_ . / -`: names `nft` reads unquoted (nft(8), LEXICAL CONVENTIONS), so a name from
 * the config can be typed into `nft list set …` as it stands. The config schemas (config/common.ts
 * `nftNameSchema`) and the NixOS module's `nftName` type (nix/module.nix;
 * test/nix/module-schema.test.ts holds it equal) use this pattern.
 */
export const NFT_NAME = /^[A-Za-z_][A-Za-z0-9_./-]{0,255}$/;
