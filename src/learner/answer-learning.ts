import { answerKey } from '../lib/dns-wire/answer-key.js';
import { readTtl } from '../lib/dns-wire/response-reader.js';
import { extractAnswers, namesLeadingTo, type AddressAnswer, type AnswersError } from '../lib/dnstap/index.js';
import type { Learn, LearnOutcome } from './dnstap-ingest.js';
import type { ListMatchers } from './list-matchers.js';

/**
 * One DNS response → its listed addresses submitted to the learned sets. Shared by the dnstap
 * ingest (fire and forget) and the DNS front (which awaits it before relaying the answer).
 *
 * For every A/AAAA in the answer section, the owner and every name whose CNAME chain leads to it
 * is matched against each learning list; a hit goes through `learn` (static-set, bogon and
 * exclude guards, TTL clamp, then set-sync's `submit`, which answers at once for an address it
 * wrote recently with enough time left).
 */

export interface LearnReport {
  /** (address, list) pairs the answer's names matched. */
  readonly listed: number;
  readonly learned: number;
  /** Already in the set with enough time left: no kernel work. */
  readonly unchanged: number;
  /** Not learned on purpose: inside the static set, bogon, excluded, too broad, or no set for the family. */
  readonly skipped: number;
  readonly failed: number;
  /**
   * Submitted but not awaited: the set is missing and set-sync holds them for its retry. The
   * reason (what to do) is in `unavailable`.
   */
  readonly held: number;
  readonly unavailable: string | undefined;
}

/**
 * Undefined when nothing needs the kernel (no address for any learning list, every listed one
 * already in its set with time left, or a malformed answer): decided synchronously. Otherwise resolves once every address is in the kernel (or
 * known not to be); never rejects.
 */
export type LearnAnswer = (msg: Uint8Array, seenAt?: number) => Promise<LearnReport> | undefined;

/**
 * A response's plan — which of its addresses go to which list, under which names — is kept by its
 * answer key (lib/dns-wire/answer-key.ts) while the lists stay as they are (ListMatchers.version):
 * Unbound answers a popular name from its cache with the same bytes every time but the ID and
 * TTLs, and the plan is what costs (names decoded, lowercased and matched; addresses built). A hit
 * reads only the current TTLs. Bounded: at most MEMO_ENTRIES keys of at most MEMO_KEY_BYTES each
 * (~2 MiB), dropped together when full or when a list changes.
 */
const MEMO_ENTRIES = 4096;
const MEMO_KEY_BYTES = 512;

interface Step {
  readonly list: ListMatchers['lists'][number];
  readonly a: AddressAnswer;
  /** Where this record's TTL sits in every response of this key. */
  readonly ttlAt: number;
  readonly name: string;
  readonly hit: string;
}

export function createLearnAnswer(deps: {
  matchers: ListMatchers;
  learn: Learn;
  unavailable: (list: Parameters<Learn>[0], family: 'ipv4' | 'ipv6') => string | undefined;
  malformed?: (reason: AnswersError) => void;
}): LearnAnswer {
  const { matchers, learn } = deps;
  // Most answers match no learning list: screened on their owners before any address is built.
  const wanted = (name: string): boolean => matchers.anyLearningMatch(name);
  const memo = new Map<string, readonly Step[]>();
  let memoVersion = matchers.version;

  /** The full reading: undefined for a malformed response (reported). */
  function plan(msg: Uint8Array): Step[] | undefined {
    const r = extractAnswers(msg, undefined, wanted);
    if (r.kind === 'error') {
      deps.malformed?.(r.reason);
      return undefined;
    }
    const steps: Step[] = [];
    // One chain walk per distinct owner (a response usually has one owner for all its addresses).
    let lastOwner = '';
    let names: string[] = [];
    for (const a of r.addresses) {
      if (a.owner !== lastOwner) {
        lastOwner = a.owner;
        names = r.cnames.length === 0 ? [a.owner] : namesLeadingTo(a.owner, r.cnames);
      }
      for (const list of matchers.lists) {
        if (list.target === undefined) continue;
        const hit = matchers.anyMatches(list, names);
        if (hit === undefined) continue;
        // The chain's head (the name the client asked) is what `lookup` shows as "learned for".
        steps.push({ list, a, ttlAt: a.rdataOffset - 6, name: stripDot(names[names.length - 1] ?? hit), hit: stripDot(hit) });
      }
    }
    return steps;
  }

  return (msg, seenAt = performance.now()) => {
    if (matchers.version !== memoVersion) {
      memo.clear();
      memoVersion = matchers.version;
    }
    const key = answerKey(msg, MEMO_KEY_BYTES);
    let steps = key === undefined ? undefined : memo.get(key);
    if (steps === undefined) {
      const made = plan(msg);
      if (made === undefined) return undefined;
      steps = made;
      if (key !== undefined) {
        if (memo.size >= MEMO_ENTRIES) memo.clear();
        memo.set(key, made);
      }
    }
    if (steps.length === 0) return undefined;
    let waits: Promise<LearnOutcome>[] | undefined;
    const decided: LearnOutcome[] = [];
    let held = 0;
    let unavailable: string | undefined;
    for (const st of steps) {
      const ttl = readTtl(msg, st.ttlAt);
      const p = learn(st.list, { family: st.a.family, address: st.a.address, words: st.a.words, ttl }, st.name, seenAt, st.hit);
      const why = deps.unavailable(st.list, st.a.family);
      if (why !== undefined) {
        held++;
        unavailable ??= why;
        continue;
      }
      if (typeof p === 'string')
        decided.push(p); // decided at once (already in the set, or skipped): nothing to wait for
      else (waits ??= []).push(p);
    }
    // Only what must reach the kernel is waited for: an answer whose addresses are all in the set
    // with time left is relayed with no Promise at all.
    if (waits === undefined && held === 0) return undefined;
    return Promise.all(waits ?? []).then((awaited) => {
      const outcomes = decided.length === 0 ? awaited : [...decided, ...awaited];
      const count = (k: LearnOutcome) => outcomes.reduce((n, o) => (o === k ? n + 1 : n), 0);
      return { listed: outcomes.length + held, learned: count('learned'), unchanged: count('unchanged'), skipped: count('skipped'), failed: count('failed'), held, unavailable };
    });
  };
}

function stripDot(n: string): string {
  return n.endsWith('.') ? n.slice(0, -1) : n;
}
