import { AF_UNIX, errnoText, libc, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_DGRAM } from '../libc/libc.js';

/**
 * sd_notify(3) for `Type=notify`: one AF_UNIX datagram to $NOTIFY_SOCKET per message, sent by the
 * main process itself, so the unit keeps the default `NotifyAccess=main` (no helper process may
 * speak for the daemon). Node cannot send such a datagram (`dgram` is UDP-only, `net` is
 * stream-only), so the socket is libc's through koffi, as netlink's is (src/lib/libc/libc.ts).
 * A socket path starting with `@` is in the abstract namespace (sd_notify(3)).
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
  /** Stop pinging and close the socket (the timer is unref'd; this is for tests and shutdown order). */
  close(): void;
}

export interface NotifierOptions {
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
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

/** struct sockaddr_un for `path` (linux/un.h: sa_family_t, then up to 108 bytes of path). */
function unixAddress(path: string): { addr: Buffer; len: number } | undefined {
  const bytes = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (bytes.length === 0 || bytes.length >= 108) return undefined;
  const addr = Buffer.alloc(2 + 108);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  // Abstract names are exactly their bytes; a path includes its terminating NUL.
  return { addr, len: 2 + bytes.length + (path.startsWith('@') ? 0 : 1) };
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
  const onError = opts.onError ?? (() => undefined);
  // sd_notify(unset_environment=1): nft and `ip netns exec` children must not inherit the socket.
  if (source === process.env) for (const v of VARS) delete process.env[v];

  let timer: NodeJS.Timeout | undefined;
  let fd: number | undefined;

  function send(assignments: string[]): Promise<void> {
    if (socket === undefined || socket === '') return Promise.resolve();
    const what = assignments.map((a) => a.split('=')[0]).join(' ');
    try {
      const to = unixAddress(socket);
      if (to === undefined) throw new Error(`NOTIFY_SOCKET "${socket}" is not a socket path`);
      const c = libc();
      fd ??= c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        const e = c.errno();
        fd = undefined;
        throw new Error(`socket: ${errnoText(e)}`);
      }
      const msg = Buffer.from(assignments.join('\n'));
      // Blocking, as libsystemd's sd_notify is: a READY=1 dropped on a full queue would be a start timeout.
      if (c.sendto(fd, msg, msg.length, MSG_NOSIGNAL, to.addr, to.len) < 0) throw new Error(`sendto ${socket}: ${errnoText(c.errno())}`);
    } catch (err) {
      onError(`sd_notify ${what} failed: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    }
    return Promise.resolve();
  }

  const stopTimer = (): void => {
    clearInterval(timer);
    timer = undefined;
  };

  return {
    enabled: socket !== undefined && socket !== '',
    ready: (status) => send(['READY=1', ...(status !== undefined ? [`STATUS=${oneLine(status)}`] : [])]),
    status: (text) => send([`STATUS=${oneLine(text)}`]),
    reloading: () => send(['RELOADING=1']),
    stopping() {
      stopTimer();
      return send(['STOPPING=1']);
    },
    startWatchdog(alive = () => true) {
      if (socket === undefined || timer) return;
      const every = watchdogIntervalMs(env, pid);
      if (every === undefined) return;
      timer = setInterval(() => {
        if (alive()) void send(['WATCHDOG=1']);
      }, every);
      timer.unref();
    },
    close() {
      stopTimer();
      if (fd !== undefined) libc().close(fd);
      fd = undefined;
    },
  };
}
