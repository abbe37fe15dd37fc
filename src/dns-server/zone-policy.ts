import { RRClass, RRType, type ResourceRecord } from '../lib/dns-wire/types.js';
import { equalFold, nameToWireLower, writeName } from '../lib/dns-wire/wire-name.js';

/**
 * Which of our zones a question falls in, and the SOA we put in negative answers. Pure: no I/O.
 *
 * Matching runs on the wire bytes of the question (label by label, ASCII case-insensitive per
 * RFC 4343), not on presentation text, so an escaped dot (`evil\.local.`, one label) can never be
 * mistaken for a name under `local.`.
 */
export interface ZoneTable {
  /** Zones as configured (lowercase, absolute); indexes returned by `match` point into this. */
  readonly zones: readonly string[];
  /**
   * Longest zone that the question name at [12, nameEnd) of `msg` is equal to or under, as an
   * index into `zones`; -1 when none. `apex` is set when the name *is* the zone.
   */
  match(msg: Uint8Array, nameEnd: number): { readonly index: number; readonly apex: boolean } | undefined;
  /** The zone's SOA (RFC 2308 §3), TTL and MINIMUM = the negative TTL. */
  soa(index: number): ResourceRecord;
  /** The zone's NS (`zone. NS localhost.`, the SOA's MNAME), TTL = the negative TTL. */
  ns(index: number): ResourceRecord;
  /**
   * Is `nameLower` (presentation form, absolute) one of the zone's well-known empty non-terminals:
   * `_tcp.`, `_udp.` (RFC 6763 §4.1, §7) and `_dns-sd._udp.` (RFC 6763 §9, §11) under it?
   */
  isEmptyNonTerminal(nameLower: string, index: number): boolean;
}

/** Fixed SOA fields: nobody transfers these zones, the values only have to be plausible. */
const SOA_MNAME = 'localhost.';
const SOA_RNAME = 'nobody.invalid.'; // RFC 6761 §6.4: .invalid never resolves
const SOA_REFRESH = 3600;
const SOA_RETRY = 600;
const SOA_EXPIRE = 86400;
const EMPTY_NON_TERMINALS = ['_tcp.', '_udp.', '_dns-sd._udp.'];

export function createZoneTable(zones: readonly string[], negativeTtl: number, serial: number): ZoneTable {
  const entries = zones.map((zone, index) => {
    if (!/^([a-z0-9_-]{1,63}\.)+$/.test(zone)) {
      throw new TypeError(`dns-server: zone "${zone}" must be lowercase and absolute, e.g. "local."`);
    }
    const ns: ResourceRecord = { name: zone, type: RRType.NS, class: RRClass.IN, ttl: negativeTtl, data: nameToWireLower(SOA_MNAME) };
    const ents = new Set(EMPTY_NON_TERMINALS.map((p) => p + zone));
    return { index, wire: nameToWireLower(zone), soa: soaRecord(zone, negativeTtl, serial), ns, ents };
  });
  const byLength = new Map<number, typeof entries>();
  for (const e of entries) byLength.set(e.wire.length, [...(byLength.get(e.wire.length) ?? []), e]);
  const hits = entries.map((e) => ({ apex: { index: e.index, apex: true }, under: { index: e.index, apex: false } }));

  const entry = (index: number): (typeof entries)[number] => {
    const e = entries[index];
    if (e === undefined) throw new RangeError(`dns-server: no zone #${index}`);
    return e;
  };

  return {
    zones,
    match(msg, nameEnd) {
      // Walk the label boundaries from the left: the first suffix that is a zone is the longest.
      let apex = true;
      for (let p = 12; p < nameEnd; p += 1 + (msg[p] as number)) {
        const candidates = byLength.get(nameEnd - p);
        if (candidates !== undefined) {
          for (const e of candidates) {
            if (equalFold(msg, p, e.wire, 0, e.wire.length)) {
              const hit = hits[e.index];
              if (hit !== undefined) return apex ? hit.apex : hit.under;
            }
          }
        }
        apex = false;
      }
      return undefined;
    },
    soa(index) {
      return entry(index).soa;
    },
    ns(index) {
      return entry(index).ns;
    },
    isEmptyNonTerminal(nameLower, index) {
      return entries[index]?.ents.has(nameLower) ?? false;
    },
  };
}

/** `zone. <neg> IN SOA localhost. nobody.invalid. <serial> 3600 600 86400 <neg>` */
function soaRecord(zone: string, negativeTtl: number, serial: number): ResourceRecord {
  const data = new Uint8Array(SOA_MNAME.length + 1 + SOA_RNAME.length + 1 + 20);
  let off = writeName(data, 0, SOA_MNAME);
  off = writeName(data, off, SOA_RNAME);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const v of [serial >>> 0, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, negativeTtl]) {
    view.setUint32(off, v);
    off += 4;
  }
  return { name: zone, type: RRType.SOA, class: RRClass.IN, ttl: negativeTtl, data: data.subarray(0, off) };
}
