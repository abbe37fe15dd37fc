import type { DecodedMessage } from './dns-message.js';

/** One DNS exchange from inside a namespace. */
export interface DnsQuery {
  readonly server: string;
  readonly port: number;
  /** Sent byte for byte (case kept, for 0x20 checks). */
  readonly name: string;
  /** "A", "AAAA", "PTR", "TYPE65" or a number. */
  readonly type: string | number;
  /** Default 1 (IN); 3 is CHAOS. */
  readonly qclass?: number;
  readonly tcp?: boolean;
  /** Adds an OPT record with this UDP payload size; absent = no EDNS. */
  readonly ednsUdpSize?: number;
  readonly rd?: boolean;
  /** Default 5000. */
  readonly timeoutMs?: number;
  /** Include the raw reply as hex. */
  readonly raw?: boolean;
  /** A UDP reply with TC=1 is retried over TCP, as dig and stub resolvers do. Default true. */
  readonly followTc?: boolean;
  /** Query ID to send (default random): equal IDs make two servers' replies comparable byte for byte. */
  readonly qid?: number;
  /** Local address to send from (one of the namespace's own), e.g. a second LAN address. */
  readonly source?: string;
  /**
   * The instant the reply is decoded, open a TCP connection to each A/AAAA address in it on this
   * port — a client that connects as soon as it has the answer (the first packet is what routing
   * rules see). Outcomes come back in `connects`.
   */
  readonly connectPort?: number;
  /** TCP only: send this many copies (IDs qid, qid+1, …) on one connection at once; replies in `pipelined`. */
  readonly pipeline?: number;
}

/** One connection attempt made right after the answer: its outcome and when its SYN left, ms after the reply. */
export interface ConnectAttempt {
  readonly address: string;
  readonly afterReplyMs: number;
  readonly outcome: 'connected' | 'refused' | 'error';
}

export type DnsRequest = DnsQuery & { readonly id: number; readonly op: 'dns' };
export type HttpRequest = { readonly id: number; readonly op: 'http'; readonly url: string; readonly timeoutMs?: number };
export type ProbeRequest = DnsRequest | HttpRequest;

export type DnsResult =
  | {
      readonly ok: true;
      readonly ms: number;
      readonly msg: DecodedMessage;
      readonly raw?: string | undefined;
      /** The UDP reply had TC=1 and this is the TCP retry's reply. */
      readonly retriedOverTcp?: boolean;
      readonly connects?: readonly ConnectAttempt[];
      /** With `pipeline`: every reply on the connection as hex, in arrival order. */
      readonly pipelined?: readonly string[];
    }
  | { readonly ok: false; readonly ms: number; readonly error: string };

export type HttpResult = { readonly ok: true; readonly ms: number; readonly status: number; readonly body: string } | { readonly ok: false; readonly ms: number; readonly error: string };

export type ProbeReply = { readonly id: number } & (DnsResult | HttpResult);
