// The --stats report printed to stderr when a run ends (docs/CLI.md, "--stats").

export interface RunStats {
  engine: string;
  instructions: number;
  wallSeconds: number;
  firstOutputSeconds?: number;
  extra?: string;
}

export function formatStats(s: RunStats): string {
  const mips = s.wallSeconds > 0 ? s.instructions / s.wallSeconds / 1e6 : 0;
  const lines = [
    '--- tabvisor stats ---',
    `engine:               ${s.engine}`,
    `instructions retired: ${s.instructions}`,
    `wall seconds:         ${s.wallSeconds.toFixed(3)}`,
    `MIPS:                 ${mips.toFixed(1)}`,
    `first console byte:   ${s.firstOutputSeconds === undefined ? 'none' : `${s.firstOutputSeconds.toFixed(3)} s`}`,
  ];
  if (s.extra) lines.push(`note:                 ${s.extra}`);
  return lines.join('\n') + '\n';
}
