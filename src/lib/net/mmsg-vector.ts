import type { Socket } from 'node:dgram';
import { libc, msghdrLayout, nativeArena, netlinkUnavailable, SOL_UDP, UDP_SEGMENT, type Libc, type MsghdrLayout, type NativeArena } from '../libc/libc.js';
import { isRecord } from '../narrow/is-record.js';

/**
 * A `struct mmsghdr[slots]` vector for sendmmsg(2)/recvmmsg(2) in native memory: each entry has
 * one iovec over its own data slot and room for a sockaddr_in6. Layout comes from koffi's struct
 * rules (msghdrLayout), so 32- and 64-bit hosts alike; the pointers inside are written once.
 */

export const SOCKADDR_BYTES = 28; // sizeof(struct sockaddr_in6); sockaddr_in is 16

export interface MmsgVector {
  readonly lc: Libc;
  readonly bytes: Buffer;
  readonly slots: number;
  readonly slotBytes: number;
  /** Native address of entry i (what sendmmsg/recvmmsg take). */
  entry(i: number): bigint;
  dataAt(i: number): number;
  nameAt(i: number): number;
  setLength(i: number, len: number): void;
  /** Points entry i's msg_name at its sockaddr slot (`namelen` bytes) or, with 0, at nothing. */
  setNameLength(i: number, namelen: number): void;
  nameLength(i: number): number;
  /** msg_len: what the kernel sent or received for entry i. */
  received(i: number): number;
  flags(i: number): number;
  /**
   * A separate `struct mmsghdr` whose one message is the first `count` slots' iovecs together,
   * with a UDP_SEGMENT cmsg of `segmentBytes` (Linux ≥ 4.18, udp(7)): the kernel sends it through
   * the stack once and cuts it into `count` datagrams of that size (the last may be shorter).
   * Each slot's length must already be `segmentBytes` but the last's.
   */
  segmented(count: number, segmentBytes: number): bigint;
  free(): void;
}

/** struct cmsghdr (size_t cmsg_len; int level; int type) then the data, aligned to size_t (CMSG_DATA, CMSG_SPACE in sys/socket.h). */
const cmsgHeader = (pointer: number): number => pointer + 8;

export function createMmsgVector(slots: number, slotBytes: number): MmsgVector {
  const layout: MsghdrLayout = msghdrLayout();
  const iovAt = slots * layout.mmsghdr;
  const nameAt = iovAt + slots * layout.iovec;
  const dataAt = nameAt + slots * SOCKADDR_BYTES;
  const segAt = Math.ceil((dataAt + slots * slotBytes) / 8) * 8;
  const cmsgAt = segAt + Math.ceil(layout.mmsghdr / 8) * 8;
  const cmsgLen = cmsgHeader(layout.pointer) + 2;
  const cmsgSpace = cmsgHeader(layout.pointer) + layout.pointer;
  const arena: NativeArena = nativeArena(cmsgAt + cmsgSpace);
  const { bytes, address } = arena;
  bytes.fill(0, 0, dataAt);
  bytes.fill(0, segAt, cmsgAt + cmsgSpace);
  const ptr = (at: number, v: bigint): void => {
    if (layout.pointer === 8) bytes.writeBigUInt64LE(v, at);
    else bytes.writeUInt32LE(Number(v), at);
  };
  for (let i = 0; i < slots; i++) {
    const mm = i * layout.mmsghdr;
    ptr(mm + layout.msgIov, address + BigInt(iovAt + i * layout.iovec));
    ptr(mm + layout.msgIovlen, 1n);
    ptr(iovAt + i * layout.iovec, address + BigInt(dataAt + i * slotBytes));
    ptr(iovAt + i * layout.iovec + layout.iovLen, BigInt(slotBytes));
  }
  ptr(segAt + layout.msgIov, address + BigInt(iovAt));
  ptr(segAt + layout.msgControl, address + BigInt(cmsgAt));
  ptr(segAt + layout.msgControllen, BigInt(cmsgSpace));
  ptr(cmsgAt, BigInt(cmsgLen));
  bytes.writeInt32LE(SOL_UDP, cmsgAt + layout.pointer);
  bytes.writeInt32LE(UDP_SEGMENT, cmsgAt + layout.pointer + 4);
  const segEntry = address + BigInt(segAt);
  // Per-datagram writes stay in plain numbers (BigInt arithmetic showed in the relay's profile):
  // a size_t or pointer is written as 32-bit halves, the addresses are computed once here.
  const entries = Array.from({ length: slots }, (_, i) => address + BigInt(i * layout.mmsghdr));
  const nameAddress = Array.from({ length: slots }, (_, i) => address + BigInt(nameAt + i * SOCKADDR_BYTES));
  const nameLo = nameAddress.map((a) => Number(a & 0xffffffffn));
  const nameHi = nameAddress.map((a) => Number(a >> 32n));
  // Every field written per datagram is 4-byte aligned (struct mmsghdr, iovec and socklen_t): a
  // Uint32Array over the arena writes them without Buffer's per-call range checks (a
  // little-endian host is a precondition of this path: mmsgUnavailable).
  const u32 = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2) : undefined;
  const put = (at: number, v: number): void => {
    if (u32 !== undefined && at % 4 === 0) u32[at >>> 2] = v;
    else bytes.writeUInt32LE(v, at);
  };
  const get = (at: number): number => (u32 !== undefined && at % 4 === 0 ? (u32[at >>> 2] as number) : bytes.readUInt32LE(at));
  const word = (at: number, lo: number, hi: number): void => {
    put(at, lo);
    if (layout.pointer === 8) put(at + 4, hi);
  };
  return {
    lc: libc(),
    bytes,
    slots,
    slotBytes,
    entry: (i) => entries[i] ?? address,
    dataAt: (i) => dataAt + i * slotBytes,
    nameAt: (i) => nameAt + i * SOCKADDR_BYTES,
    setLength: (i, len) => word(iovAt + i * layout.iovec + layout.iovLen, len, 0),
    setNameLength(i, namelen) {
      const mm = i * layout.mmsghdr;
      if (namelen === 0) word(mm + layout.msgName, 0, 0);
      else word(mm + layout.msgName, nameLo[i] ?? 0, nameHi[i] ?? 0);
      put(mm + layout.msgNamelen, namelen);
    },
    nameLength: (i) => get(i * layout.mmsghdr + layout.msgNamelen),
    received: (i) => get(i * layout.mmsghdr + layout.msgLen),
    flags: (i) => bytes.readInt32LE(i * layout.mmsghdr + layout.msgFlags),
    segmented(count, segmentBytes) {
      word(segAt + layout.msgIovlen, count, 0);
      bytes.writeUInt16LE(segmentBytes, cmsgAt + cmsgHeader(layout.pointer));
      return segEntry;
    },
    free: () => arena.free(),
  };
}

/** undefined when sendmmsg/recvmmsg can be used here (koffi + libc, a little-endian host), else why not. */
export function mmsgUnavailable(): string | undefined {
  return netlinkUnavailable();
}

/**
 * The socket's descriptor from Node's internal state (lib/dgram.js keeps the handle in a
 * symbol-keyed object; `_handle` is deprecated, DEP0112). `open()` is false from the moment
 * `socket.close()` ran (it nulls the handle and libuv closes the descriptor synchronously), so a
 * batch never goes to a descriptor number that may already name something else.
 */
export function socketFd(socket: Socket): { fd: number; open: () => boolean } | undefined {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state: unknown = (socket as unknown as Record<symbol, unknown>)[sym];
    if (!isRecord(state)) continue;
    const handle = state.handle;
    if (typeof handle !== 'object' || handle === null) continue;
    const fd: unknown = (handle as { fd?: unknown }).fd;
    if (typeof fd === 'number' && fd >= 0) return { fd, open: () => state.handle === handle };
  }
  return undefined;
}
