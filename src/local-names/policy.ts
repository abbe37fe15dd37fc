import { parseRecordLine } from '../lib/dns-wire/presentation.js';
import { parseTypeName, RRType, type ResourceRecord } from '../lib/dns-wire/types.js';
import type { PolicyConfig } from './config.js';

/**
 * The answer policy, decided before any mDNS traffic: what the Python plugin's environment
 * variables did (MDNS_ACCEPT_NAMES and friends), plus aliases and static records.
 */
export type PolicyDecision =
  /** Answer from configuration, no lookup. */
  | { kind: 'static'; records: readonly ResourceRecord[] }
  | { kind: 'nxdomain' }
  | { kind: 'nodata' }
  /** Look `lookupName` up; answer under the name asked. */
  | { kind: 'lookup'; lookupName: string };

export interface AnswerPolicy {
  decide(nameLower: string, type: number): PolicyDecision;
  /** Drop what a unicast client cannot use (fe80::/10 AAAA). */
  filter(records: readonly ResourceRecord[]): ResourceRecord[];
  /** Would `filter` keep a record of this type and data? */
  usable(type: number, data: Uint8Array): boolean;
}

function isLinkLocalV6(data: Uint8Array): boolean {
  return data.length === 16 && data[0] === 0xfe && ((data[1] ?? 0) & 0xc0) === 0x80;
}

/** Throws PresentationError on a bad static record (config validation calls this too). */
export function createAnswerPolicy(config: PolicyConfig, defaultTtl: number): AnswerPolicy {
  const accept = config.acceptNames.map((r) => new RegExp(r, 'i'));
  const reject = config.rejectNames.map((r) => new RegExp(r, 'i'));
  const acceptTypes = new Set(config.acceptTypes.map((t) => parseTypeName(t)));
  const rejectTypes = new Set(config.rejectTypes.map((t) => parseTypeName(t)));
  const aliases = new Map(Object.entries(config.aliases));

  // name (lowercase) → its static records; a name with static records is answered only from them.
  const statics = new Map<string, ResourceRecord[]>();
  for (const line of config.staticRecords) {
    const rr = parseRecordLine(line, defaultTtl);
    const key = rr.name.toLowerCase();
    const list = statics.get(key) ?? [];
    list.push(rr);
    statics.set(key, list);
  }

  return {
    decide(name, type) {
      const own = statics.get(name);
      if (own) {
        const matching = own.filter((rr) => rr.type === type || type === RRType.ANY);
        return matching.length > 0 ? { kind: 'static', records: matching } : { kind: 'nodata' };
      }
      if (reject.some((r) => r.test(name))) return { kind: 'nxdomain' };
      if (accept.length > 0 && !accept.some((r) => r.test(name))) return { kind: 'nxdomain' };
      if (rejectTypes.has(type)) return { kind: 'nodata' };
      if (acceptTypes.size > 0 && !acceptTypes.has(type)) return { kind: 'nodata' };
      const target = aliases.get(name);
      if (target !== undefined) {
        // An alias may point at a static name: answer those records under the name asked.
        const targetStatic = statics.get(target);
        if (targetStatic) {
          const matching = targetStatic.filter((rr) => rr.type === type || type === RRType.ANY);
          return matching.length > 0 ? { kind: 'static', records: matching } : { kind: 'nodata' };
        }
        return { kind: 'lookup', lookupName: target };
      }
      return { kind: 'lookup', lookupName: name };
    },
    filter(records) {
      return records.filter((rr) => this.usable(rr.type, rr.data));
    },
    usable(type, data) {
      return !(config.dropLinkLocalAAAA && type === RRType.AAAA && isLinkLocalV6(data));
    },
  };
}
