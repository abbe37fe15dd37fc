/**
 * The one contract every part of the daemon is wired through (as zigbee2mqtt's `Extension` base
 * and CoreDNS's plugin.cfg: one list, one order). `start` brings it up; `stop` takes it down and
 * must not throw for a component that never started; `status` is its typed state for the status
 * page, /api/status and the CLI.
 */
export interface Component<S = unknown> {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): S;
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

async function stopAll(started: readonly Component[], onStopError: (name: string, err: unknown) => void): Promise<void> {
  for (const c of [...started].reverse()) {
    try {
      await c.stop();
    } catch (err) {
      onStopError(c.name, err);
    }
  }
}

/**
 * Starts `components` one after another in the declared order. When one fails, the ones already
 * started (and the failed one, which may be half up) are stopped in reverse and the error is
 * rethrown as ComponentStartError naming it.
 */
export async function startInOrder(components: readonly Component[], onStopError: (name: string, err: unknown) => void = () => undefined): Promise<StartedComponents> {
  const started: Component[] = [];
  for (const c of components) {
    started.push(c);
    try {
      await c.start();
    } catch (err) {
      await stopAll(started, onStopError);
      throw new ComponentStartError(c.name, { cause: err });
    }
  }
  let stopping: Promise<void> | undefined;
  return { stop: () => (stopping ??= stopAll(started, onStopError)) };
}
