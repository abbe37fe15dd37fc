/**
 * ip-prefix: the packed interval model shared by blocklist (builds it) and set-sync (diffs and
 * applies it). Pure, no I/O.
 */
export { WORDS, type IpFamily, type RangeSet } from './range-set.js';
export { parseAddress, formatAddress } from './address.js';
export { parseEntry, parseEntryInto, type EntryParse, type EntryRejectReason, type ParsedEntry } from './entry.js';
export { RangeSetBuilder, rangeSetOf } from './builder.js';
export { emptyRangeSet } from './range-writer.js';
export { subtractRanges, unionRangeSets, diffRangeSets, containsAddress, coversRange, coveredAddressCount, rangeSetsEqual } from './set-ops.js';
export { rangeToNftElement, rangeText, rangeTexts, type NftElement } from './nft-element.js';
export { cmpWords, prefixToRange } from './words.js';
export { BOGONS, DEFAULT_MIN_PREFIX, EntryGuard, mapIPv4Mapped, type MinPrefix } from './bogons.js';
