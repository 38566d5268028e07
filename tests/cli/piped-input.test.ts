// The rules for piped input, driven by an explicit clock (poll(now)): no timers, no timing races.
import { describe, it, expect } from 'vitest';
import {
  EOF_BUSY_QUIET_MS, EOF_QUIET_MS, IDLE_QUIET_MS, KNOWN_PROMPT_QUIET_MS, STARTUP_PROMPT_QUIET_MS, PIECE_BYTES, PipedInput, PROMPT_QUIET_MS, STARTUP_IDLE_QUIET_MS,
} from '../../src/cli/piped-input.js';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function make(readyMarker?: string): { input: PipedInput; sent: string[]; done: () => number } {
  const sent: string[] = [];
  let done = 0;
  const input = new PipedInput({ send: (b) => sent.push(text(b)), onDone: () => { done++; }, readyMarker });
  return { input, sent, done: () => done };
}

describe('piped input', () => {
  it('sends nothing until the gate opens', () => {
    const { input, sent } = make();
    input.push(bytes('ls\n'));
    input.output(bytes('/ # '), 0);
    input.poll(100_000);
    expect(sent).toEqual([]);
  });

  it('sends one line per prompt: the next only after the echo of the last and a new prompt', () => {
    const { input, sent } = make();
    input.push(bytes('uname -m\necho hi\n'));
    input.openGate(0, true);
    input.output(bytes('tabvisor-guest-ready\r\n/ # '), 10);
    input.poll(10 + PROMPT_QUIET_MS - 1);
    expect(sent).toEqual([]); // the guest may still be printing
    input.poll(10 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['uname -m\n']);
    // The echo is still being typed out: an open line but no newline yet is no prompt.
    input.output(bytes('uname -m'), 300);
    input.poll(300 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['uname -m\n']);
    input.output(bytes('\r\ni686\r\n/ # '), 600);
    input.poll(600 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['uname -m\n', 'echo hi\n']);
  });

  it('trusts a prompt it has seen before after a shorter pause, a new one only after the full pause', () => {
    const { input, sent } = make();
    input.push(bytes('a\nb\ncat <<EOF\nx\n'));
    input.openGate(0, true);
    input.output(bytes('\r\n/ # '), 0);
    input.poll(PROMPT_QUIET_MS);
    expect(sent).toEqual(['a\n']);
    input.output(bytes('a\r\n/ '), 1000);
    input.output(bytes('# '), 1001); // the same prompt, in two pieces
    input.poll(1001 + KNOWN_PROMPT_QUIET_MS);
    expect(sent).toEqual(['a\n', 'b\n']);
    input.output(bytes('b\r\n/ # '), 2000);
    input.poll(2000 + KNOWN_PROMPT_QUIET_MS);
    expect(sent).toEqual(['a\n', 'b\n', 'cat <<EOF\n']);
    input.output(bytes('cat <<EOF\r\n> '), 3000); // a new prompt: the full pause
    input.poll(3000 + KNOWN_PROMPT_QUIET_MS);
    expect(sent).toHaveLength(3);
    input.poll(3000 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['a\n', 'b\n', 'cat <<EOF\n', 'x\n']);
  });

  it('without a prompt, waits for a longer silence (longer still before the ready marker)', () => {
    const { input, sent } = make();
    input.push(bytes('secret\n'));
    input.openGate(0, false);
    input.output(bytes('Run /init as init process\r\n'), 0);
    input.poll(IDLE_QUIET_MS);
    expect(sent).toEqual([]);
    input.poll(STARTUP_IDLE_QUIET_MS);
    expect(sent).toEqual(['secret\n']);

    const after = make();
    after.input.push(bytes('secret\n'));
    after.input.openGate(0, true);
    after.input.output(bytes('Password:\r\n'), 0);
    after.input.poll(IDLE_QUIET_MS);
    expect(after.sent).toEqual(['secret\n']);
  });

  it('shortens the wait once the marker appears after the gate opened early', () => {
    const { input, sent } = make();
    input.push(bytes('x\n'));
    input.openGate(0, false); // the console receives, the marker has not appeared yet
    input.output(bytes('tabvisor-guest-ready\r\n'), 100);
    input.openGate(100, true);
    input.poll(100 + IDLE_QUIET_MS);
    expect(sent).toEqual(['x\n']);
  });

  it('sends a long line in pieces, in order, and the rest of the input intact', () => {
    const { input, sent } = make();
    const long = 'x'.repeat(PIECE_BYTES * 2 + 10) + '\n';
    input.push(bytes(long + 'tail'));
    input.openGate(0, true);
    let now = 0;
    for (let i = 0; i < 3; i++) input.poll((now += IDLE_QUIET_MS));
    expect(sent.map((s) => s.length)).toEqual([PIECE_BYTES, PIECE_BYTES, 11]);
    expect(sent.join('')).toBe(long);
    input.poll((now += IDLE_QUIET_MS));
    expect(sent.join('')).toBe(long + 'tail'); // a last line without newline goes as it is
  });

  it('reports the end only after stdin ended, everything went in, and the guest fell silent', () => {
    const { input, sent, done } = make();
    input.push(bytes('echo a\n'));
    input.end();
    input.poll(100_000);
    expect(done()).toBe(0); // the gate never opened: the guest did not get the input yet
    input.openGate(100_000, true);
    input.output(bytes('/ # '), 100_000);
    input.poll(100_000 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['echo a\n']);
    input.output(bytes('echo a\r\na\r\n/ # '), 100_500);
    input.poll(100_500 + EOF_QUIET_MS - 1);
    expect(done()).toBe(0);
    input.poll(100_500 + EOF_QUIET_MS);
    expect(done()).toBe(1);
    input.poll(200_000);
    expect(done()).toBe(1); // once
  });

  it('after the last line, waits for the prompt to come back: a silent last command is not cut off', () => {
    const { input, sent, done } = make();
    input.push(bytes('sleep 5; echo done\n'));
    input.end();
    input.openGate(0, true);
    input.output(bytes('/ # '), 0);
    input.poll(PROMPT_QUIET_MS);
    expect(sent).toEqual(['sleep 5; echo done\n']);
    // The echo of the line, then nothing while `sleep 5` runs.
    input.output(bytes('sleep 5; echo done\r\n'), 300);
    input.poll(300 + EOF_QUIET_MS);
    input.poll(300 + 4_000);
    expect(done()).toBe(0);
    input.output(bytes('done\r\n/ # '), 5_300);
    input.poll(5_300 + EOF_QUIET_MS - 1);
    expect(done()).toBe(0);
    input.poll(5_300 + EOF_QUIET_MS);
    expect(done()).toBe(1);
  });

  it('a guest away from its prompt ends the run after the long silence; one that never prompted, after the short one', () => {
    const a = make();
    a.input.push(bytes('cat\n'));
    a.input.end();
    a.input.openGate(0, true);
    a.input.output(bytes('/ # '), 0);
    a.input.poll(PROMPT_QUIET_MS);
    a.input.output(bytes('cat\r\n'), 300); // cat waits for input that never comes
    a.input.poll(300 + EOF_BUSY_QUIET_MS - 1);
    expect(a.done()).toBe(0);
    a.input.poll(300 + EOF_BUSY_QUIET_MS);
    expect(a.done()).toBe(1);
    const b = make();
    b.input.end();
    b.input.openGate(0, true);
    b.input.output(bytes('hello from a bare program\r\n'), 0);
    b.input.poll(EOF_QUIET_MS);
    expect(b.done()).toBe(1);
  });

  it('waits longer for the end before the expected marker appeared (the guest may still be starting)', () => {
    const { input, done } = make();
    input.end();
    input.openGate(0, false);
    input.poll(EOF_QUIET_MS);
    expect(done()).toBe(0);
    input.poll(STARTUP_IDLE_QUIET_MS);
    expect(done()).toBe(1);
  });

  it('counts a guest that took a line at its prompt as up, marker or not (the end comes after the short pause)', () => {
    const { input, sent, done } = make();
    input.push(bytes('echo a\n'));
    input.end();
    input.openGate(0, false);
    input.output(bytes('/ # '), 0);
    input.poll(PROMPT_QUIET_MS);
    expect(sent).toEqual([]); // before the guest is up, an unfinished line must hold longer
    input.poll(STARTUP_PROMPT_QUIET_MS);
    expect(sent).toEqual(['echo a\n']);
    input.output(bytes('echo a\r\na\r\n/ # '), 500);
    input.poll(500 + EOF_QUIET_MS);
    expect(done()).toBe(1);
  });

  it('does not take the beginning of the expected marker, cut off by a slow host, for a prompt', () => {
    const { input, sent } = make('tabvisor-guest-ready');
    input.push(bytes('ls\n'));
    input.openGate(0, false); // the console receives (init opened it), the marker is still coming
    input.output(bytes('Run /init as init process\r\ntabvisor-guest-re'), 0);
    input.poll(STARTUP_PROMPT_QUIET_MS * 5);
    expect(sent).toEqual([]);
    input.output(bytes('ady\r\n/ # '), 6000);
    input.openGate(6000, true); // the bridge saw the marker
    input.poll(6000 + PROMPT_QUIET_MS);
    expect(sent).toEqual(['ls\n']);
  });

  it('does not end while stdin is still open', () => {
    const { input, done } = make();
    input.openGate(0, true);
    input.poll(100_000);
    expect(done()).toBe(0);
  });
});
