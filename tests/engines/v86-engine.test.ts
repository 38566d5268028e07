// Boots images/x86-busybox on the v86 engine through the Engine interface, as the hypervisor
// and the CLI do: console in and out, save, destroy, restore from the state alone, poweroff.
import { describe, it, expect, afterAll, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import type { BootConfig, Engine, ExitReason, ImageEntry } from '../../src/engines/engine.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { createEngine, EngineConfigError } from '../../src/engines/create.js';
import { checkV86Config } from '../../src/engines/v86/engine.js';

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}/images/manifest.json`, 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox')!;
const WAIT_MS = 90_000; // generous: the test machine is shared

async function bootConfig(): Promise<BootConfig> {
  return {
    engine: 'v86',
    memoryMiB: image.memoryMiB,
    firmware: await assets.load(image.firmware!),
    vgaBios: image.vgaBios ? await assets.load(image.vgaBios) : undefined,
    kernel: await assets.load(image.kernel),
    initrd: image.initrd ? await assets.load(image.initrd) : undefined,
    cmdline: image.cmdline,
  };
}

/** Collects console output and waits for text to appear in it. */
class ConsoleLog {
  text = '';
  private waiters: { needle: string | RegExp; from: number; resolve: () => void }[] = [];
  constructor(engine: Engine) {
    engine.onConsole((bytes) => {
      this.text += Buffer.from(bytes).toString('latin1');
      this.waiters = this.waiters.filter((w) => {
        if (!this.has(w.needle, w.from)) return true;
        w.resolve();
        return false;
      });
    });
  }
  private has(needle: string | RegExp, from: number): boolean {
    const rest = this.text.slice(from);
    return typeof needle === 'string' ? rest.includes(needle) : needle.test(rest);
  }
  waitFor(needle: string | RegExp, from = 0): Promise<void> {
    if (this.has(needle, from)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`console never showed ${String(needle)}; got:\n${this.text.slice(-2000)}`)), WAIT_MS);
      this.waiters.push({ needle, from, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }
  /** Types a command and waits for its answer line. */
  async ask(engine: Engine, command: string, answer: RegExp): Promise<void> {
    const from = this.text.length;
    engine.sendConsole(command + '\n');
    await this.waitFor(answer, from);
  }
}

const engines: Engine[] = [];
let savedState: Uint8Array | undefined;
afterAll(async () => {
  for (const e of engines) await e.destroy();
});

describe('v86 engine', () => {
  it('boots x86-busybox, answers, saves, restores from the state alone, and reports poweroff', async () => {
    const first = await createEngine(await bootConfig(), assets);
    engines.push(first);
    expect(first.kind).toBe('v86');
    const log = new ConsoleLog(first);
    await first.start();
    expect(first.running).toBe(true);
    await log.waitFor(image.readyMarker);
    await log.waitFor('/ # ');
    await log.ask(first, 'uname -m', /\r?\ni686\r?\n/);
    await log.ask(first, 'echo marker-$((6*7))', /marker-42/);

    const booted = first.stats();
    expect(booted.instructions).toBeGreaterThan(10_000_000); // a Linux boot is tens of millions
    expect(booted.runMs).toBeGreaterThan(0);
    expect(booted.memoryBytes).toBe(image.memoryMiB * 1024 * 1024);

    await first.pause();
    expect(first.running).toBe(false);
    await expect(first.pause()).resolves.toBeUndefined(); // pausing twice is harmless
    const state = await first.saveState();
    savedState = state;
    expect(state.length).toBeGreaterThan(1024 * 1024);
    await first.destroy();

    // A fresh engine from nothing but the state: no kernel, no BIOS, no initrd.
    const second = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB, state }, assets);
    engines.push(second);
    const log2 = new ConsoleLog(second);
    const exits: ExitReason[] = [];
    second.onExit((reason) => exits.push(reason));
    await second.start();
    await log2.ask(second, 'uname -m', /\r?\ni686\r?\n/);
    await log2.ask(second, 'cat /proc/cpuinfo | grep -c processor', /\r?\n1\r?\n/);
    expect(second.stats().instructions).toBeGreaterThan(0);

    const gone = new Promise<ExitReason>((resolve) => second.onExit(resolve));
    second.sendConsole('poweroff -f\n');
    const reason = await gone;
    expect(reason).toEqual({ kind: 'poweroff', code: 0 });
    expect(exits).toEqual([{ kind: 'poweroff', code: 0 }]); // reported once
    expect(second.running).toBe(false);
    expect(log2.text).toMatch(/System halted|Power down/);
  });

  it('pauses and resumes a running guest without losing input', async () => {
    const engine = await createEngine(await bootConfig(), assets);
    engines.push(engine);
    const log = new ConsoleLog(engine);
    expect(engine.consoleReceiving?.()).toBe(false); // not started
    await engine.start();
    await log.waitFor('/ # ');
    expect(engine.consoleReceiving?.()).toBe(true); // the shell's tty opened COM1
    await engine.pause();
    engine.sendConsole('echo after-$((1+2))\n'); // typed while paused: delivered on resume
    const before = engine.stats().instructions;
    await engine.resume();
    await log.waitFor('after-3');
    expect(engine.stats().instructions).toBeGreaterThan(before);
    await engine.destroy();
    await engine.destroy(); // idempotent
  });
});

describe('v86 engine failures', () => {
  it('reports an exception inside v86 as a crash and still destroys cleanly', async () => {
    expect(savedState, 'the boot test saves the state this test restores').toBeDefined();
    const engine = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB, state: savedState }, assets);
    engines.push(engine);
    await engine.start();
    const crashed = new Promise<ExitReason>((resolve) => engine.onExit(resolve));
    // Make v86's main loop throw, as an emulator bug would.
    const internals = (engine as unknown as { emulator: { v86: { cpu: { main_loop: () => number } } } }).emulator.v86;
    internals.cpu.main_loop = () => { throw new Error('simulated emulator bug'); };
    const reason = await crashed;
    expect(reason).toEqual({ kind: 'crash', message: 'v86 stopped: simulated emulator bug' });
    expect(engine.running).toBe(false);
    await engine.destroy();
  });
});

describe('v86 console noise', () => {
  it('restores a state into a machine of another size without v86 printing to the console', async () => {
    expect(savedState, 'the boot test saves the state this test restores').toBeDefined();
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    try {
      // A state is refused unless it holds exactly the VM's memory (a larger or smaller machine
      // would let a snapshot's metadata and its state disagree about the memory budget).
      for (const memoryMiB of [256, 80]) {
        const other = await createEngine({ engine: 'v86', memoryMiB, state: savedState }, assets);
        engines.push(other);
        await expect(other.start()).rejects.toThrow(
          new RegExp(`the state holds ${image.memoryMiB} MiB of RAM but this VM has ${memoryMiB} MiB`));
      }
      expect(warn).not.toHaveBeenCalled();
      expect(log).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });
});

describe('v86 configuration checks', () => {
  it('refuses what v86 cannot run, with a message that names the fix', async () => {
    const base = await bootConfig();
    expect(() => checkV86Config({ ...base, kernel: new Uint8Array(4096) })).toThrow(/not a Linux bzImage/);
    expect(() => checkV86Config({ ...base, firmware: undefined })).toThrow(/needs a BIOS/);
    expect(() => checkV86Config({ ...base, memoryMiB: 64 })).toThrow(/--mem 67M or more/);
    expect(() => checkV86Config({ ...base, disk: new Uint8Array(512) })).not.toThrow(); // IDE disk (v86-disk.ts)
    expect(() => checkV86Config({ ...base, memoryMiB: 0 })).toThrow(EngineConfigError);
  });

  it('refuses a state that is not a v86 state', async () => {
    const engine = await createEngine({ engine: 'v86', memoryMiB: 128, state: new Uint8Array(4096).fill(9) }, assets);
    engines.push(engine);
    await expect(engine.start()).rejects.toThrow(/saved v86 state does not load/);
  });

  it('says the rv64 Linux engine is not there yet instead of pretending', async () => {
    const { existsSync } = await import('node:fs');
    if (existsSync(`${PROJECT_ROOT}/src/engines/rv64/engine.ts`)) return;
    await expect(createEngine({ engine: 'rv64', memoryMiB: 128 }, assets)).rejects.toThrow(/rv64 Linux engine is not available yet/);
  });
});
