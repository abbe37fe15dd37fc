import { domainToASCII } from 'node:url';

/**
 * Registry domain entries, normalised for the learner's domain matcher: lowercase ASCII (IDN -> punycode, the
 * registry lists .рф names in Unicode), no trailing dot, a leading `*.` dropped — a wildcard entry
 * and its base name are both "this name and below" to a suffix matcher.
 */
export type DomainRejectReason = 'invalid-domain' | 'too-broad';

const PLAIN = /^[a-z0-9_.-]+$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function normaliseDomain(text: string): string | { error: DomainRejectReason } {
  let s = text.trim().toLowerCase();
  if (s.startsWith('*.')) s = s.slice(2);
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (!PLAIN.test(s)) {
    // Only non-ASCII names pay for the IDNA conversion; '' means it is not a valid name.
    s = domainToASCII(s);
    if (s === '') return { error: 'invalid-domain' };
  }
  if (s.length > 253) return { error: 'invalid-domain' };
  const labels = s.split('.');
  for (const l of labels) if (!LABEL.test(l)) return { error: 'invalid-domain' };
  // A bare TLD would capture a whole country's names.
  if (labels.length < 2) return { error: 'too-broad' };
  return s;
}
