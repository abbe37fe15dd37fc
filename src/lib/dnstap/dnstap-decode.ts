import protobuf from 'protobufjs';
import { isRecord } from '../narrow/is-record.js';

/**
 * dnstap payloads (one per Frame Streams data frame) → a narrowed, plain TS value.
 *
 * The schema is dnstap/dnstap.pb `dnstap.proto` (CC0), embedded as text and parsed once at module
 * load: reading a .proto from node_modules at runtime breaks in dist/ and in the Nix package.
 * Comments are dropped; field numbers and enum values are verbatim. protobufjs' reflection decoder
 * sets *own* properties only for fields present on the wire (defaults live on the prototype), which
 * is how proto2 presence is told apart from a zero value below.
 */
const DNSTAP_PROTO = `
syntax = "proto2";
package dnstap;
message Dnstap {
  optional bytes identity = 1;
  optional bytes version = 2;
  optional bytes extra = 3;
  enum Type { MESSAGE = 1; }
  required Type type = 15;
  optional Message message = 14;
}
enum SocketFamily { INET = 1; INET6 = 2; }
enum SocketProtocol { UDP = 1; TCP = 2; DOT = 3; DOH = 4; DNSCryptUDP = 5; DNSCryptTCP = 6; DOQ = 7; }
enum HttpProtocol { HTTP1 = 1; HTTP2 = 2; HTTP3 = 3; }
message Policy {
  enum Match { QNAME = 1; CLIENT_IP = 2; RESPONSE_IP = 3; NS_NAME = 4; NS_IP = 5; }
  enum Action { NXDOMAIN = 1; NODATA = 2; PASS = 3; DROP = 4; TRUNCATE = 5; LOCAL_DATA = 6; }
  optional string type = 1;
  optional bytes rule = 2;
  optional Action action = 3;
  optional Match match = 4;
  optional bytes value = 5;
}
message Message {
  enum Type {
    AUTH_QUERY = 1; AUTH_RESPONSE = 2; RESOLVER_QUERY = 3; RESOLVER_RESPONSE = 4;
    CLIENT_QUERY = 5; CLIENT_RESPONSE = 6; FORWARDER_QUERY = 7; FORWARDER_RESPONSE = 8;
    STUB_QUERY = 9; STUB_RESPONSE = 10; TOOL_QUERY = 11; TOOL_RESPONSE = 12;
    UPDATE_QUERY = 13; UPDATE_RESPONSE = 14;
  }
  required Type type = 1;
  optional SocketFamily socket_family = 2;
  optional SocketProtocol socket_protocol = 3;
  optional bytes query_address = 4;
  optional bytes response_address = 5;
  optional uint32 query_port = 6;
  optional uint32 response_port = 7;
  optional uint64 query_time_sec = 8;
  optional fixed32 query_time_nsec = 9;
  optional bytes query_message = 10;
  optional bytes query_zone = 11;
  optional uint64 response_time_sec = 12;
  optional fixed32 response_time_nsec = 13;
  optional bytes response_message = 14;
  optional Policy policy = 15;
  optional HttpProtocol http_protocol = 16;
}
`;

const root = protobuf.parse(DNSTAP_PROTO, { keepCase: true }).root;
const DnstapType = root.lookupType('dnstap.Dnstap');
/** Exported for tests and tools that need to produce frames (the fstrm test client). */
export const DnstapSchema = { Dnstap: DnstapType, Message: root.lookupType('dnstap.Message') };

const MESSAGE_TYPES = [
  'AUTH_QUERY',
  'AUTH_RESPONSE',
  'RESOLVER_QUERY',
  'RESOLVER_RESPONSE',
  'CLIENT_QUERY',
  'CLIENT_RESPONSE',
  'FORWARDER_QUERY',
  'FORWARDER_RESPONSE',
  'STUB_QUERY',
  'STUB_RESPONSE',
  'TOOL_QUERY',
  'TOOL_RESPONSE',
  'UPDATE_QUERY',
  'UPDATE_RESPONSE',
] as const;
export type DnstapMessageType = (typeof MESSAGE_TYPES)[number];

const PROTOCOLS = ['UDP', 'TCP', 'DOT', 'DOH', 'DNSCryptUDP', 'DNSCryptTCP', 'DOQ'] as const;
export type DnstapSocketProtocol = (typeof PROTOCOLS)[number];

/** One dnstap Message, narrowed. Times are Unix epoch milliseconds (sec + nsec, fractional). */
export interface DnstapMessage {
  /** Server identity (`dnstap-send-identity`), UTF-8 decoded; undefined when not sent. */
  readonly identity: string | undefined;
  readonly version: string | undefined;
  readonly type: DnstapMessageType;
  readonly socketFamily: 'INET' | 'INET6' | undefined;
  readonly socketProtocol: DnstapSocketProtocol | undefined;
  readonly queryAddress: Uint8Array | undefined;
  readonly queryPort: number | undefined;
  readonly responseAddress: Uint8Array | undefined;
  readonly responsePort: number | undefined;
  readonly queryTimeMs: number | undefined;
  readonly responseTimeMs: number | undefined;
  /** Wire-format query zone (RESOLVER_* messages), uncompressed. */
  readonly queryZone: Uint8Array | undefined;
  readonly queryMessage: Uint8Array | undefined;
  /** The DNS response as sent or received, wire format: what `extractAnswers` reads. */
  readonly responseMessage: Uint8Array | undefined;
}

/** Bounded set of reasons (a metric label). */
export type DnstapDecodeError =
  | 'protobuf' // not a protobuf message of this schema (bad varint, wire type, missing required field)
  | 'not-message' // Dnstap.type is not MESSAGE (no other type is defined today)
  | 'no-message' // type MESSAGE without the message field
  | 'unknown-message-type'; // a Message.type newer than this schema

export type DnstapDecodeResult = { readonly kind: 'message'; readonly message: DnstapMessage } | { readonly kind: 'error'; readonly reason: DnstapDecodeError };

/** Never throws. Byte fields are views into `frame`. */
export function decodeDnstap(frame: Uint8Array): DnstapDecodeResult {
  let top: unknown;
  try {
    top = DnstapType.decode(frame);
  } catch {
    return { kind: 'error', reason: 'protobuf' };
  }
  // `type` is required; protobufjs fills an absent one from the prototype default (MESSAGE), so
  // presence is checked here rather than trusted to the decoder.
  if (!isRecord(top) || own(top, 'type') === undefined) return { kind: 'error', reason: 'protobuf' };
  if (top.type !== 1) return { kind: 'error', reason: 'not-message' };
  const m = own(top, 'message');
  if (!isRecord(m)) return { kind: 'error', reason: 'no-message' };
  const mtype = own(m, 'type');
  if (mtype === undefined) return { kind: 'error', reason: 'protobuf' };
  const type = typeof mtype === 'number' ? MESSAGE_TYPES[mtype - 1] : undefined;
  if (type === undefined) return { kind: 'error', reason: 'unknown-message-type' };
  const family = own(m, 'socket_family');
  const protocol = own(m, 'socket_protocol');
  return {
    kind: 'message',
    message: {
      identity: text(own(top, 'identity')),
      version: text(own(top, 'version')),
      type,
      socketFamily: family === 1 ? 'INET' : family === 2 ? 'INET6' : undefined,
      socketProtocol: typeof protocol === 'number' ? PROTOCOLS[protocol - 1] : undefined,
      queryAddress: bytes(own(m, 'query_address')),
      queryPort: uint(own(m, 'query_port')),
      responseAddress: bytes(own(m, 'response_address')),
      responsePort: uint(own(m, 'response_port')),
      queryTimeMs: time(own(m, 'query_time_sec'), own(m, 'query_time_nsec')),
      responseTimeMs: time(own(m, 'response_time_sec'), own(m, 'response_time_nsec')),
      queryZone: bytes(own(m, 'query_zone')),
      queryMessage: bytes(own(m, 'query_message')),
      responseMessage: bytes(own(m, 'response_message')),
    },
  };
}

/** Present on the wire (an own property), not a prototype default. */
function own(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function bytes(v: unknown): Uint8Array | undefined {
  return v instanceof Uint8Array ? v : undefined;
}

function text(v: unknown): string | undefined {
  return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8') : undefined;
}

/** uint32 → number; uint64 → number from a number or a Long ({low, high}) when `long` is installed. */
function uint(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (isRecord(v) && typeof v.low === 'number' && typeof v.high === 'number') return (v.high >>> 0) * 2 ** 32 + (v.low >>> 0);
  return undefined;
}

function time(sec: unknown, nsec: unknown): number | undefined {
  const s = uint(sec);
  if (s === undefined) return undefined;
  return s * 1000 + (uint(nsec) ?? 0) / 1e6;
}
