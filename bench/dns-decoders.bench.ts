/**
 * The DNS decoders the user's dependencies brought (dns2 3.1's `Packet.parse`; dns-packet 5.6, the
 * codec inside multicast-dns 7.2) against the readers the sidecar uses instead (src/lib/dns-wire
 * request/response readers, src/lib/mdns/response-reader.ts), in one run, on the same bytes:
 *   - valid messages (a query, an mDNS reply, an Unbound reply): decodes per second;
 *   - hostile messages (bench/dns-decoder-inputs.ts): what each decoder does — accepts (and returns
 *     what), rejects, throws, hangs or dies. Each decoder runs in a worker thread with a heap cap,
 *     and a message it spends more than BENCH_HANG_MS on counts as a hang (the worker is ended).
 * Caveat on throughput: our readers do less — names stay wire bytes, only the sections the caller
 * uses are read (dns-wire's response reader stops after the answers) — which is the point of them.
 * Light: one process, no namespaces, no root, ~15 s. `npx tsx bench/dns-decoders.bench.ts`
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { envNumber, printTable, writeResults } from './bench-report.js';
import { DECODERS, HOSTILE, VALID, type Decoder, type Verdict } from './dns-decoder-inputs.js';

const HANG_MS = envNumber('BENCH_HANG_MS', 3000);
const MEASURE_MS = envNumber('BENCH_MEASURE_MS', 300);

interface Report {
  readonly index: number;
  readonly outcome: Verdict['outcome'] | 'hang' | 'crash';
  readonly detail: string;
  /** Time in the decoder for the whole input (all messages of a junk input). */
  readonly ms: number;
}
type FromWorker = { readonly ready: true } | Report | { readonly done: true };

/**
 * Workers do not inherit tsx's loader (module hooks are per thread), so under tsx the worker
 * registers it before importing this file; compiled (dist/bench/*.js) it imports it directly.
 */
const WORKER_BOOT = import.meta.url.endsWith('.ts')
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); })`
  : `import(${JSON.stringify(import.meta.url)})`;

const applies = (d: Decoder, i: number): boolean => {
  const kind = HOSTILE[i]?.kind;
  return kind !== undefined && d.kinds.includes(kind);
};

/** Worker side: decode every hostile input from `start` on, reporting each as it finishes. */
function workerMain(decoderName: string, start: number): void {
  const d = DECODERS.find((x) => x.name === decoderName);
  if (d === undefined || parentPort === null) throw new Error(`no decoder ${decoderName}`);
  parentPort.postMessage({ ready: true } satisfies FromWorker);
  for (let index = start; index < HOSTILE.length; index++) {
    const input = HOSTILE[index];
    if (input === undefined || !applies(d, index)) continue;
    const counts = new Map<string, number>();
    let last: Verdict | undefined;
    const t0 = performance.now();
    for (const msg of input.messages) {
      last = d.decode(msg);
      counts.set(last.outcome, (counts.get(last.outcome) ?? 0) + 1);
    }
    const ms = performance.now() - t0;
    const many = input.messages.length > 1;
    const outcome = many ? ([...counts].sort((a, b) => b[1] - a[1])[0]?.[0] as Verdict['outcome']) : (last?.outcome ?? 'rejected');
    const detail = many ? `${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}; ${((ms * 1000) / input.messages.length).toFixed(1)} µs/datagram` : (last?.detail ?? '');
    parentPort.postMessage({ index, outcome, detail, ms } satisfies FromWorker);
  }
  parentPort.postMessage({ done: true } satisfies FromWorker);
}

/** Main side: one worker per decoder; a hang or a dead worker is recorded and the rest resumes in a fresh one. */
function runHostile(d: Decoder): Promise<Report[]> {
  const reports: Report[] = [];
  const nextFrom = (i: number): number => {
    let j = i;
    while (j < HOSTILE.length && !applies(d, j)) j++;
    return j;
  };
  return new Promise((resolve) => {
    const spawn = (start: number): void => {
      let current = nextFrom(start);
      if (current >= HOSTILE.length) return resolve(reports);
      let timer: NodeJS.Timeout | undefined;
      let t0 = 0;
      const w = new Worker(WORKER_BOOT, { eval: true, workerData: { decoder: d.name, start: current }, resourceLimits: { maxOldGenerationSizeMb: 256 } });
      const arm = (): void => {
        clearTimeout(timer);
        t0 = performance.now();
        timer = setTimeout(() => {
          reports.push({ index: current, outcome: 'hang', detail: `still decoding after ${HANG_MS} ms; worker terminated`, ms: HANG_MS });
          void w.terminate().then(() => spawn(current + 1));
        }, HANG_MS);
      };
      let finished = false;
      w.on('message', (m: FromWorker) => {
        if ('ready' in m) return arm();
        if ('done' in m) {
          finished = true;
          clearTimeout(timer);
          void w.terminate().then(() => resolve(reports));
          return;
        }
        reports.push(m);
        current = nextFrom(m.index + 1);
        arm();
      });
      w.on('error', (err) => {
        clearTimeout(timer);
        finished = true;
        reports.push({ index: current, outcome: 'crash', detail: `worker died: ${err.message}`.slice(0, 90), ms: performance.now() - t0 });
        spawn(current + 1);
      });
      w.on('exit', () => {
        if (!finished) clearTimeout(timer);
      });
    };
    spawn(0);
  });
}

function opsPerSecond(d: Decoder, msg: Buffer): number {
  const until = (ms: number): number => {
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) for (let i = 0; i < 100; i++, n++) d.decode(msg);
    return n;
  };
  until(MEASURE_MS / 3); // warm-up (JIT)
  const t0 = performance.now();
  const n = until(MEASURE_MS);
  return (n * 1000) / (performance.now() - t0);
}

async function main(): Promise<void> {
  const throughput: Record<string, Record<string, number>> = {};
  for (const input of VALID) {
    const msg = input.messages[0] as Buffer;
    const row: Record<string, number> = {};
    for (const d of DECODERS) if (d.kinds.includes(input.kind)) row[d.name] = opsPerSecond(d, msg);
    throughput[input.name] = row;
  }
  printTable(
    'Valid messages: decodes/s (ratio = fastest of ours / this)',
    ['message', 'decoder', 'ops/s', 'ours ÷ this'],
    VALID.flatMap((input) => {
      const row = throughput[input.name] ?? {};
      const ours = Math.max(
        ...Object.entries(row)
          .filter(([k]) => k.startsWith('ours'))
          .map(([, v]) => v),
      );
      return Object.entries(row).map(([k, v]) => [input.name, k, Math.round(v), ours / v]);
    }),
  );

  const hostile: Record<string, Report[]> = {};
  for (const d of DECODERS) hostile[d.name] = await runHostile(d);
  const cell = (r: Report | undefined): string => (r === undefined ? '—' : `${r.outcome} ${r.ms < 1 ? '<1' : Math.round(r.ms)} ms`);
  printTable(
    'Hostile messages: outcome and time in the decoder',
    ['input', ...DECODERS.map((d) => d.name)],
    HOSTILE.map((input, i) => [input.name, ...DECODERS.map((d) => cell(hostile[d.name]?.find((r) => r.index === i)))]),
  );
  console.log('\nWhat each returned / threw:');
  for (const [i, input] of HOSTILE.entries()) {
    console.log(`- ${input.name}`);
    for (const d of DECODERS) {
      const r = hostile[d.name]?.find((x) => x.index === i);
      if (r !== undefined) console.log(`    ${d.name}: ${r.outcome}: ${r.detail}`);
    }
  }

  const rows = HOSTILE.map((input, i) => ({ input: input.name, results: Object.fromEntries(DECODERS.map((d) => [d.name, hostile[d.name]?.find((r) => r.index === i)])) }));
  const hangsOrCrashes = (name: string): number => (hostile[name] ?? []).filter((r) => r.outcome === 'hang' || r.outcome === 'crash').length;
  const accepted = (name: string): number => (hostile[name] ?? []).filter((r) => r.outcome.startsWith('accepted')).length;
  const summary: Record<string, string | number> = {};
  for (const d of DECODERS) summary[`${d.name.replace(/^ours: /, '')} hang+crash/accepted`] = `${hangsOrCrashes(d.name)}/${accepted(d.name)}`;
  console.log(`\nresults: ${writeResults('dns-decoders', { hangMs: HANG_MS, measureMs: MEASURE_MS, throughput, hostile: rows }, summary)}`);
}

if (isMainThread) {
  await main();
} else {
  const data = workerData as { decoder: string; start: number };
  workerMain(data.decoder, data.start);
}
