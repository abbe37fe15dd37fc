/**
 * Latency the DNS front adds: the same LAN client, the same Unbound, asked through the front
 * (10.77.0.1:53 → PROXYv2 → 127.0.0.1@5301) or directly (10.77.0.1:5300, the anchor), one query at
 * a time, the two paths alternating sample by sample so drift hits both. Timed inside the LAN
 * namespace by the lab's probe (no process start-up in the numbers). Three kinds of answer:
 *   unlisted, cached — one name Unbound has cached: the front's relay cost alone;
 *   unlisted, fresh  — a new name per sample: Unbound recurses to the authority on both paths;
 *   listed, fresh    — a new listed name per sample: the front also waits for the kernel ACK of
 *                      the new address (the anchor has nothing to insert).
 * Targets: unlisted +0.3 ms at p50 and +1 ms at p99; listed with new addresses p99 ≤ 5 ms added.
 *
 * A third path is the floor for any relay written in Node on this machine: a bare UDP relay
 * (BARE_RELAY below: one connected upstream socket, an ID map, no PROXYv2, no parsing, no
 * learning) on 10.77.0.1:5399 in front of the same Unbound port as the anchor. Its added latency
 * is the cost of the extra hop itself — two more process wake-ups per query; the front's own work
 * is what it adds beyond that.
 */
import { createFrontLab, DIRECT, type FrontLab } from '../test/lab/front-lab.js';
import { sleep } from '../test/lab/wait.js';
import { printTable, writeResults } from './bench-report.js';
import { summarize, type LatencySummary } from './latency-stats.js';
import { argNumber, requireFrontAnswers, requireFrontLab, frontOverrides } from './front-setup.js';

requireFrontLab('front-latency');
const SAMPLES = argNumber('samples', 'BENCH_SAMPLES', 500);
const GAP_MS = argNumber('gap', 'BENCH_GAP_MS', 5);
const KINDS = ['unlisted, cached', 'unlisted, fresh', 'listed, fresh'] as const;
type Kind = (typeof KINDS)[number];

function nameFor(kind: Kind, via: string, i: number, id: string): string {
  switch (kind) {
    case 'unlisted, cached':
      return `hot-${id}.unlisted.example`;
    case 'unlisted, fresh':
      return `${via}${i}-${id}.unlisted.example`;
    case 'listed, fresh':
      return `${via}${i}-${id}.listed.example`;
    default: {
      const never: never = kind;
      return never;
    }
  }
}

interface Row {
  kind: Kind;
  front: LatencySummary;
  direct: LatencySummary;
  bare: LatencySummary;
  addedP50: number;
  addedP99: number;
  bareAddedP50: number;
  bareAddedP99: number;
  failures: number;
}

const BARE = { server: '10.77.0.1', port: 5399 } as const;
const BARE_RELAY = `
import { createSocket } from 'node:dgram';
const up = createSocket('udp4');
const down = createSocket('udp4');
const waiting = new Map();
up.on('message', (m) => { const c = waiting.get(m.readUInt16BE(0)); if (c) { waiting.delete(m.readUInt16BE(0)); down.send(m, c.port, c.address); } });
down.on('message', (m, r) => { waiting.set(m.readUInt16BE(0), r); up.send(m); });
up.connect(${DIRECT.port}, '${DIRECT.server}', () => down.bind(${BARE.port}, '${BARE.server}', () => console.log('ready')));
`;

async function measure(fl: FrontLab, kind: Kind, id: string): Promise<Row> {
  const samples = { front: [] as number[], direct: [] as number[], bare: [] as number[] };
  let failures = 0;
  const ask = (via: 'front' | 'direct' | 'bare', name: string) => (via === 'bare' ? fl.lab.dns('lan', { ...BARE, timeoutMs: 2000, name, type: 'A' }) : fl.ask(via, { name, type: 'A' }));
  for (const via of ['front', 'direct', 'bare'] as const) await ask(via, nameFor('unlisted, cached', via, 0, id)); // warm
  const orders = [
    ['front', 'direct', 'bare'],
    ['direct', 'bare', 'front'],
    ['bare', 'front', 'direct'],
  ] as const;
  for (let i = 0; i < SAMPLES; i++) {
    for (const via of orders[i % 3] ?? orders[0]) {
      const r = await ask(via, nameFor(kind, via, i, id));
      if (r.ok && r.msg.rcode === 'NOERROR') samples[via].push(r.ms);
      else failures++;
      await sleep(GAP_MS);
    }
  }
  const front = summarize(samples.front);
  const direct = summarize(samples.direct);
  const bare = summarize(samples.bare);
  return { kind, front, direct, bare, addedP50: front.p50 - direct.p50, addedP99: front.p99 - direct.p99, bareAddedP50: bare.p50 - direct.p50, bareAddedP99: bare.p99 - direct.p99, failures };
}

const fl = await createFrontLab({ logLevel: 'warn', front: frontOverrides() });
await requireFrontAnswers('front-latency', fl);
const rows: Row[] = [];
const relay = fl.lab.spawnIn('router', [process.execPath, '--input-type=module', '-e', BARE_RELAY]);
try {
  await new Promise<void>((resolve, reject) => {
    relay.stdout?.once('data', () => resolve());
    relay.once('exit', (code) => reject(new Error(`bare relay exited ${code}`)));
  });
  const id = Date.now().toString(36);
  for (const kind of KINDS) {
    rows.push(await measure(fl, kind, id));
    console.log(`${kind}: done`);
  }
} finally {
  relay.kill();
  await fl.teardown();
}

printTable(
  `front-latency: ${SAMPLES} samples per path and kind, ${GAP_MS} ms apart, alternating (2-core shared machine: see loadavg)`,
  ['answer', 'direct p50', 'direct p99', 'front p50', 'front p99', 'added p50', 'added p99', 'front/direct p50', 'bare relay added p50', 'bare relay added p99', 'failures'],
  rows.map((r) => [r.kind, r.direct.p50, r.direct.p99, r.front.p50, r.front.p99, r.addedP50, r.addedP99, r.front.p50 / r.direct.p50, r.bareAddedP50, r.bareAddedP99, r.failures]),
);
const row = (k: Kind): Row | undefined => rows.find((r) => r.kind === k);
const unlisted = [row('unlisted, cached'), row('unlisted, fresh')];
const listed = row('listed, fresh');
const pass = unlisted.every((r) => r !== undefined && r.addedP50 <= 0.3 && r.addedP99 <= 1) && listed !== undefined && listed.addedP99 <= 5 && rows.every((r) => r.failures === 0);
console.log(`targets: unlisted added ≤ 0.3 ms p50 / ≤ 1 ms p99, listed fresh added p99 ≤ 5 ms: ${pass ? 'PASS' : 'FAIL'}`);
writeResults(
  'front-latency',
  { samples: SAMPLES, gapMs: GAP_MS, rows, pass },
  {
    samples: SAMPLES,
    'cached added p50 ms': row('unlisted, cached')?.addedP50 ?? Number.NaN,
    'cached added p99 ms': row('unlisted, cached')?.addedP99 ?? Number.NaN,
    'unlisted fresh added p50 ms': row('unlisted, fresh')?.addedP50 ?? Number.NaN,
    'unlisted fresh added p99 ms': row('unlisted, fresh')?.addedP99 ?? Number.NaN,
    'listed fresh added p50 ms': listed?.addedP50 ?? Number.NaN,
    'listed fresh added p99 ms': listed?.addedP99 ?? Number.NaN,
    'bare relay cached added p50 ms': row('unlisted, cached')?.bareAddedP50 ?? Number.NaN,
    'bare relay cached added p99 ms': row('unlisted, cached')?.bareAddedP99 ?? Number.NaN,
    pass,
  },
);
