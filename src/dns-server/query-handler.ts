import type { Logger } from 'pino';
import { EDNS_VERSION, OUR_UDP_SIZE, RCODE_BADVERS, udpReplyLimit, type OptReply } from '../lib/dns-wire/edns.js';
import { readRequest, type ParsedQuery } from '../lib/dns-wire/request-reader.js';
import { writeResponse, type ResponseSpec } from '../lib/dns-wire/response-writer.js';
import { Rcode, RRClass, RRType, type Question, type ResourceRecord, type ZoneAnswer } from '../lib/dns-wire/types.js';
import { readName } from '../lib/dns-wire/wire-name.js';
import type { DnsMetrics } from './metrics.js';
import { UdpHandoff, type HandoffSlot } from './udp-handoff.js';
import type { ZoneTable } from './zone-policy.js';

/**
 * One DNS message in, at most one reply out: validate, apply zone policy, call `resolve`, encode.
 * Transport-neutral: the UDP and TCP listeners hand messages in and get bytes back through a
 * `ReplyChannel`. Every path is guarded; nothing a packet contains can throw out of `handle`.
 */
export interface ReplyChannel<C> {
  /** TCP replies get the 2-byte length prefix and the 65535-byte limit instead of the UDP one. */
  readonly tcp: boolean;
  /**
   * Called exactly once per `handle` call: with the reply, or `undefined` when none is sent (so the
   * TCP side can count in-flight queries). Must not throw: a closed socket is the channel's problem.
   */
  reply(ctx: C, msg: Buffer | undefined): void;
}

export interface QueryHandler {
  handle<C>(msg: Buffer, channel: ReplyChannel<C>, ctx: C): void;
  /** `resolve` calls not yet settled. */
  inFlight(): number;
  /** Stops the UDP hand-off timer (the server is closing). */
  stop(): void;
}

export interface QueryHandlerOptions {
  readonly zones: ZoneTable;
  readonly resolve: (question: Question, zone: string, signal: AbortSignal) => Promise<ZoneAnswer>;
  readonly metrics: DnsMetrics;
  readonly logger: Logger;
  /** Aborted when the server stops; handed to every `resolve`. */
  readonly signal: AbortSignal;
  /** Above this many unsettled `resolve` calls, new in-zone queries get SERVFAIL at once. */
  readonly maxInFlight: number;
  /** UDP questions unanswered after this many ms get TC=1 (see udp-handoff.ts); 0 = never. */
  readonly udpHandoffMs: number;
}

const OPT_DO: OptReply = { udpSize: OUR_UDP_SIZE, dnssecOk: true };
const OPT_NO_DO: OptReply = { udpSize: OUR_UDP_SIZE, dnssecOk: false };
const NONE: readonly ResourceRecord[] = [];
/** Header bytes 2–3 (RFC 1035 §4.1.1, RFC 4035 §3.1.6). */
const OPCODE_BITS = 0x7800;
const RD_BIT = 0x0100;
const CD_BIT = 0x0010;
const TCP_MAX = 65535;
/** RFC 5936 §4.1 / RFC 1995: zone transfers are not offered. */
const AXFR = 252;
const IXFR = 251;

export function createQueryHandler(opts: QueryHandlerOptions): QueryHandler {
  const { zones, metrics, signal } = opts;
  let pending = 0;
  const warn = rateLimited(opts.logger, 10_000);
  const handoff = opts.udpHandoffMs > 0 ? new UdpHandoff(opts.udpHandoffMs) : undefined;

  function send<C>(channel: ReplyChannel<C>, ctx: C, spec: ResponseSpec, zone: number, qtype: number, t0: number): void {
    let msg: Buffer;
    try {
      msg = writeResponse(spec);
    } catch (err) {
      // A record the resolver built that cannot be encoded (bad owner name, rdata > 64 KiB):
      // the resolver's bug, the client's SERVFAIL (RFC 1035 §4.1.1 "server failure").
      warn('encode', err, 'dns-server: cannot encode the answer, replying SERVFAIL');
      spec = { ...spec, aa: false, rcode: Rcode.SERVFAIL, answers: NONE, authority: NONE };
      msg = writeResponse(spec);
    }
    channel.reply(ctx, msg);
    metrics.request(zone, qtype, spec.rcode, (performance.now() - t0) / 1000);
  }

  function answerQuery<C>(q: ParsedQuery, msg: Buffer, channel: ReplyChannel<C>, ctx: C, t0: number): void {
    const base: ResponseSpec = {
      id: q.id,
      requestFlags: q.flags,
      aa: false,
      rcode: Rcode.NOERROR,
      request: msg,
      questionEnd: q.questionEnd,
      answers: NONE,
      authority: NONE,
      opt: q.edns === undefined ? undefined : q.edns.dnssecOk ? OPT_DO : OPT_NO_DO,
      maxSize: channel.tcp ? TCP_MAX : udpReplyLimit(q.edns),
      lengthPrefix: channel.tcp,
    };
    // RFC 6891 §6.1.3: a version we do not implement → BADVERS, with our OPT saying version 0.
    if (q.edns !== undefined && q.edns.version > EDNS_VERSION) {
      return send(channel, ctx, { ...base, rcode: RCODE_BADVERS }, -1, q.qtype, t0);
    }
    const hit = q.qclass === RRClass.IN ? zones.match(msg, q.nameEnd) : undefined;
    // Never an open resolver: anything outside our zones (or not class IN) is REFUSED.
    if (hit === undefined) return send(channel, ctx, { ...base, rcode: Rcode.REFUSED }, -1, q.qtype, t0);
    const zone = hit.index;
    if (q.qtype === AXFR || q.qtype === IXFR) {
      return send(channel, ctx, { ...base, rcode: Rcode.REFUSED }, zone, q.qtype, t0);
    }
    if (hit.apex) return send(channel, ctx, apexSpec(base, zone, q.qtype), zone, q.qtype, t0);
    if (pending >= opts.maxInFlight) {
      warn('overload', undefined, `dns-server: ${pending} lookups in flight, replying SERVFAIL`);
      return send(channel, ctx, { ...base, rcode: Rcode.SERVFAIL }, zone, q.qtype, t0);
    }

    const question: Question = { name: readName(msg, 12), type: q.qtype, class: q.qclass };
    const zoneName = zones.zones[zone] ?? '';
    // `_tcp`, `_udp`, `_dns-sd._udp` exist only as parents of service names (RFC 6763 §4.1, §9,
    // §11): NODATA, never NXDOMAIN, which would deny every service under them (RFC 8020).
    if (zones.isEmptyNonTerminal(question.name.toLowerCase(), zone)) {
      return send(channel, ctx, { ...base, aa: true, authority: [zones.soa(zone)] }, zone, q.qtype, t0);
    }
    let answer: Promise<ZoneAnswer>;
    try {
      answer = opts.resolve(question, zoneName, signal);
      if (!(answer instanceof Promise)) answer = Promise.resolve(answer);
    } catch (err) {
      answer = Promise.reject(err);
    }
    pending++;
    const slot = handoff !== undefined && !channel.tcp ? handoff.add(() => handOff(base, zone, q.qtype, channel, ctx)) : undefined;
    answer.then(
      (a) => {
        pending--;
        finish(a, base, zone, q.qtype, channel, ctx, t0, slot);
      },
      (err: unknown) => {
        pending--;
        warn('resolve', err, 'dns-server: resolve failed, replying SERVFAIL');
        finish({ kind: 'servfail', reason: 'resolve threw' }, base, zone, q.qtype, channel, ctx, t0, slot);
      },
    );
  }

  /** Too slow for UDP: TC=1, no records; the client's TCP retry joins the lookup (udp-handoff.ts). */
  function handOff<C>(base: ResponseSpec, zone: number, qtype: number, channel: ReplyChannel<C>, ctx: C): void {
    try {
      if (signal.aborted) return;
      // AA as on every answer from our zones: the TC reply is ours too (RFC 1035 §4.1.1).
      channel.reply(ctx, writeResponse({ ...base, aa: true, truncate: true }));
      metrics.handoff(zone, qtype);
    } catch (err) {
      warn('handoff', err, 'dns-server: could not send the TCP hand-off');
    }
  }

  function finish<C>(a: ZoneAnswer, base: ResponseSpec, zone: number, qtype: number, channel: ReplyChannel<C>, ctx: C, t0: number, slot?: HandoffSlot): void {
    try {
      if (slot !== undefined) {
        if (slot.settled) return; // handed off to TCP: the UDP client no longer waits for this
        slot.settled = true;
      }
      if (signal.aborted) return channel.reply(ctx, undefined); // stopped: sockets are closing
      send(channel, ctx, specFor(a, base, zone), zone, qtype, t0);
    } catch (err) {
      warn('finish', err, 'dns-server: could not reply');
      channel.reply(ctx, undefined);
    }
  }

  /**
   * The apex is ours: SOA and NS answered, every other type NODATA with the SOA (RFC 2308 §2.2);
   * ANY gets the SOA alone (RFC 8482 §4.1: one RRset is enough). No lookup: nothing in mDNS owns
   * `local.` itself.
   */
  function apexSpec(base: ResponseSpec, zone: number, qtype: number): ResponseSpec {
    if (qtype === RRType.SOA || qtype === RRType.ANY) return { ...base, aa: true, answers: [zones.soa(zone)] };
    if (qtype === RRType.NS) return { ...base, aa: true, answers: [zones.ns(zone)] };
    return { ...base, aa: true, authority: [zones.soa(zone)] };
  }

  /** Map a zone answer to rcode and sections; negatives carry the SOA (RFC 2308 §3, §5). */
  function specFor(a: ZoneAnswer, base: ResponseSpec, zone: number): ResponseSpec {
    switch (a.kind) {
      case 'answer':
        if (a.records.length > 0) return { ...base, aa: true, answers: a.records };
        return { ...base, aa: true, authority: [zones.soa(zone)] };
      case 'nodata':
        return { ...base, aa: true, authority: [zones.soa(zone)] };
      case 'nxdomain':
        return { ...base, aa: true, rcode: Rcode.NXDOMAIN, authority: [zones.soa(zone)] };
      case 'servfail':
        return { ...base, rcode: Rcode.SERVFAIL };
      default: {
        const never: never = a;
        warn('answer', undefined, `dns-server: unknown answer ${JSON.stringify(never)}`);
        return { ...base, rcode: Rcode.SERVFAIL };
      }
    }
  }

  return {
    inFlight: () => pending,
    stop: () => handoff?.stop(),
    handle(msg, channel, ctx) {
      const t0 = performance.now();
      try {
        const r = readRequest(msg);
        switch (r.kind) {
          case 'query':
            return answerQuery(r, msg, channel, ctx, t0);
          case 'drop':
            metrics.malformed(r.reason);
            return channel.reply(ctx, undefined);
          case 'error': {
            if (r.reason !== undefined) metrics.malformed(r.reason);
            // Header-only reply with the ID: we could not (or must not) interpret the rest. RFC 1035
            // §4.1.1 copies ID and opcode; RD and CD (RFC 4035 §3.1.6) are bits of a QUERY and are
            // echoed only for one: other opcodes give the header their own meaning (RFC 2136 §2.2),
            // so NOTIMP echoes the opcode alone. An OPT is answered with ours (RFC 6891 §7).
            const echoed = r.rcode === Rcode.NOTIMP ? r.flags & OPCODE_BITS : r.flags & (OPCODE_BITS | RD_BIT | CD_BIT);
            const spec: ResponseSpec = {
              id: r.id,
              requestFlags: echoed,
              aa: false,
              rcode: r.rcode,
              answers: NONE,
              authority: NONE,
              maxSize: 512,
              lengthPrefix: channel.tcp,
              ...(r.edns !== undefined ? { opt: r.edns.dnssecOk ? OPT_DO : OPT_NO_DO } : {}),
            };
            return send(channel, ctx, spec, -1, -1, t0);
          }
        }
      } catch (err) {
        // Only a bug gets here (the reader does not throw); still never let a packet kill us.
        warn('handle', err, 'dns-server: unexpected error handling a message');
        channel.reply(ctx, undefined);
      }
    },
  };
}

/** One log line per `key` per interval, with how many were suppressed: a flood must not flood logs. */
function rateLimited(logger: Logger, intervalMs: number) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key: string, err: unknown, msg: string): void => {
    const now = Date.now();
    const entry = last.get(key);
    if (entry !== undefined && now - entry.at < intervalMs) {
      entry.suppressed++;
      return;
    }
    logger.warn({ err, suppressed: entry?.suppressed ?? 0 }, msg);
    last.set(key, { at: now, suppressed: 0 });
  };
}
