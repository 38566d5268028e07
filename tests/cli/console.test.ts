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

/** A guest shell on the fake console: echoes each line it gets (as \r\n) and prints a prompt. */
function shell(f: Fake, b: () => ConsoleBridge): (x: Uint8Array) => void {
  return (x) => {
    const text = Buffer.from(x).toString('latin1');
    f.sent.push(text);
    setTimeout(() => b().output(bytes(`${text.replace(/\n/g, '\r\n')}/ # `)), 1);
  };
}

describe('console bridge, piped stdin', () => {
  it('copies guest output to stdout and holds input until the ready marker, even split across chunks', async () => {
    const f = fake(false);
    const b: ConsoleBridge = bridge(f, 'guest-ready', { send: shell(f, () => b) });
    b.machineStarted();
    f.stdin.write('uname -m\n');
    f.stdin.end('poweroff -f\n');
    await tick();
    b.output(bytes('booting...\nguest-re'));
    await tick(300);
    expect(f.sent).toEqual([]);
    b.output(bytes('ady\n/ # '));
    await until(() => f.sent.length >= 2);
    expect(f.sent).toEqual(['uname -m\n', 'poweroff -f\n']); // a line at a time
    expect(f.out()).toMatch(/^booting\.\.\.\nguest-ready\n\/ # uname -m\r\n\/ # /);
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
      consoleReceiving: () => true, // a receiving console must not let input overtake the snapshot
    });
    b.machineStarted();
    f.stdin.write('ls\n');
    await tick(300);
    expect(order).toEqual([]);
    b.output(bytes('READY\n# '));
    await until(() => order.length >= 3);
    expect(order).toEqual(['snapshot start', 'snapshot done', 'send ls\n']);
    b.close();
  });

  it('sends after machineStarted() when there is nothing to wait for and the engine cannot tell (restore)', async () => {
    const f = fake(false);
    const b = bridge(f, '');
    f.stdin.write('echo hi\n');
    await tick();
    expect(f.sent).toEqual([]); // not before the machine runs
    b.machineStarted();
    b.output(bytes('\r\n/ # ')); // the restored shell prompts
    await until(() => f.sent.length > 0);
    expect(f.sent.join('')).toBe('echo hi\n');
    b.close();
  });

  it('with no marker expected, runs onReady at start but sends only once the console receives', async () => {
    const f = fake(false);
    let receiving = false;
    const order: string[] = [];
    const b = bridge(f, '', {
      send: (x) => order.push(`send ${Buffer.from(x).toString()}`),
      onReady: () => { order.push('snapshot'); },
      consoleReceiving: () => receiving,
    });
    f.stdin.write('echo hi\n');
    b.machineStarted();
    b.output(bytes('\r\n/ # '));
    await tick(300);
    expect(order).toEqual(['snapshot']);
    receiving = true;
    await until(() => order.length > 1);
    expect(order).toEqual(['snapshot', 'send echo hi\n']);
    b.close();
  });

  it('delivers input to a guest that never prints the marker once its console receives', async () => {
    const f = fake(false);
    let receiving = false;
    const b: ConsoleBridge = bridge(f, 'tabvisor-guest-ready', { send: shell(f, () => b), consoleReceiving: () => receiving });
    b.machineStarted();
    f.stdin.write('echo hi\n');
    b.output(bytes('Run /bin/sh as init process\r\n/ # '));
    await tick(400);
    expect(f.sent).toEqual([]); // the serial driver has not opened the port: bytes would be lost
    receiving = true;
    await until(() => f.sent.length > 0);
    expect(f.sent).toEqual(['echo hi\n']);
    b.close();
  });

  it('ends the run after the end of piped input once everything went in and the guest fell silent', async () => {
    const f = fake(false);
    let done = 0;
    const b: ConsoleBridge = bridge(f, 'READY', { send: shell(f, () => b), onInputDone: () => { done++; } });
    b.machineStarted();
    f.stdin.end('echo a\necho b\n');
    await tick(300);
    expect(done).toBe(0); // not while the guest boots
    b.output(bytes('READY\r\n/ # '));
    await until(() => done > 0);
    expect(f.sent).toEqual(['echo a\n', 'echo b\n']);
    expect(done).toBe(1);
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

  it('writes its own messages as one line, without a blank line before', () => {
    const f = fake(false);
    const b = bridge(f, 'x');
    b.output(bytes('/ # '));
    b.message('timeout: the guest was still running after 1 s');
    expect(f.err()).toBe('tabvisor: timeout: the guest was still running after 1 s\n');
    b.close();
  });

  it('says once when the guest kernel ignores part of its memory (no HIGHMEM)', () => {
    const f = fake(false);
    const b = bridge(f, 'x');
    b.output(bytes('[    0.000000] Warning only 8'));
    b.output(bytes('87MB will be used.\r\nUse a HIGHMEM enabled kernel.\r\n'));
    b.output(bytes('Warning only 887MB will be used.\r\n'));
    expect(f.err()).toBe('tabvisor: note: the guest kernel uses only 887 MiB of memory: it was built without HIGHMEM, so more --mem is not used\n');
    b.close();
  });
});

describe('console bridge, terminal stdin', () => {
  it('puts the terminal in raw mode, passes keys at once, and restores it on close', async () => {
    const f = fake(true);
    const b = bridge(f, 'never-printed');
    expect(f.raw).toEqual([true]);
    expect(f.err()).toBe('tabvisor: console on this terminal: Ctrl-A x quits, Ctrl-A h lists the escapes\r\n');
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
    expect(f.err()).toMatch(/\r\ntabvisor: terminated \(Ctrl-A x\)\r\n$/);
    expect(f.err().match(/Ctrl-A x quits/g)).toHaveLength(1); // the hint is said once
    b.close();
  });
});
