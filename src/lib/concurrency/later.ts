/** A scheduled call that can be cancelled, whichever clock runs it. */
export interface Pending {
  cancel(): void;
}

/**
 * `fn` after `ms`; 0 = at the end of this event-loop turn (setImmediate): a batch of what arrives
 * in one turn without the ≥1 ms floor Node puts on a zero timer (setTimeout clamps 0 to 1 ms,
 * https://nodejs.org/api/timers.html#settimeoutcallback-delay-args).
 */
export function later(fn: () => void, ms: number): Pending {
  if (ms <= 0) {
    const i = setImmediate(fn);
    return { cancel: () => clearImmediate(i) };
  }
  const t = setTimeout(fn, ms);
  return { cancel: () => clearTimeout(t) };
}
