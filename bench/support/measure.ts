/** Runs `fn` repeatedly and returns the median duration in ms (after warm-up). */
export function medianMs(fn: () => unknown, runs = 7, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);

export function printFigure(name: string, value: string, ratio: number, goal: string): void {
  process.stdout.write(`${name.padEnd(54)} ${value.padStart(18)}   ratio ${ratio.toFixed(2).padStart(6)}   (goal ${goal})\n`);
}
