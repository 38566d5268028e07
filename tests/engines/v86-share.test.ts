// The x86 guest's 9p share (v86's virtio-9p, tag host9p, mounted at /mnt/host by the image's
// init) over a MemoryFileShare, as the page's exchange folder uses it: files both ways, and the
// guest's open 9p files across saveState and a restore into a new engine (the fid table rides in
// the v86 state). A state saved without a share restores into an engine given one without a 9p
// device; a state with one refuses to start without a share.
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import type { BootConfig, Engine, ImageEntry } from '../../src/engines/engine.js';
import { NodeAssetLoader, PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { createEngine } from '../../src/engines/create.js';
import { MemoryFileShare } from '../../src/devices/backends/memory-file-share.js';
import { p9StateOf, v86StateHas9p } from '../../src/engines/v86/p9-state.js';
import { stateMemoryBytes } from '../../src/engines/state-memory.js';

const assets = new NodeAssetLoader();
const manifest = JSON.parse(readFileSync(`${PROJECT_ROOT}/images/manifest.json`, 'utf8')) as { images: ImageEntry[] };
const image = manifest.images.find((i) => i.name === 'x86-busybox')!;
const WAIT_MS = 120_000;
const text = (s: string) => new TextEncoder().encode(s);

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

/** The console as text, and a way to type a command and wait for what follows it. */
function consoleOf(engine: Engine) {
  let all = '';
  engine.onConsole((b) => { all += Buffer.from(b).toString('latin1'); });
  const waitFor = async (needle: RegExp, from = 0) => {
    const until = Date.now() + WAIT_MS;
    while (!needle.test(all.slice(from))) {
      if (Date.now() > until) throw new Error(`console never showed ${needle}; got:\n${all.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    get text() { return all; },
    waitFor,
    ask: async (command: string, answer: RegExp) => {
      const from = all.length;
      engine.sendConsole(`${command}\n`);
      await waitFor(answer, from);
    },
  };
}

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.destroy();
});

describe('v86 engine with a 9p share', () => {
  it('moves files both ways, and keeps the guest\'s open 9p files across save and restore', async () => {
    const share = new MemoryFileShare(false, { maxBytes: 1 << 20 });
    share.putFile(['upload', 'in.txt'], text('dropped-by-the-user\n'));
    const first = await createEngine({ ...(await bootConfig()), share }, assets);
    engines.push(first);
    const c1 = consoleOf(first);
    await first.start();
    await c1.waitFor(/\/ # /);
    await c1.ask('cat /mnt/host/upload/in.txt', /dropped-by-the-user/);
    await c1.ask('mkdir /mnt/host/out && echo made-in-x86 > /mnt/host/out/r.txt && echo ok-$((40+2))', /ok-42/);
    expect(new TextDecoder().decode(share.getFile(['out', 'r.txt']))).toBe('made-in-x86\n');
    // An open file (fd 3) whose 9p fid must survive the restore.
    await c1.ask('exec 3< /mnt/host/upload/in.txt; echo held-$((1+1))', /held-2/);
    await first.pause();
    const state = await first.saveState();
    await first.destroy();
    expect(v86StateHas9p(state)).toBe(true);
    expect(p9StateOf(state)?.fids.length).toBeGreaterThan(1);
    expect(stateMemoryBytes('v86', state)).toBe(image.memoryMiB << 20); // still a v86 state for every reader

    // The same share contents in the new machine (as a worker keeps its exchange folder).
    const second = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB, state, share }, assets);
    engines.push(second);
    const c2 = consoleOf(second);
    await second.start();
    await c2.ask('cat <&3; echo read-$((3*3))', /dropped-by-the-user\r?\nread-9/);
    await c2.ask('echo again > /mnt/host/out/r2.txt && ls /mnt/host/out | tr "\\n" " "; echo', /r\.txt r2\.txt/);
    expect(new TextDecoder().decode(share.getFile(['out', 'r2.txt']))).toBe('again\n');

    // Without a share, a state that has one is refused with the reason.
    const third = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB, state }, assets);
    engines.push(third);
    await expect(third.start()).rejects.toThrow(/shared folder \(9p\): give one/);
  });

  it('a state saved without a share restores into an engine given one (no 9p device is added)', async () => {
    const first = await createEngine(await bootConfig(), assets);
    engines.push(first);
    const c1 = consoleOf(first);
    await first.start();
    await c1.waitFor(/\/ # /);
    await first.pause();
    const state = await first.saveState();
    await first.destroy();
    expect(v86StateHas9p(state)).toBe(false);
    const second = await createEngine({ engine: 'v86', memoryMiB: image.memoryMiB, state, share: new MemoryFileShare() }, assets);
    engines.push(second);
    const c2 = consoleOf(second);
    await second.start();
    await c2.ask('grep -c " /mnt/host " /proc/mounts; echo end-$((2+3))', /\r?\n0\r?\nend-5/);
  });
});
