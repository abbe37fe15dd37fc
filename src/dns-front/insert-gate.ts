import type { Logger } from 'pino';
import type { LearnAnswer, LearnReport } from '../learner/index.js';
import type { FrontMetrics } from './metrics.js';

/**
 * Insert, then answer. An answer whose addresses a learning list matches is held until the
 * learner reports them in the kernel set (set-sync's ACK), for at most `deadlineMs`: past it the
 * answer goes out anyway (fail-open, counted) or, with `failClosed`, the client gets SERVFAIL and
 * retries — by then the insertion has usually landed, so the retry's answer is safe.
 *
 * An answer with nothing listed (or only addresses already in the set with time left: set-sync
 * answers those without kernel work) is relayed with no timer and no wait.
 *
 * Insertion that cannot work (the set is missing; nftables refuses, e.g. no CAP_NET_ADMIN) never
 * holds answers: they are relayed at once — failClosed there would turn a configuration mistake
 * into an outage of every listed name — and the problem is logged once and shown in status.
 */

export type GateVerdict = 'relay' | 'servfail';

export interface InsertionStatus {
  /** 'off': no learning lists (the front is a pure PROXYv2 relay). */
  readonly state: 'ok' | 'off' | 'unavailable' | 'failing';
  readonly problem?: string;
  readonly deadlineMisses: number;
  readonly failOpen: number;
  readonly failClosed: number;
}

export interface InsertGate {
  /** Undefined: relay now. Otherwise the verdict once the insertion is done or the deadline passed. Never rejects. */
  check(answer: Uint8Array, receivedAt: number): Promise<GateVerdict> | undefined;
  status(): InsertionStatus;
}

export function createInsertGate(opts: { learnAnswer: LearnAnswer | undefined; deadlineMs: number; failClosed: boolean; metrics: FrontMetrics; logger: Logger }): InsertGate {
  const { learnAnswer, deadlineMs, metrics, logger } = opts;
  let problem: { state: 'unavailable' | 'failing'; text: string } | undefined;
  let failOpen = 0;
  let failClosed = 0;
  let misses = 0;

  function note(r: LearnReport): void {
    if (r.held > 0) metrics.insertUnavailable.inc({ reason: 'set-missing' }, 1);
    else if (r.failed > 0) metrics.insertUnavailable.inc({ reason: 'failed' }, 1);
    const next =
      r.held > 0
        ? { state: 'unavailable' as const, text: `${r.unavailable ?? 'learned set missing'}; answers are relayed without waiting` }
        : r.failed > 0
          ? { state: 'failing' as const, text: 'dns-front: writing learned addresses failed (see set-sync errors; the daemon needs CAP_NET_ADMIN); answers are relayed without waiting' }
          : undefined;
    if (next !== undefined && problem?.text !== next.text) logger.error(next.text);
    if (next === undefined && problem !== undefined && r.learned + r.unchanged > 0) logger.info('dns-front: learned-set insertion works again');
    if (next !== undefined || r.learned + r.unchanged > 0) problem = next;
  }

  return {
    check(answer, receivedAt) {
      if (learnAnswer === undefined) return undefined;
      const p = learnAnswer(answer, receivedAt);
      if (p === undefined) return undefined;
      // Known to be failing (nftables refuses our writes): relay now, keep trying in the background;
      // the first insertion that works again clears the state (note()).
      if (deadlineMs === 0 || problem?.state === 'failing') {
        void p.then(note);
        return undefined;
      }
      return new Promise<GateVerdict>((resolve) => {
        let settled = false;
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          misses++;
          metrics.insertWait.observe(deadlineMs / 1000);
          if (opts.failClosed) failClosed++;
          else failOpen++;
          metrics.deadlineMisses.inc({ action: opts.failClosed ? 'fail-closed' : 'fail-open' });
          resolve(opts.failClosed ? 'servfail' : 'relay');
        }, deadlineMs);
        void p.then((r) => {
          note(r);
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          metrics.insertWait.observe((performance.now() - receivedAt) / 1000);
          resolve('relay');
        });
      });
    },
    status() {
      const state = learnAnswer === undefined ? 'off' : (problem?.state ?? 'ok');
      return { state, ...(problem ? { problem: problem.text } : {}), deadlineMisses: misses, failOpen, failClosed };
    },
  };
}
