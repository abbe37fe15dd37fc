import { ElementCommand, RangeElements, type NftCommand, type SetRef } from '../nft-json.js';
import { itemOf, type ElemItem, type ElemOp } from './set-elements.js';

/**
 * Which of a transaction's commands the netlink encoder takes. Element adds/deletes and set
 * flushes are netlink; `add table` / `add set` (createSets: rare, and idempotent in nft) are
 * returned for the nft CLI, which runs them first; anything else makes the whole transaction go to
 * the CLI (undefined), so a transaction is never split in a way that changes its meaning.
 */
export interface Translated {
  readonly create: string[];
  readonly ops: ElemOp[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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

/** One command as an ElemOp, 'create', or undefined (not ours). */
function translateOne(c: NftCommand): ElemOp | { create: string } | undefined {
  if (c instanceof ElementCommand) {
    if (c.elements instanceof RangeElements) return { op: c.op, ref: c.ref, elems: { kind: 'ranges', set: c.elements.set } };
    const parsed = items((function* () {
      for (const piece of c.elements) yield JSON.parse(piece) as unknown;
    })());
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
  if (verb === 'add' && (isRecord(body.table) || isRecord(body.set))) return { create: text };
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
  const create: string[] = [];
  const ops: ElemOp[] = [];
  for (const c of commands) {
    const t = translateOne(c);
    if (t === undefined) return undefined;
    if ('create' in t) {
      // A create after an element op would have to run between netlink messages: let nft do it all.
      if (ops.length > 0) return undefined;
      create.push(t.create);
    } else ops.push(t);
  }
  return { create, ops };
}
