/**
 * Child for the kill -9 test: applies the churned model with a forced, tiny-chunked difference and
 * prints `chunk` before every transaction, so the parent can SIGKILL it midway. Its first apply
 * reads back the base model the parent has just applied (a noop).
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { createNftBackend, type NftBackend } from '../../src/lib/nft/nft-backend.js';
import { createSetSync, type SetTarget } from '../../src/set-sync/index.js';
import { churn, model } from '../helpers/range-model.js';

const t = JSON.parse(process.argv[2] ?? '{}') as SetTarget;
const real = createNftBackend();
let counting = false;
const backend: NftBackend = {
  ...real,
  apply: (c, n) => {
    if (counting) process.stdout.write('chunk\n');
    return real.apply(c, n);
  },
};
const sync = createSetSync({ logger: pino({ level: 'silent' }), registry: new Registry(), backend, costs: { diffSeconds: () => 0, fullSeconds: () => 1 }, maxTransactionPrefixes: 200 });
const big = { ipv4: model('ipv4', 20_000, 5), ipv6: model('ipv6', 5_000, 6) };
const next = { ipv4: churn('ipv4', 20_000, 0.3, 5), ipv6: churn('ipv6', 5_000, 0.3, 6) };
await sync.apply(t, big); // establishes the applied model in this process (read back: nothing to write)
counting = true;
await sync.apply(t, next);
