/** One benchmark result: what we measured, against what, and whether it meets its target. */
export interface BenchRow {
  name: string;
  measured: string;
  baseline: string;
  ratio: number;
  target: string;
  pass: boolean;
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Print rows as a fixed-width table. */
export function printTable(rows: readonly BenchRow[]): void {
  const header = ['name', 'measured', 'baseline', 'ratio', 'target', 'pass'];
  const cells = rows.map((r) => [r.name, r.measured, r.baseline, r.ratio.toFixed(2), r.target, r.pass ? 'yes' : 'MISS']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join(' | ');
  // eslint-disable-next-line no-console
  console.log([line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n'));
}

/** The same rows as a markdown table; a missed target reads **MISS**. */
export function markdownTable(rows: readonly BenchRow[]): string {
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| benchmark | measured | baseline | ratio | target | pass |',
    '|---|---|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${escape(r.name)} | ${escape(r.measured)} | ${escape(r.baseline)} | ${r.ratio.toFixed(2)} | ${escape(r.target)} | ${r.pass ? 'yes' : '**MISS**'} |`,
    ),
  ].join('\n');
}

/** Options every benchmark file's entry function takes. */
export interface BenchOptions {
  /** Fewer rounds and smaller sizes (`--quick`). */
  quick: boolean;
  /** Lines printed after the table (what was measured, environment). */
  notes: string[];
}

/**
 * Runs one benchmark file on its own (`npx tsx bench/<file>.ts [--quick]`): its rows as a table, then its notes;
 * a failure sets a non-zero exit status. `bench/run.ts` runs them all together instead.
 */
export function runStandalone(benchmarks: (options: BenchOptions) => Promise<readonly BenchRow[]>): void {
  const notes: string[] = [];
  benchmarks({ quick: process.argv.includes('--quick'), notes }).then(
    (rows) => {
      printTable(rows);
      // eslint-disable-next-line no-console
      if (notes.length > 0) console.log(notes.join('\n'));
    },
    (e: unknown) => {
      // eslint-disable-next-line no-console
      console.error(e);
      process.exitCode = 1;
    },
  );
}
