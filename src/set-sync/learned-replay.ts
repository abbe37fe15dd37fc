import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { MonitorHandle } from '../lib/nft/monitor.js';
import type { NftBackend } from '../lib/nft/nft-backend.js';
import { setRefText, type SetRef } from '../lib/nft/nft-json.js';

/**
 * Replay for learned sets: what learned-sets wrote is remembered (`known`), so when the kernel loses
 * it — `nft flush set`, a table or set deleted and re-created (`systemctl reload nftables`,
 * `nixos-rebuild switch`) — the addresses still inside their timeout are written back with what is
 * left of it, `REPLAY_DELAY_MS` after the burst of events, without waiting for clients to ask again
 * (their own caches keep them from asking for minutes).
 *
 * The backend's monitor, started per namespace with the first set written there, tells us: set and
 * table events, and element deletes that are not our own refreshes/removals. With netlink each
 * event says exactly whether it is ours (`origin`, from nlmsg_pid); with `nft -j monitor` our own
 * deletes are counted as they are sent (`sending`/`refused`) and, since a count can take a foreign
 * flush for ours, every delete taken for ours is checked too, at most once per GUESS_CHECK_MS.
 * Expiry in the kernel sends no event (checked on Linux 6.18). The set is listed and only the
 * missing addresses are re-added.
 */
export interface ReplaySet {
  readonly ref: SetRef;
  readonly createSets: boolean;
  /** Key prefix of this set's entries in `known` (`label|address`). */
  readonly label: string;
}

export interface LearnedReplayDeps {
  readonly backend: NftBackend;
  readonly logger: Logger;
  /** `label|address` → expiry (ms since epoch) we last wrote. */
  readonly known: ReadonlyMap<string, number>;
  readonly now: () => number;
  /** The set is gone: it must be created again before elements go in (when createSets). */
  forgetCreated(label: string): void;
  /** Writes one address back (a plain `add` with this timeout). */
  write(netns: string | undefined, set: ReplaySet, address: string, ttlSeconds: number): Promise<unknown>;
  /** Counts addresses written back. */
  replayed(n: number): void;
}

export interface LearnedReplay {
  /**
   * True while the kernel may have lost `address` of the set labelled `label`: from the event that
   * says so (a foreign flush or delete, the set or table re-created, lost events) until the replay
   * has written the set back — unless a write of that address sent after the event has landed.
   * Meanwhile an answer must not be told the address is in the set: it waits for a write instead.
   */
  inDoubt(label: string, address: string): boolean;
  /** The set's doubt epoch now: taken when a write is sent, handed to `landed` when it is acknowledged. */
  epoch(label: string): number;
  /** A write of `address` sent at `epoch` was acknowledged: if no new doubt began since, the address is back. */
  landed(label: string, address: string, epoch: number): void;
  /** A set written in `netns`: follow it (starts the namespace's monitor on first use). */
  track(netns: string | undefined, set: ReplaySet): void;
  /** Element deletes about to be sent (`n` per set label), so their monitor events are ours. */
  sending(netns: string | undefined, deletes: ReadonlyMap<string, number>): void;
  /** …and the transaction was refused: those events will not come. */
  refused(netns: string | undefined, deletes: ReadonlyMap<string, number>): void;
  stop(): Promise<void>;
}

/** Debounce after a set/table/flush event: a ruleset load is many events; check once after it. */
const REPLAY_DELAY_MS = 300;
/** A replay that failed is tried again this long after. */
const RETRY_CHECK_MS = 2_000;
/** Addresses with less than this left are not replayed (they would be gone again at once). */
const REPLAY_MIN_LEFT_MS = 2_000;
/** `nft -j monitor` only: a set whose deletes were counted as ours is listed this long after the first one (not pushed back by later ones). */
const GUESS_CHECK_MS = 2_000;

interface Space {
  readonly sets: Map<string, ReplaySet>;
  readonly ownDeletes: Map<string, number>;
  readonly toReplay: Set<string>;
  monitor: MonitorHandle | undefined;
  timer: NodeJS.Timeout | undefined;
  guessTimer: NodeJS.Timeout | undefined;
}

export function createLearnedReplay(d: LearnedReplayDeps): LearnedReplay {
  const spaces = new Map<string, Space>();
  let stopped = false;
  /** Per set label: bumped by every doubt, never reset (a write sent before a doubt cannot clear it). */
  const epochs = new Map<string, number>();
  /** Sets in doubt: the epoch it began at, and the addresses written back since. */
  const doubts = new Map<string, { epoch: number; back: Set<string> }>();
  /** Pending re-checks of replays that failed (cleared on stop). */
  const retries = new Set<NodeJS.Timeout>();
  const doubt = (label: string): void => {
    const epoch = (epochs.get(label) ?? 0) + 1;
    epochs.set(label, epoch);
    doubts.set(label, { epoch, back: new Set() });
  };
  const spaceOf = (netns: string | undefined): Space => {
    let sp = spaces.get(netns ?? '');
    if (!sp) spaces.set(netns ?? '', (sp = { sets: new Map(), ownDeletes: new Map(), toReplay: new Set(), monitor: undefined, timer: undefined, guessTimer: undefined }));
    return sp;
  };

  function watch(netns: string | undefined, sp: Space): void {
    let ups = 0;
    sp.monitor = d.backend.monitor({
      ...(netns !== undefined ? { netns } : {}),
      onState: (state, detail) => {
        if (state === 'down') return d.logger.warn({ netns, detail }, 'set-sync: nftables monitor for learned sets stopped; restarting');
        sp.ownDeletes.clear();
        if (state === 'lost') d.logger.warn({ netns, detail }, 'set-sync: nftables events were lost; checking every learned set');
        // Events may have been missed (monitor down, or dropped by the kernel): check every set once.
        if (state === 'lost' || ups++ > 0) for (const id of sp.sets.keys()) schedule(netns, sp, id);
      },
      onEvent: (e) => {
        if (e.origin === 'own') return;
        if (e.kind === 'table') {
          for (const [id, s] of sp.sets) if (s.ref.family === e.family && s.ref.table === e.table) schedule(netns, sp, id);
          return;
        }
        const id = `${e.family} ${e.table} ${e.set}`;
        const s = sp.sets.get(id);
        if (s === undefined) return;
        if (e.kind === 'set') return schedule(netns, sp, id);
        if (e.op !== 'delete') return;
        if (e.origin === 'foreign') return schedule(netns, sp, id);
        const own = sp.ownDeletes.get(s.label) ?? 0;
        if (own >= e.count) {
          sp.ownDeletes.set(s.label, own - e.count);
          return guessed(netns, sp);
        }
        sp.ownDeletes.set(s.label, 0);
        schedule(netns, sp, id);
      },
    });
  }

  function guessed(netns: string | undefined, sp: Space): void {
    if (sp.guessTimer !== undefined || stopped) return;
    sp.guessTimer = setTimeout(() => {
      sp.guessTimer = undefined;
      for (const i of sp.sets.keys()) schedule(netns, sp, i);
    }, GUESS_CHECK_MS);
    sp.guessTimer.unref();
  }

  function schedule(netns: string | undefined, sp: Space, id: string): void {
    if (stopped) return;
    const set = sp.sets.get(id);
    if (set !== undefined) doubt(set.label);
    sp.toReplay.add(id);
    if (sp.timer !== undefined) clearTimeout(sp.timer);
    sp.timer = setTimeout(() => {
      sp.timer = undefined;
      const ids = [...sp.toReplay];
      sp.toReplay.clear();
      for (const i of ids) {
        const s = sp.sets.get(i);
        if (s !== undefined) check(netns, s, epochs.get(s.label) ?? 0);
      }
    }, REPLAY_DELAY_MS);
    sp.timer.unref();
  }

  /**
   * Replays `s` and ends the doubt that began at `began` (unless a newer event began another).
   * A replay that fails (the set could not be read) is tried again RETRY_CHECK_MS later: until it
   * succeeds, every answer for the set's addresses waits for a write of its own.
   */
  function check(netns: string | undefined, s: ReplaySet, began: number): void {
    replay(netns, s).then(
      () => {
        if (doubts.get(s.label)?.epoch === began) doubts.delete(s.label);
      },
      (err: unknown) => {
        d.logger.warn(
          { err: errorMessage(err), set: setRefText(s.ref), netns },
          `set-sync: learned-set replay failed; answers for its addresses wait for their own writes; checking again in ${RETRY_CHECK_MS / 1000} s`,
        );
        if (stopped || doubts.get(s.label)?.epoch !== began) return; // a newer event has its own check
        const t = setTimeout(() => {
          retries.delete(t);
          if (!stopped) check(netns, s, began);
        }, RETRY_CHECK_MS);
        t.unref();
        retries.add(t);
      },
    );
  }

  async function replay(netns: string | undefined, s: ReplaySet): Promise<void> {
    const t = d.now();
    const prefix = `${s.label}|`;
    const alive: [string, number][] = [];
    for (const [key, exp] of d.known) if (key.startsWith(prefix) && exp - t >= REPLAY_MIN_LEFT_MS) alive.push([key.slice(prefix.length), exp]);
    if (alive.length === 0) return;
    const listing = await d.backend.listSet(s.ref, netns);
    if (listing.kind === 'missing') {
      d.forgetCreated(s.label);
      // Without createSets the elements wait for the set like any other (held, retried).
      if (!s.createSets) d.logger.warn({ set: setRefText(s.ref), netns, what: listing.what }, 'set-sync: learned set is gone; its addresses are written back when it reappears');
    }
    const present = new Set(listing.kind === 'ok' ? listing.set.elements.filter((e): e is string => typeof e === 'string') : []);
    const lost = alive.filter(([address]) => !present.has(address));
    if (lost.length === 0) return;
    d.logger.info({ set: setRefText(s.ref), netns, addresses: lost.length }, 'set-sync: learned addresses were removed from the kernel (flush or reload); writing them back with the timeout left');
    d.replayed(lost.length);
    await Promise.all(lost.map(([address, exp]) => d.write(netns, s, address, Math.ceil((exp - t) / 1000))));
  }

  const adjust = (netns: string | undefined, deletes: ReadonlyMap<string, number>, sign: 1 | -1): void => {
    const own = spaceOf(netns).ownDeletes;
    for (const [label, n] of deletes) own.set(label, Math.max(0, (own.get(label) ?? 0) + sign * n));
  };

  return {
    inDoubt(label, address) {
      const x = doubts.get(label);
      return x !== undefined && !x.back.has(address);
    },
    epoch: (label) => epochs.get(label) ?? 0,
    landed(label, address, epoch) {
      const x = doubts.get(label);
      if (x !== undefined && x.epoch === epoch) x.back.add(address);
    },
    track(netns, set) {
      const sp = spaceOf(netns);
      const id = `${set.ref.family} ${set.ref.table} ${set.ref.set}`;
      if (sp.sets.has(id)) return;
      sp.sets.set(id, set);
      if (sp.monitor === undefined && !stopped) watch(netns, sp);
    },
    sending: (netns, deletes) => adjust(netns, deletes, 1),
    refused: (netns, deletes) => adjust(netns, deletes, -1),
    async stop() {
      stopped = true;
      for (const t of retries) clearTimeout(t);
      retries.clear();
      for (const sp of spaces.values()) {
        if (sp.timer !== undefined) clearTimeout(sp.timer);
        if (sp.guessTimer !== undefined) clearTimeout(sp.guessTimer);
        sp.timer = sp.guessTimer = undefined;
        await sp.monitor?.stop();
        sp.monitor = undefined;
      }
    },
  };
}
