import { AddressElements, CreateCommand, ElementCommand, FlushCommand, RangeElements, type NftCommand, type SetRef } from '../nft-json.js';
import type { CreateOp } from './set-create.js';
import { itemOf, type ElemItem, type ElemOp } from './set-elements.js';
import { isRecord } from '../../narrow/is-record.js';

/**
 * Which of a transaction's commands the netlink encoder takes: element adds/deletes, set flushes,
 * and `add table` / `add set` of the shapes set-sync and the learner write (an address type, flags
 * interval or timeout, nothing else), all in ONE batch. Anything else makes the whole transaction
 * go to the nft CLI (undefined), so a transaction is never split in a way that changes its meaning.
 */
export interface Translated {
  /** Before every element op (the batch creates first). */
  readonly create: CreateOp[];
  readonly ops: ElemOp[];
}

function refOf(o: unknown, nameKey: 'name'): SetRef | undefined {
  if (!isRecord(o)) return undefined;
  const { family, table } = o;
  const set = o[nameKey];
  if ((family !== 'inet' && family !== 'ip' && family !== 'ip6') || typeof table !== 'string' || typeof set !== 'string') return undefined;
  return { family, table, set };
}

function items(elems: Iterable<unknown>): ElemItem[] | undefined {
  const out: ElemItem[] = [];
  for (const e of elems) {
    const it = itemOf(e);
    if (!it) return undefined;
    out.push(it);
  }
  return out;
}

const onlyKeys = (o: Record<string, unknown>, keys: readonly string[]): boolean => Object.keys(o).every((k) => keys.includes(k));

/** `{"table":{family,name}}` or `{"set":{family,table,name,type,flags?}}` of an `add`; undefined = a shape we do not encode. */
function createOf(body: Record<string, unknown>): CreateOp | undefined {
  const t = body.table;
  if (isRecord(t)) {
    const ref = refOf({ family: t.family, table: t.name, name: '' }, 'name');
    return ref && onlyKeys(t, ['family', 'name']) ? { op: 'table', family: ref.family, table: ref.table } : undefined;
  }
  const s = body.set;
  if (!isRecord(s) || !onlyKeys(s, ['family', 'table', 'name', 'type', 'flags'])) return undefined;
  const ref = refOf(s, 'name');
  const flags = s.flags === undefined ? [] : s.flags;
  if (!ref || (s.type !== 'ipv4_addr' && s.type !== 'ipv6_addr') || !Array.isArray(flags)) return undefined;
  const known = flags.filter((f): f is 'interval' | 'timeout' => f === 'interval' || f === 'timeout');
  return known.length === flags.length ? { op: 'set', ref, type: s.type, flags: known } : undefined;
}

/** One command as an ElemOp, a create, or undefined (not ours). */
function translateOne(c: NftCommand): ElemOp | { create: CreateOp } | undefined {
  // Typed commands (all set-sync sends) are encoded from their values; JSON text is parsed only for others.
  if (c instanceof CreateCommand) return { create: c.spec };
  if (c instanceof FlushCommand) return { op: 'flush', ref: c.ref };
  if (c instanceof ElementCommand) {
    if (c.elements instanceof RangeElements) return { op: c.op, ref: c.ref, elems: { kind: 'ranges', set: c.elements.set } };
    if (c.elements instanceof AddressElements) {
      const items = c.elements.items.map(
        (a): ElemItem =>
          a.timeoutSeconds === undefined ? { family: a.family, first: a.words, last: a.words } : { family: a.family, first: a.words, last: a.words, timeoutMs: Math.round(a.timeoutSeconds * 1000) },
      );
      return { op: c.op, ref: c.ref, elems: { kind: 'items', items } };
    }
    const parsed = items(
      (function* () {
        for (const piece of c.elements) yield JSON.parse(piece) as unknown;
      })(),
    );
    return parsed && { op: c.op, ref: c.ref, elems: { kind: 'items', items: parsed } };
  }
  const text = typeof c === 'string' ? c : [...c].join('');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  const verbs = Object.keys(doc);
  const verb = verbs[0];
  if (verbs.length !== 1 || verb === undefined) return undefined;
  const body = doc[verb];
  if (!isRecord(body)) return undefined;
  const kinds = Object.keys(body);
  if (kinds.length !== 1) return undefined;
  if (verb === 'add' && (isRecord(body.table) || isRecord(body.set))) {
    const create = createOf(body);
    return create && { create };
  }
  if (verb === 'flush' && isRecord(body.set)) {
    const ref = refOf(body.set, 'name');
    return ref && { op: 'flush', ref };
  }
  if ((verb === 'add' || verb === 'delete') && isRecord(body.element)) {
    const ref = refOf(body.element, 'name');
    const elem = body.element.elem;
    const parsed = Array.isArray(elem) ? items(elem) : undefined;
    return ref && parsed && { op: verb, ref, elems: { kind: 'items', items: parsed } };
  }
  return undefined;
}

export function translate(commands: readonly NftCommand[]): Translated | undefined {
  const create: CreateOp[] = [];
  const ops: ElemOp[] = [];
  for (const c of commands) {
    const t = translateOne(c);
    if (t === undefined) return undefined;
    if ('create' in t) {
      // Creates go first in the batch: one after an element op would reorder the transaction.
      if (ops.length > 0) return undefined;
      create.push(t.create);
    } else ops.push(t);
  }
  return { create, ops };
}
