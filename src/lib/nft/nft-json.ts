import { SidecarError } from '../../errors.js';
import { rangeToNftElement, type IpFamily, type RangeSet } from '../ip-prefix/index.js';
import { isRecord } from '../narrow/is-record.js';

/**
 * The commands set-sync sends, as typed values — what the netlink backend encodes (netlink/
 * commands.ts) — that also iterate as their nft JSON (libnftables-json(5), schema version 1), which
 * only the nft CLI backend reads, in pieces, so a million elements stream to nft without ever
 * being a million objects in our heap. Also the one place where `nft -j list set` output
 * (`unknown`) is narrowed.
 */

export type NftFamily = 'inet' | 'ip' | 'ip6';
export type NftSetType = 'ipv4_addr' | 'ipv6_addr';

/** One named set. */
export interface SetRef {
  readonly family: NftFamily;
  readonly table: string;
  readonly set: string;
}

/** An interval-set element as nft writes it: an address, `{prefix}` or `{range}`. */
export type NftElementJson = string | { prefix: { addr: string; len: number } } | { range: [string, string] };

/** A command is one JSON object, possibly written in pieces. */
export type NftCommand = string | Iterable<string>;

const q = JSON.stringify;

export const setRefText = (r: SetRef): string => `${r.family} ${r.table} ${r.set}`;

/** A table or set to create (`add` of one that exists changes nothing). */
export type CreateSpec =
  | { readonly op: 'table'; readonly family: NftFamily; readonly table: string }
  | { readonly op: 'set'; readonly ref: SetRef; readonly type: NftSetType; readonly flags: readonly ('interval' | 'timeout')[] };

export class CreateCommand implements Iterable<string> {
  constructor(readonly spec: CreateSpec) {}

  *[Symbol.iterator](): Iterator<string> {
    const c = this.spec;
    if (c.op === 'table') yield `{"add":{"table":{"family":${q(c.family)},"name":${q(c.table)}}}}`;
    else yield `{"add":{"set":{"family":${q(c.ref.family)},"table":${q(c.ref.table)},"name":${q(c.ref.set)},"type":${q(c.type)},"flags":${q(c.flags)}}}}`;
  }
}

export class FlushCommand implements Iterable<string> {
  constructor(readonly ref: SetRef) {}

  *[Symbol.iterator](): Iterator<string> {
    yield `{"flush":{"set":{"family":${q(this.ref.family)},"table":${q(this.ref.table)},"name":${q(this.ref.set)}}}}`;
  }
}

export function addTableCommand(family: NftFamily, table: string): CreateCommand {
  return new CreateCommand({ op: 'table', family, table });
}

/**
 * `flags interval` (lists) or `timeout` (learned sets), and deliberately no `auto-merge`: nft folds
 * adjacent elements of an auto-merge set into one, and deleting an element that was folded fails
 * the whole transaction (measured on the router). Our model is already merged, so auto-merge has
 * nothing to add.
 */
export function addSetCommand(ref: SetRef, type: NftSetType, flags: readonly ('interval' | 'timeout')[] = ['interval']): CreateCommand {
  return new CreateCommand({ op: 'set', ref, type, flags });
}

export function flushSetCommand(ref: SetRef): FlushCommand {
  return new FlushCommand(ref);
}

/**
 * `add`/`delete element`; `elements` yields each element already serialised (`"1.2.3.4"`, `{"prefix":…}`).
 * The result iterates as JSON pieces (the nft CLI path) and also keeps what it was built from, so a
 * backend that speaks netlink encodes the packed ranges directly instead of re-parsing JSON.
 */
export function elementCommand(op: 'add' | 'delete', ref: SetRef, elements: Iterable<string>): ElementCommand {
  return new ElementCommand(op, ref, elements);
}

export class ElementCommand implements Iterable<string> {
  constructor(
    readonly op: 'add' | 'delete',
    readonly ref: SetRef,
    readonly elements: Iterable<string>,
  ) {}

  *[Symbol.iterator](): Iterator<string> {
    const r = this.ref;
    yield `{${q(this.op)}:{"element":{"family":${q(r.family)},"table":${q(r.table)},"name":${q(r.set)},"elem":[`;
    let first = true;
    for (const e of this.elements) {
      yield first ? e : `,${e}`;
      first = false;
    }
    yield ']}}}';
  }
}

/** Every range of a packed model as its nft JSON element, lazily; `set` stays readable for netlink. */
export class RangeElements implements Iterable<string> {
  constructor(readonly set: RangeSet) {}

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.set.size; i++) yield q(rangeToNftElement(this.set, i));
  }
}

/** One address, its words already parsed, with an optional per-element timeout (learned sets). */
export interface AddressElement {
  readonly family: IpFamily;
  readonly words: Uint32Array;
  /** As nft prints it (the JSON form uses it). */
  readonly text: string;
  readonly timeoutSeconds?: number;
}

/** Single addresses as nft JSON elements, lazily; `items` stays readable for netlink. */
export class AddressElements implements Iterable<string> {
  constructor(readonly items: readonly AddressElement[]) {}

  *[Symbol.iterator](): Iterator<string> {
    for (const a of this.items) yield a.timeoutSeconds === undefined ? q(a.text) : `{"elem":{"val":${q(a.text)},"timeout":${a.timeoutSeconds}}}`;
  }
}

/** `{"nftables":[cmd,cmd,…]}` as pieces: one document is one nft transaction. */
export function* nftDocument(commands: Iterable<NftCommand>): Iterable<string> {
  yield '{"nftables":[';
  let first = true;
  for (const c of commands) {
    if (!first) yield ',';
    first = false;
    if (typeof c === 'string') yield c;
    else yield* c;
  }
  yield ']}';
}

export interface ListedSet {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly type: string;
  readonly flags: readonly string[];
  readonly elements: readonly NftElementJson[];
}

function bad(what: string): never {
  throw new SidecarError('NFT_APPLY_FAILED', 'nft', `unexpected \`nft -j list set\` output: ${what}`);
}

/** Narrows one element of a listing; anything else (maps, concatenations, timeouts) is refused. */
export function narrowElement(v: unknown): NftElementJson {
  if (typeof v === 'string') return v;
  if (isRecord(v)) {
    // Elements with options (timeouts, counters) are wrapped: {"elem": {"val": …}}.
    if (isRecord(v.elem)) return narrowElement(v.elem.val);
    const p = v.prefix;
    if (isRecord(p) && typeof p.addr === 'string' && typeof p.len === 'number') return { prefix: { addr: p.addr, len: p.len } };
    const r = v.range;
    if (Array.isArray(r) && r.length === 2 && typeof r[0] === 'string' && typeof r[1] === 'string') return { range: [r[0], r[1]] };
  }
  return bad(`element ${JSON.stringify(v)?.slice(0, 80)}`);
}

/** The `set` object of `nft -j list set F T S` output. */
export function parseListSet(doc: unknown): ListedSet {
  if (!isRecord(doc) || !Array.isArray(doc.nftables)) return bad('no "nftables" array');
  for (const item of doc.nftables) {
    if (!isRecord(item) || !isRecord(item.set)) continue;
    const s = item.set;
    if (typeof s.family !== 'string' || typeof s.table !== 'string' || typeof s.name !== 'string' || typeof s.type !== 'string') return bad('set without family/table/name/type');
    if (s.family !== 'inet' && s.family !== 'ip' && s.family !== 'ip6') return bad(`family ${s.family}`);
    const flags = Array.isArray(s.flags) ? s.flags.filter((f): f is string => typeof f === 'string') : [];
    const elem: unknown[] = Array.isArray(s.elem) ? s.elem : [];
    return { family: s.family, table: s.table, name: s.name, type: s.type, flags, elements: elem.map(narrowElement) };
  }
  return bad('no set object');
}
