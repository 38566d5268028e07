#!/usr/bin/env node
// `npm run bench -- rv64-boot [--runs N] [--image-dir DIR] [--write]`: riscv64-busybox (OpenSBI
// fw_jump + Linux + BusyBox) booted to its shell on our RV64 core (Rv64Engine, real-time mode, Node)
// and on qemu-system-riscv64 -M virt with the same firmware, kernel, initrd, memory and command
// line, in one run; then the same user-space workloads typed at both shells; the host CPU an idle
// shell costs on each; and where our boot time goes (instructions per phase, a node --cpu-prof
// summary). Prints a Markdown section; --write also puts it into bench/RESULTS.md (replacing this
// benchmark's previous section only).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg, tmpdir } from 'node:os';
import { writeSection } from './_sections.js';
import { WORKLOADS, answerOf } from './_workloads.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
if (!existsSync(join(dist, 'engines', 'rv64', 'engine.js'))) {
  process.stderr.write('rv64-boot: dist/ is not built; run `npm run build:ts` first\n');
  process.exit(2);
}
const { NodeAssetLoader } = await import(join(dist, 'engines', 'assets-node.js'));
const { createEngine } = await import(join(dist, 'engines', 'create.js'));
const { Rv64Machine } = await import(join(dist, 'engines', 'rv64', 'machine.js'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(opt('--runs') ?? 3);
const WRITE = args.includes('--write');
const PROFILE_CHILD = args.includes('--profile-child');
const WAIT_MS = 300_000;
const MEM_MIB = 128;
const CMDLINE = 'console=ttyS0';
const MARKER = 'tabvisor-guest-ready';

// --- the image -------------------------------------------------------------------------------
function imagePaths() {
  const dir = opt('--image-dir') ?? process.env.RV64_IMAGE_DIR;
  if (dir) return { firmware: join(dir, 'fw_jump.bin'), kernel: join(dir, 'Image'), initrd: join(dir, 'initrd.cpio'), from: dir };
  const manifest = JSON.parse(readFileSync(join(root, 'images', 'manifest.json'), 'utf8'));
  const e = manifest.images.find((i) => i.name === 'riscv64-busybox');
  if (!e) return undefined;
  return { firmware: join(root, e.firmware), kernel: join(root, e.kernel), initrd: join(root, e.initrd), from: 'images/riscv64-busybox' };
}
const paths = imagePaths();
if (!paths || ![paths.firmware, paths.kernel, paths.initrd].every(existsSync)) {
  process.stderr.write('rv64-boot: no riscv64-busybox image (images/manifest.json) and no --image-dir DIR\n');
  process.exit(2);
}
const files = {
  firmware: new Uint8Array(readFileSync(paths.firmware)),
  kernel: new Uint8Array(readFileSync(paths.kernel)),
  initrd: new Uint8Array(readFileSync(paths.initrd)),
};

// --- a console both machines share ------------------------------------------------------------
/** Console text with waits; `send` types on the machine's serial console. */
class Console {
  constructor(send) {
    this.text = '';
    this.waiters = [];
    this.send = send;
    this.step = 0;
  }
  push(s) {
    this.text += s;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (this.text.includes(w.needle, w.from)) {
        this.waiters.splice(i, 1);
        w.resolve(performance.now());
      }
    }
  }
  waitFor(needle, from = 0) {
    if (this.text.includes(needle, from)) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${needle}' on the console; tail:\n${this.text.slice(-800)}`)), WAIT_MS);
      this.waiters.push({ needle, from, resolve: (t) => { clearTimeout(timer); resolve(t); } });
    });
  }
  /** Types a command; resolves with the wall ms until its output is complete. */
  async run(cmd) {
    const n = ++this.step;
    const from = this.text.length;
    const t0 = performance.now();
    this.send(`${cmd}; echo "@@E""${n}@@"\n`);
    const t1 = await this.waitFor(`@@E${n}@@`, from);
    return { ms: t1 - t0, out: this.text.slice(from) };
  }
}


// --- our engine ----------------------------------------------------------------------------------
/** The JIT's counters that say what compiling cost the guest's thread (the engine's machine, read from outside). */
function jitOf(engine) {
  const st = engine.machine?.core?.jitStats?.();
  if (!st) return undefined;
  return {
    regions: st.regions, compileMs: st.compileMs, wasmCompileMs: st.wasmCompileMs, asyncCompiles: st.asyncCompiles ?? 0,
    asyncStale: st.asyncStale ?? 0, jitInsns: Number(st.jitInstructions),
  };
}
async function ourBoot({ workloads = false, idle = false } = {}) {
  const t0 = performance.now();
  const engine = await createEngine({ engine: 'rv64', memoryMiB: MEM_MIB, ...files, cmdline: CMDLINE }, new NodeAssetLoader());
  const con = new Console((s) => engine.sendConsole(s));
  engine.onConsole((b) => con.push(Buffer.from(b).toString('latin1')));
  const cpu0 = process.cpuUsage();
  await engine.start();
  const tMarker = await con.waitFor(MARKER);
  const insnsAtMarker = engine.stats().instructions;
  await con.waitFor('/ # ');
  const first = await con.run('echo hi');
  const tShell = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  const r = {
    markerS: (tMarker - t0) / 1000,
    shellS: (tShell - t0) / 1000,
    cpuS: (cpu1.user + cpu1.system) / 1e6,
    insnsAtMarker,
    firstCmdMs: first.ms,
  };
  if (workloads) {
    r.workloads = [];
    for (const w of WORKLOADS) {
      const i0 = engine.stats().instructions;
      const j0 = jitOf(engine);
      const res = await con.run(w.cmd);
      const j1 = jitOf(engine);
      const jit = j0 && j1 ? Object.fromEntries(Object.keys(j1).map((k) => [k, j1[k] - j0[k]])) : undefined;
      r.workloads.push({ ms: res.ms, insns: engine.stats().instructions - i0, out: res.out, jit });
    }
  }
  if (idle) {
    await new Promise((res) => setTimeout(res, 1000));
    const c0 = process.cpuUsage();
    const i0 = engine.stats().instructions;
    const w0 = performance.now();
    await new Promise((res) => setTimeout(res, 5000));
    const c1 = process.cpuUsage(c0);
    r.idle = { cpuS: (c1.user + c1.system) / 1e6, wallS: (performance.now() - w0) / 1000, insns: engine.stats().instructions - i0 };
  }
  const exited = new Promise((res) => engine.onExit(res));
  engine.sendConsole('poweroff -f\n');
  r.exit = await exited;
  await engine.destroy();
  return r;
}

// --- QEMU ----------------------------------------------------------------------------------------
function procCpuS(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return ticks / 100;
}

async function qemuBoot({ workloads = false, idle = false } = {}) {
  const t0 = performance.now();
  const proc = spawn('qemu-system-riscv64', ['-M', 'virt', '-smp', '1', '-m', `${MEM_MIB}M`, '-nographic', '-monitor', 'none',
    '-bios', paths.firmware, '-kernel', paths.kernel, '-initrd', paths.initrd, '-append', CMDLINE], { stdio: ['pipe', 'pipe', 'pipe'] });
  const con = new Console((s) => proc.stdin.write(s));
  proc.stdout.on('data', (d) => con.push(d.toString('latin1')));
  proc.stderr.on('data', (d) => con.push(d.toString('latin1')));
  const exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  const tMarker = await con.waitFor(MARKER);
  await con.waitFor('/ # ');
  const first = await con.run('echo hi');
  const tShell = performance.now();
  const r = { markerS: (tMarker - t0) / 1000, shellS: (tShell - t0) / 1000, cpuS: procCpuS(proc.pid), firstCmdMs: first.ms };
  if (workloads) {
    r.workloads = [];
    for (const w of WORKLOADS) {
      const res = await con.run(w.cmd);
      r.workloads.push({ ms: res.ms, out: res.out });
    }
  }
  if (idle) {
    await new Promise((res) => setTimeout(res, 1000));
    const c0 = procCpuS(proc.pid);
    await new Promise((res) => setTimeout(res, 5000));
    r.idle = { cpuS: procCpuS(proc.pid) - c0, wallS: 5 };
  }
  proc.stdin.write('poweroff -f\n');
  r.exitCode = await Promise.race([exited, new Promise((res) => setTimeout(() => { proc.kill(); res('killed'); }, 10_000))]);
  return r;
}

// --- where our boot goes ---------------------------------------------------------------------------
/** Instructions and wall time per phase: firmware (M mode until the first S-mode slice), kernel (to "Run /init"), init (to the marker). */
async function phases() {
  const module = await WebAssembly.compile(readFileSync(join(root, 'build', 'rv64.wasm')));
  let out = '';
  const m = new Rv64Machine({ module, memoryBytes: MEM_MIB << 20, ...files, cmdline: CMDLINE, output: (d) => (out += Buffer.from(d).toString('latin1')) });
  const marks = [];
  let phase = 'firmware';
  const t0 = performance.now();
  let insns = 0;
  let start = { insns: 0, t: t0 };
  const close = (next) => {
    const t = performance.now();
    marks.push({ phase, insns: insns - start.insns, ms: t - start.t });
    phase = next;
    start = { insns, t };
  };
  for (let i = 0; i < 100_000; i++) {
    const r = m.runSlice(100_000);
    insns += r.instructions;
    if (r.exit) throw new Error(`exit during boot: ${JSON.stringify(r.exit)}`);
    if (phase === 'firmware' && m.core.priv !== 3) close('kernel');
    if (phase === 'kernel' && out.includes('Run /init')) close('init');
    if (phase === 'init' && out.includes(MARKER)) {
      close('done');
      break;
    }
    if (r.idle) await new Promise((res) => setTimeout(res, Math.max(0, Math.ceil(r.idle.msUntilTimer ?? 1))));
  }
  const st = m.core.stats();
  return { marks, tlbMisses: Number(st.tlbMisses), exceptions: Number(st.exceptions), interrupts: Number(st.interrupts) };
}

/** wasm function index -> name, from build/rv64.wat when it is as new as build/rv64.wasm (asc writes both). */
function wasmNames() {
  const wat = join(root, 'build', 'rv64.wat');
  const wasm = join(root, 'build', 'rv64.wasm');
  if (!existsSync(wat) || statSync(wat).mtimeMs + 1000 < statSync(wasm).mtimeMs) return new Map();
  const text = readFileSync(wat, 'utf8');
  const names = [];
  for (const m of text.matchAll(/^ \(import "[^"]*" "[^"]*" \(func \$([^\s)]+)/gm)) names.push(m[1]);
  for (const m of text.matchAll(/^ \(func \$([^\s)]+)/gm)) names.push(m[1]);
  return new Map(names.map((n, i) => [i, n.replace(/^assembly\//, '')]));
}

/** Boots once under node --cpu-prof in a child and sums self time per function. */
function cpuProfile() {
  const dir = mkdtempSync(join(tmpdir(), 'rv64-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, fileURLToPath(import.meta.url), '--profile-child',
      ...(opt('--image-dir') ? ['--image-dir', opt('--image-dir')] : [])], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`profile child failed: ${r.stderr}`);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const self = new Map();
    const names = wasmNames();
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const dt = prof.timeDeltas;
    let total = 0;
    prof.samples.forEach((id, i) => {
      const n = byId.get(id);
      let name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'anonymous'})`;
      const w = /^wasm-function\[(\d+)\]$/.exec(name);
      if (w && names.has(Number(w[1]))) name = names.get(Number(w[1]));
      const key = `${name} ${n.callFrame.url.endsWith('.wasm') || n.callFrame.url.startsWith('wasm') ? '[wasm]' : ''}`.trim();
      self.set(key, (self.get(key) ?? 0) + dt[i]);
      total += dt[i];
    });
    return { total: total / 1000, top: [...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => ({ name: k, ms: v / 1000 })) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (PROFILE_CHILD) {
  const r = await ourBoot();
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
}

// --- the run -------------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const load0 = loadavg()[0];
const ours = [];
const qemus = [];
for (let i = 0; i < RUNS; i++) {
  const last = i === RUNS - 1;
  ours.push(await ourBoot({ workloads: last, idle: last }));
  qemus.push(await qemuBoot({ workloads: last, idle: last }));
  process.stderr.write(`rv64-boot: run ${i + 1}/${RUNS}: ours ${ours[i].shellS.toFixed(2)} s, qemu ${qemus[i].shellS.toFixed(2)} s\n`);
}
const ph = await phases();
const prof = cpuProfile();
const load1 = loadavg()[0];

const o = ours[RUNS - 1];
const q = qemus[RUNS - 1];
const wlCheck = WORKLOADS.map((w, i) => {
  const a = answerOf(o.workloads[i].out);
  return a !== undefined && a === answerOf(q.workloads[i].out);
});
const f2 = (x) => x.toFixed(2);
const f3 = (x) => x.toFixed(3);
const lines = [];
lines.push('## rv64-boot: riscv64-busybox boot-to-shell and workloads, our core vs QEMU (bench/rv64-boot.js)');
lines.push('');
lines.push(`Image: ${paths.from} (OpenSBI fw_jump, Linux Image ${files.kernel.length} bytes, initrd ${files.initrd.length} bytes),`);
lines.push(`${MEM_MIB} MiB, \`${CMDLINE}\`, one hart. Ours: Rv64Engine in real-time mode through createEngine (Node ${process.version});`);
lines.push('QEMU 7.2 TCG `-M virt -smp 1 -nographic`. Clocks start when the machine is created and stop when the shell');
lines.push(`has answered \`echo\`. ${RUNS} runs each, alternating; ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}),`);
lines.push(`load average ${f2(load0)} at the start and ${f2(load1)} at the end (a shared machine: wall times vary).`);
lines.push('');
lines.push('| boot | median s to marker | median s to shell | min s | max s | CPU s (last run) |');
lines.push('|---|---:|---:|---:|---:|---:|');
lines.push(`| our core | ${f3(median(ours.map((r) => r.markerS)))} | ${f3(median(ours.map((r) => r.shellS)))} | ${f3(Math.min(...ours.map((r) => r.shellS)))} | ${f3(Math.max(...ours.map((r) => r.shellS)))} | ${f2(o.cpuS)} |`);
lines.push(`| QEMU | ${f3(median(qemus.map((r) => r.markerS)))} | ${f3(median(qemus.map((r) => r.shellS)))} | ${f3(Math.min(...qemus.map((r) => r.shellS)))} | ${f3(Math.max(...qemus.map((r) => r.shellS)))} | ${f2(q.cpuS)} |`);
lines.push('');
lines.push(`- boot to shell, ours / QEMU (medians): **${f2(median(ours.map((r) => r.shellS)) / median(qemus.map((r) => r.shellS)))}x**`);
lines.push(`- guest instructions to the marker on our core: ${(median(ours.map((r) => r.insnsAtMarker)) / 1e6).toFixed(1)} M`);
lines.push('');
lines.push('User-space workloads typed at the shell (last run; host wall time from typing to the output):');
lines.push('');
lines.push('| workload | ours ms | guest M insns (ours) | QEMU ms | ours / QEMU | same output |');
lines.push('|---|---:|---:|---:|---:|---|');
WORKLOADS.forEach((w, i) => {
  lines.push(`| ${w.name} | ${o.workloads[i].ms.toFixed(0)} | ${(o.workloads[i].insns / 1e6).toFixed(1)} | ${q.workloads[i].ms.toFixed(0)} | ${f2(o.workloads[i].ms / q.workloads[i].ms)}x | ${wlCheck[i] ? 'yes' : 'no'} |`);
});
lines.push('');
if (o.workloads.every((w) => w.jit)) {
  lines.push(`The JIT during each workload (ours; \`TABVISOR_JIT_COMPILE\`=${process.env.TABVISOR_JIT_COMPILE ?? 'the machine\'s choice (async)'}, threshold ${process.env.TABVISOR_JIT_THRESHOLD ?? 'default'}): host ms on the guest's thread in the JIT (code generation, foreground compiles, installs) and of it in WebAssembly.Module/Instance:`);
  lines.push('');
  lines.push('| workload | regions installed | M insns run compiled | JIT ms on the guest thread | of it Module/Instance ms | background compiles | regions given up |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  WORKLOADS.forEach((w, i) => {
    const j = o.workloads[i].jit;
    lines.push(`| ${w.name} | ${j.regions} | ${(j.jitInsns / 1e6).toFixed(1)} | ${j.compileMs.toFixed(1)} | ${j.wasmCompileMs.toFixed(1)} | ${j.asyncCompiles} | ${j.asyncStale} |`);
  });
  lines.push('');
}
lines.push(`Idle shell, host CPU over ${f2(o.idle.wallS)} s (after 1 s of settling): ours **${f3(o.idle.cpuS)} s** (${((o.idle.cpuS / o.idle.wallS) * 100).toFixed(1)}% of a core,`);
lines.push(`${(o.idle.insns / 1e6).toFixed(2)} M guest instructions: the kernel's timer interrupts), QEMU ${f3(q.idle.cpuS)} s (${((q.idle.cpuS / q.idle.wallS) * 100).toFixed(1)}%).`);
lines.push('');
lines.push('Where our boot goes (one boot on Rv64Machine, 100k-instruction slices):');
lines.push('');
lines.push('| phase | M instructions | wall ms | MIPS |');
lines.push('|---|---:|---:|---:|');
for (const m of ph.marks) lines.push(`| ${m.phase} | ${(m.insns / 1e6).toFixed(1)} | ${m.ms.toFixed(0)} | ${(m.insns / m.ms / 1000).toFixed(1)} |`);
lines.push('');
lines.push(`Core counters over that boot: ${ph.exceptions} exceptions, ${ph.interrupts} interrupts, ${ph.tlbMisses} TLB misses.`);
lines.push('');
lines.push(`node --cpu-prof of one boot to the shell (${prof.total.toFixed(0)} ms sampled), self time:`);
lines.push('');
lines.push('| function | self ms | share |');
lines.push('|---|---:|---:|');
for (const t of prof.top) lines.push(`| \`${t.name}\` | ${t.ms.toFixed(0)} | ${((t.ms / prof.total) * 100).toFixed(1)}% |`);
lines.push('');
lines.push(`Command: \`npm run build:ts && npm run bench -- rv64-boot${opt('--image-dir') ? ` --image-dir ${opt('--image-dir')}` : ''} --runs ${RUNS} --write\``);
const section = lines.join('\n') + '\n';
process.stdout.write(section);

if (WRITE) writeSection('rv64-boot', section);
