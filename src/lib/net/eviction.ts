/**
 * The connection to close when a listener is at its connection cap and a newcomer arrives: the one
 * idle longest among those with nothing in flight (RFC 7766 §6.2.3 for DNS over TCP, RFC 9112 §9.6
 * for HTTP keep-alive: either side may close an idle connection). Undefined when every one is busy,
 * so the caller refuses the newcomer instead.
 */
export function longestIdle<T>(conns: Iterable<T>, busy: (c: T) => boolean, idleSince: (c: T) => number): T | undefined {
  let victim: T | undefined;
  let since = Infinity;
  for (const c of conns) {
    if (busy(c)) continue;
    const t = idleSince(c);
    if (t < since) {
      victim = c;
      since = t;
    }
  }
  return victim;
}
