/**
 * dnstap: Unbound's dnstap stream, received and decoded. Thin I/O — a unix
 * socket server speaking Frame Streams — plus pure decoding: protobuf payloads to a narrowed
 * `DnstapMessage`, DNS responses to addresses and CNAME links. The learner capability wires these
 * to the domain matcher and set-sync and registers the metrics (through the server's hooks).
 */
export { startDnstapServer, type ConnectionEnd, type DnstapCounters, type DnstapErrorReason, type DnstapServer, type DnstapServerHooks, type DnstapServerOptions } from './dnstap-server.js';
export { decodeDnstap, type DnstapDecodeError, type DnstapDecodeResult, type DnstapMessage, type DnstapMessageType, type DnstapSocketProtocol } from './dnstap-decode.js';
export { extractAnswers, namesLeadingTo, MAX_CHAIN, type AddressAnswer, type AnswersError, type AnswersResult, type CnameLink, type ResponseAnswers } from './answers.js';
export { DNSTAP_CONTENT_TYPE, DEFAULT_MAX_FRAME_BYTES, FRAME_STREAM_ERRORS, type FrameStreamError, type SessionEnd } from './frame-stream.js';
