import { RRType } from '../lib/dns-wire/types.js';
import { labelsOf } from './name-index.js';

/**
 * How a question is put to multicast DNS, decided from its name and type alone.
 *
 * RFC 6762 §6: a responder answers a question for a *unique* record at once (no 20–120 ms
 * delay), and only one responder owns it, so the first answer is the whole answer. Unique are a
 * host's A/AAAA/HINFO, the SRV and TXT of a service instance and every record owned by an
 * instance name (RFC 6763 §6, §12), and the reverse-address PTR a host publishes for itself.
 * Only a PTR browse of a service type (or `_services._dns-sd._udp`, RFC 6763 §9) is a *shared*
 * record set that several responders answer: that alone collects over a window.
 */
export function lookupMode(name: string, type: number): 'first' | 'collect' {
  return type === RRType.PTR && !isReverseName(name) ? 'collect' : 'first';
}

export function isReverseName(name: string): boolean {
  return name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.');
}

/** `<instance>._<service>._tcp|_udp.<domain>` (RFC 6763 §4.1). */
export function isServiceInstanceName(name: string): boolean {
  const labels = labelsOf(name);
  const proto = labels[2];
  return labels.length >= 4 && (labels[1] ?? '').startsWith('_') && (proto === '_tcp' || proto === '_udp');
}

/**
 * The record types whose presence proves that `name` exists, for a backend that cannot ask for
 * every type at once. Avahi's RecordBrowser refuses type ANY (avahi-core/browse.c:
 * `avahi_key_is_pattern` → AVAHI_ERR_IS_PATTERN), so what the name is, by its shape, decides
 * which records it would own: an instance has SRV and TXT (RFC 6763 §6: both are required), a
 * service type or a reverse name a PTR, anything else is a host with an address.
 */
export function existenceTypes(name: string): readonly number[] {
  if (isServiceInstanceName(name)) return [RRType.SRV, RRType.TXT];
  if (isReverseName(name) || (labelsOf(name)[0] ?? '').startsWith('_')) return [RRType.PTR];
  return [RRType.A, RRType.AAAA];
}
