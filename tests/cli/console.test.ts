// The console bridge between the process's stdin/stdout and a guest, with fake streams.
import { describe, it, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { ConsoleBridge } from '../../src/cli/console.js';

interface Fake {
  stdin: PassThrough & { isTTY?: boolean; setRawMode?: (on: boolean) => void };
  stdout: PassThrough;
  stderr: PassThrough;
  sent: string[];
  out: () => string;
  err: () => string;
  raw: boolean[];
}

function fake(tty: boolean): Fake {
  const stdin = new PassThrough() as Fake['stdin'];
  const raw: boolean[] = [];
  if (tty) {
    stdin.isTTY = true;
    stdin.setRawMode = (on: boolean) => { raw.push(on); };
  }
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  stderr.on('data', (d: Buffer) => { err += d.toString('latin1'); });
  return { stdin, stdout, stderr, sent: [], out: () => out, err: () => err, raw };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await tick(10);
}
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

function bridge(f: Fake, readyMarker: string, extra: Partial<ConstructorParameters<typeof ConsoleBridge>[0]> = {}): ConsoleBridge {
  return new ConsoleBridge({
    stdin: f.stdin as unknown as NodeJS.ReadStream,
    stdout: f.stdout as unknown as NodeJS.WriteStream,
    stderr: f.stderr as unknown as NodeJS.WriteStream,
    send: (b) => f.sent.push(Buffer.from(b).toString('latin1')),
    readyMarker,
    onQuit: () => undefined,
    ...extra,
  });
}

describe('console bridge, piped stdin', () => {
  it('copies guest output to stdout and holds input until the ready marker, even split across chunks', async () => {
    const f = fake(false);
    const b = bridge(f, 'guest-ready');
    f.stdin.write('uname -m\n');
    f.stdin.end('poweroff -f\n');
    await tick();
    b.output(bytes('booting...\nguest-re'));
    await tick();
    expect(f.sent).toEqual([]);
    b.output(bytes('ady\n'));
    await until(() => f.sent.length > 0);
    expect(f.sent.join('')).toBe('uname -m\npoweroff -f\n');
    expect(f.out()).toBe('booting...\nguest-ready\n');
    expect(b.isReady).toBe(true);
    b.close();
  });

  it('runs onReady (the snapshot) before any input reaches the guest', async () => {
    const f = fake(false);
    const order: string[] = [];
    const b = bridge(f, 'READY', {
      send: (x) => order.push(`send ${Buffer.from(x).toString()}`),
      onReady: async () => {
        order.push('snapshot start');
        await tick(30);
        order.push('snapshot done');
      },
    });
    f.stdin.write('ls\n');
    await tick();
    b.output(bytes('READY'));
    await until(() => order.length >= 3);
    expect(order).toEqual(['snapshot start', 'snapshot done', 'send ls\n']);
    b.close();
  });

  it('sends at once after machineStarted() when there is nothing to wait for (restore)', async () => {
    const f = fake(false);
    const b = bridge(f, '');
    f.stdin.write('echo hi\n');
    await tick();
    expect(f.sent).toEqual([]); // not before the machine runs
    b.machineStarted();
    await tick();
    expect(f.sent.join('')).toBe('echo hi\n');
    b.close();
  });

  it('feeds long input in small chunks, in order', async () => {
    const f = fake(false);
    const b = bridge(f, '');
    b.machineStarted();
    const script = Array.from({ length: 100 }, (_, i) => `echo line-${i}\n`).join('');
    f.stdin.write(script);
    await until(() => f.sent.join('').length >= script.length);
    expect(f.sent.length).toBeGreaterThan(1);
    expect(Math.max(...f.sent.map((s) => s.length))).toBeLessThanOrEqual(256);
    expect(f.sent.join('')).toBe(script);
    b.close();
  });

  it('records when the first guest byte arrived', () => {
    const f = fake(false);
    const b = bridge(f, 'x');
    expect(b.firstOutputAt).toBeUndefined();
    b.output(bytes('a'));
    const first = b.firstOutputAt;
    expect(first).toBeTypeOf('number');
    b.output(bytes('b'));
    expect(b.firstOutputAt).toBe(first);
    b.close();
  });
});

describe('console bridge, terminal stdin', () => {
  it('puts the terminal in raw mode, passes keys at once, and restores it on close', async () => {
    const f = fake(true);
    const b = bridge(f, 'never-printed');
    expect(f.raw).toEqual([true]);
    f.stdin.write('ls\r');
    await tick();
    expect(f.sent).toEqual(['ls\r']); // a person typing is not held back
    b.close();
    expect(f.raw).toEqual([true, false]);
  });

  it('quits on Ctrl-A x and sends a literal Ctrl-A for Ctrl-A Ctrl-A', async () => {
    const f = fake(true);
    let quit = 0;
    const b = bridge(f, '', { onQuit: () => { quit++; } });
    f.stdin.write(Buffer.from([0x61, 0x01, 0x01, 0x62]));
    await tick();
    expect(f.sent).toEqual(['a\x01b']);
    expect(quit).toBe(0);
    f.stdin.write(Buffer.from([0x01]));
    f.stdin.write(Buffer.from([0x78]));
    await tick();
    expect(quit).toBe(1);
    expect(f.err()).toMatch(/terminated \(Ctrl-A x\)/);
    b.close();
  });
});
