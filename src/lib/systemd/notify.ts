import { execFile } from 'node:child_process';

/**
 * sd_notify(3) for `Type=notify` without a native addon.
 *
 * Node cannot send to the AF_UNIX *datagram* socket in NOTIFY_SOCKET: `dgram` is UDP-only and
 * `net` is stream-only. Every npm package that does it is native code (`sd-notify` binds
 * libsystemd, `unix-dgram` and `node-unix-socket` are node-gyp/napi builds) — a compiler or a
 * per-arch prebuilt on a small router, for four tiny messages. So we run systemd's own
 * `systemd-notify`, which is always there beside systemd. Two consequences, both handled:
 *  - The sender is a child PID, which systemd ignores under the default `NotifyAccess=main`;
 *    the unit sets `NotifyAccess=all`.
 *  - The classic race (the child exits before PID 1 reads the message, so PID 1 cannot map it to
 *    the unit) is gone since systemd 246: systemd-notify waits on `BARRIER=1` until PID 1 has
 *    processed it (Debian 12 ships 252). We never pass `--no-block` for that reason.
 * Messages are one `KEY=VALUE` per line (sd_notify(3)), so values are kept to one line here: a
 * status text with "\nMAINPID=1" in it must not become a second assignment.
 */
export interface SystemdNotifier {
  /** True when NOTIFY_SOCKET was set; otherwise every method is a no-op (run from a shell, tests). */
  readonly enabled: boolean;
  /** READY=1 (+ STATUS): the listeners are bound and the snapshots applied. */
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  /** RELOADING=1 before re-reading the config on SIGHUP; follow with ready(). */
  reloading(): Promise<void>;
  /** STOPPING=1 at the start of a clean shutdown. Also stops the watchdog. */
  stopping(): Promise<void>;
  /**
   * WATCHDOG=1 every half of WATCHDOG_USEC (sd_watchdog_enabled(3) recommends half). A ping is
   * skipped while `alive()` is false, so systemd restarts a daemon that is running but wedged.
   * No-op without WATCHDOG_USEC or when WATCHDOG_PID names another process.
   */
  startWatchdog(alive?: () => boolean): void;
  /** Stop pinging (the timer is unref'd; this is for tests and shutdown order). */
  close(): void;
}

export interface NotifierOptions {
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default `systemd-notify` from PATH (/usr/bin on Debian). */
  command?: string;
  /** Failures are reported here, never thrown: readiness is best effort, the daemon keeps serving. */
  onError?: (message: string) => void;
  pid?: number;
}

const VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;
const MAX_STATUS = 200;

export function oneLine(text: string): string {
  // Control characters, newlines above all: one would start a new assignment in the datagram.
  const s = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return s.length > MAX_STATUS ? `${s.slice(0, MAX_STATUS - 1)}…` : s;
}

/** ms between pings, or undefined when the watchdog is off for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  // WATCHDOG_PID is inherited by children; a child must not ping on the main process's behalf.
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

export function createSystemdNotifier(opts: NotifierOptions = {}): SystemdNotifier {
  const source = opts.env ?? process.env;
  const env: NodeJS.ProcessEnv = { ...source };
  const socket = env.NOTIFY_SOCKET;
  const pid = opts.pid ?? process.pid;
  const command = opts.command ?? 'systemd-notify';
  const onError = opts.onError ?? (() => undefined);
  // sd_notify(unset_environment=1): nft and `ip netns exec` children must not inherit the socket
  // (with NotifyAccess=all they could speak for us). We keep our copy in `env` for the spawns.
  if (source === process.env) for (const v of VARS) delete process.env[v];

  let timer: NodeJS.Timeout | undefined;
  let pinging = false;

  function send(assignments: string[]): Promise<void> {
    if (socket === undefined || socket === '') return Promise.resolve();
    return new Promise((resolve) => {
      execFile(command, assignments, { env, timeout: 10_000 }, (err, _stdout, stderr) => {
        if (err) onError(`systemd-notify ${assignments.map((a) => a.split('=')[0]).join(' ')} failed: ${oneLine(stderr || err.message)}`);
        resolve();
      });
    });
  }

  const close = (): void => {
    clearInterval(timer);
    timer = undefined;
  };

  return {
    enabled: socket !== undefined && socket !== '',
    ready: (status) => send(['READY=1', ...(status !== undefined ? [`STATUS=${oneLine(status)}`] : [])]),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    reloading: () => send(['RELOADING=1']),
    stopping() {
      close();
      return send(['STOPPING=1']);
    },
    startWatchdog(alive = () => true) {
      if (socket === undefined || timer) return;
      const every = watchdogIntervalMs(env, pid);
      if (every === undefined) return;
      timer = setInterval(() => {
        // One ping in flight at most: a slow PID 1 must not pile up systemd-notify processes.
        if (pinging || !alive()) return;
        pinging = true;
        void send(['WATCHDOG=1']).finally(() => (pinging = false));
      }, every);
      timer.unref();
    },
    close,
  };
}
