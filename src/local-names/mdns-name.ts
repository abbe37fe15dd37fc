/**
 * Names that no multicast-DNS responder can hold, recognised before any backend is asked.
 *
 * RFC 6762 §16: mDNS names are UTF-8 (precomposed), so a label whose bytes are not valid UTF-8
 * cannot be registered by any responder, and a NUL byte cannot be either (RFC 6763 §4.1.1 rules
 * out control characters in instance names; Avahi keeps labels as C strings). Avahi checks both
 * (avahi-common/domain.c `avahi_unescape_label`: `\000` and invalid UTF-8 → invalid name) and
 * fails the D-Bus call, which used to come back as SERVFAIL after a round trip. Such a name
 * does not exist in the zone, so the answer is NXDOMAIN (RFC 1035 §4.1.1 name error), decided
 * here without asking anyone.
 *
 * Label *types* 01 and 10 (RFC 6891 §5; the binary labels of RFC 2673, obsoleted by RFC 6891)
 * and labels over 63 octets never get this far: the request reader answers those FORMERR, because
 * the question itself cannot be parsed (RFC 1035 §4.1.4 defines only 00 and 11, and a pointer
 * has no place in our question) — see src/lib/dns-wire/request-reader.ts.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why `name` (presentation form as `readName` prints it: `\DDD`, `\.` and `\\` escapes, absolute)
 * cannot exist in mDNS, or undefined when it can.
 */
export function mdnsNameProblem(name: string): string | undefined {
  const label: number[] = [];
  const check = (): string | undefined => {
    if (label.includes(0)) return 'a label contains a NUL byte';
    if (label.some((b) => b >= 0x80)) {
      try {
        utf8.decode(Uint8Array.from(label));
      } catch {
        return 'a label is not valid UTF-8 (RFC 6762 §16)';
      }
    }
    return undefined;
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      const problem = check();
      if (problem !== undefined) return problem;
      label.length = 0;
      continue;
    }
    if (c === 0x5c && i + 1 < name.length) {
      const d = name.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        label.push(Number(d));
        i += 3;
      } else {
        label.push(name.charCodeAt(i + 1));
        i += 1;
      }
      continue;
    }
    label.push(c);
  }
  return check();
}
