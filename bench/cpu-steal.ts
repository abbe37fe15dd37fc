/**
 * CPU time the hypervisor gave to other guests (the `steal` column of /proc/stat, proc(5)): on a
 * shared VM a neighbour's load shows up here, and a run with steal measures that neighbour as much
 * as our code. The benches print it next to their figures so a stolen run can be told apart.
 */
import { readFileSync } from 'node:fs';

export interface CpuTicks {
  readonly steal: number;
  readonly total: number;
}

/** The aggregate `cpu` line of /proc/stat: steal and the sum of every column, in USER_HZ ticks. */
export function cpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const cols = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (cols.length < 8 || cols.some((n) => !Number.isFinite(n))) return undefined;
    return { steal: cols[7] ?? 0, total: cols.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** Share of all CPUs' time stolen between two readings (0..1), NaN when unknown. */
export function stealShare(from: CpuTicks | undefined, to: CpuTicks | undefined): number {
  if (from === undefined || to === undefined || to.total <= from.total) return Number.NaN;
  return (to.steal - from.steal) / (to.total - from.total);
}
