/**
 * domain-match: which listed domain covers a name, and the one normalisation of domain names
 * (list entries, runtime additions, lookups). Pure, no I/O; built by the blocklist from its
 * normalised `domains`, asked by the learner for every dnstap answer and by `unbound-sidecar lookup`.
 */
export { DomainMatcher, type DomainMatcherBuild } from './domain-matcher.js';
export { normaliseDomain, normaliseEntry, type DomainRejectReason, type NormalisedDomain } from './domain-name.js';
