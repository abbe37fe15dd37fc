/**
 * What to do when listen(2)/bind(2) fails, by errno (see bind(2), ip(7)): each cause has its own
 * remedy, and a wrong guess ("another process?" for a missing capability) sends the user hunting
 * for a process that does not exist.
 */
export interface ListenTarget {
  readonly port: number;
  /** Where the user sets the address: `dns.listen / --listen`, `metrics.listen / --metrics`. */
  readonly setting: string;
  /** A port of 1024 or more that fits, for the EACCES hint: 5335, 9335. */
  readonly unprivilegedPort: number;
}

export function listenErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function listenHint(err: unknown, t: ListenTarget): string {
  switch (listenErrorCode(err)) {
    case 'EADDRINUSE':
      return `another process already listens there (check: ss -lntup 'sport = :${t.port}'); stop it or pick a free port in ${t.setting}`;
    case 'EACCES':
      // ip(7): ports below net.ipv4.ip_unprivileged_port_start (1024) need CAP_NET_BIND_SERVICE.
      return `ports below 1024 need CAP_NET_BIND_SERVICE; use a port of 1024 or more such as ${t.unprivilegedPort} in ${t.setting}`;
    case 'EADDRNOTAVAIL':
      return `that address is not configured on any interface of this host; use one that is, e.g. 127.0.0.1, in ${t.setting}`;
    default:
      return `check the address in ${t.setting}`;
  }
}
