/**
 * The one contract every part of the daemon is wired through (as zigbee2mqtt's `Extension` base
 * and CoreDNS's plugin.cfg: one list, one order). `start` brings it up; `stop` takes it down and
 * must not throw for a component that never started; `status` is its typed state for the status
 * page, /api/status and the CLI; `readiness`, when present, is its line in /readyz.
 */
export interface Component<S = unknown> {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): S;
  readonly readiness?: ReadinessCheck;
}

/** One /readyz line: `ok NAME: detail` or `FAIL NAME: detail`; any `not-ready` makes it 503. */
export type Readiness = { readonly kind: 'ready'; readonly detail: string } | { readonly kind: 'not-ready'; readonly detail: string };

export interface ReadinessCheck {
  /** The name users read in /readyz (`dns`, `mdns`, `state`…): what is checked, not which component checks it. */
  readonly name: string;
  check(): Readiness;
}

/**
 * The components by name, declared once in start order: a record's string keys keep the order they
 * were written in (ECMA-262 OrdinaryOwnPropertyKeys), so the declaration is the order. `undefined`
 * is a component the config leaves out (no lists, no front): it neither starts nor has a status.
 */
export type ComponentSet = { readonly [name: string]: Component | undefined };

/** `S` of a component, `undefined` for one that may be left out (distributes over `| undefined`). */
export type StatusOf<C> = C extends Component<infer S> ? S : undefined;

/** Every component's status under its name, typed as its own `status()` returns it. */
export type Statuses<C extends ComponentSet> = { readonly [K in keyof C]: StatusOf<C[K]> };

/** Reads each declared component's status once (cheap: status() reads counters, no I/O). */
export function statuses<C extends ComponentSet>(components: C): Statuses<C> {
  const out: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(components)) out[name] = c?.status();
  // Built key by key from `components` itself: each value is that key's status() (or undefined for
  // an absent one), which is what the mapped type says; TypeScript cannot follow a loop into one.
  return out as Statuses<C>;
}

/** The readiness checks of the declared components, in their order; components without one add no line. */
export function readinessChecks(components: ComponentSet): ReadinessCheck[] {
  return Object.values(components).flatMap((c) => (c?.readiness ? [c.readiness] : []));
}

export interface StartedComponents {
  /** Stops every started component in reverse order; one that throws does not keep the rest up. */
  stop(): Promise<void>;
}

/** A component failed to start; the ones before it were stopped again, in reverse. */
export class ComponentStartError extends Error {
  constructor(
    readonly component: string,
    options: { cause: unknown },
  ) {
    super(`${component}: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
  }
}

type Named = readonly [name: string, component: Component];

async function stopAll(started: readonly Named[], onStopError: (name: string, err: unknown) => void): Promise<void> {
  for (const [name, c] of [...started].reverse()) {
    try {
      await c.stop();
    } catch (err) {
      onStopError(name, err);
    }
  }
}

/**
 * Starts `components` one after another in the declared order (absent ones skipped). When one
 * fails, the ones already started (and the failed one, which may be half up) are stopped in
 * reverse and the error is rethrown as ComponentStartError naming it.
 */
export async function startInOrder(components: ComponentSet, onStopError: (name: string, err: unknown) => void = () => undefined): Promise<StartedComponents> {
  const started: Named[] = [];
  for (const [name, c] of Object.entries(components)) {
    if (!c) continue;
    started.push([name, c]);
    try {
      await c.start();
    } catch (err) {
      await stopAll(started, onStopError);
      throw new ComponentStartError(name, { cause: err });
    }
  }
  let stopping: Promise<void> | undefined;
  return { stop: () => (stopping ??= stopAll(started, onStopError)) };
}
