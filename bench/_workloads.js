// The user-space workloads typed at a riscv64-busybox shell, shared by the benches that compare
// where a guest runs (rv64-boot: our core vs QEMU; rv64-page: the page's worker vs Node). Each
// command prints a checksum (64 hex digits) or a number, so two machines' outputs can be compared.
// (run.js lists only files without a leading underscore, so this is not a bench.)
export const WORKLOADS = [
  { name: 'shell loop (20000 iterations of i=$((i+1)))', cmd: 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i' },
  { name: 'sha256sum of 4 MiB from /dev/zero', cmd: 'dd if=/dev/zero bs=64k count=64 2>/dev/null | busybox sha256sum' },
  { name: 'fork+exec: 200 x /bin/true', cmd: 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done; echo $i' },
  // 8 MiB of text that compresses (the numbers 1..1 087 450, one per line, 8 388 608 bytes after head -c).
  { name: 'gzip -9 of 8 MiB (seq text)', cmd: 'seq 1 1100000 | head -c 8388608 | gzip -9 | busybox sha256sum' },
  { name: 'awk loop (300 000 iterations)', cmd: "awk 'BEGIN { s = 0; for (i = 0; i < 300000; i++) s = (s + i * i) % 1000003; print s }'" },
];

/** What a workload's output says, to compare two machines: its checksum, else its last number. */
export function answerOf(out) {
  const sum = /[0-9a-f]{64}/.exec(out)?.[0];
  if (sum) return sum;
  const numbers = out.match(/^-?\d+\s*$/gm);
  return numbers ? numbers[numbers.length - 1].trim() : undefined;
}
