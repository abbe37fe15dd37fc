/**
 * domain-match: which listed domain covers a name. Pure, no I/O; built by the
 * blocklist from its normalised `domains`, asked by the learner for every dnstap answer and by
 * `unbound-sidecar lookup`.
 */
export { DomainMatcher, normaliseEntry, type DomainMatcherBuild } from './domain-matcher.js';
