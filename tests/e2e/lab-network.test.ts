// labs/network.json in the page: Debian's Chromium (headless, playwright-core) opens the lab, whose
// riscv64 VM (our core, virtio-net) and x86 VM (v86, NE2000) run in two Web Workers and share the
// hypervisor's switch in the page. Both get their addresses (fixed, and from the switch's DHCP),
// ping each other, and send 10 MiB over TCP from riscv64 to x86 and 2 MiB back, with the sha256
// equal at both ends (10 MiB each way runs in Node: tests/hypervisor/network-mixed.integration.test.ts).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, chromiumMissing } from './support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './support/app-server.js';

const skipReason = chromiumMissing;

/**
 * Runs `script` in a lab VM's shell through the page's hypervisor and returns what it printed.
 * The output comes back between markers the typed line cannot contain (the quotes split them).
 */
async function inGuest(page: Page, vm: string, script: string, timeoutMs = 60_000): Promise<string> {
  return page.evaluate(
    async ({ vm, script, timeoutMs }) => {
      const lab = document.querySelector('tv-app')!.lab!;
      const hv = lab.hypervisor!;
      const id = lab.view.vms.find((v) => v.name === vm)!.id!;
      const tag = Math.random().toString(36).slice(2, 10);
      const from = hv.consoleOffset(id);
      await hv.sendConsole(id, `\x05\x15R=$( { ${script}; } 2>&1 ); echo "@@o""ut-${tag}[$R]"; echo "@@e""nd-${tag}"\n`);
      await hv.waitForConsole(id, `@@end-${tag}`, { from, timeoutMs });
      const text = hv.consoleText(id, from).replace(/\r/g, '');
      const start = text.lastIndexOf(`@@out-${tag}[`) + `@@out-${tag}[`.length;
      return text.slice(start, text.lastIndexOf(`]\n@@end-${tag}`)).trim();
    },
    { vm, script, timeoutMs },
  );
}

/** The first command after a boot may be swallowed while the shell starts: try a few times. */
async function shellAnswers(page: Page, vm: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const out = await inGuest(page, vm, 'echo up-$((6*7))', 20_000).catch(() => '');
    if (out === 'up-42') return;
    if (attempt >= 6) throw new Error(`${vm}: no shell answers (${JSON.stringify(out)})`);
  }
}

async function address(page: Page, vm: string): Promise<string> {
  const end = Date.now() + 90_000;
  for (;;) {
    const out = await inGuest(page, vm, 'ip -4 addr show eth0 | grep -o "inet [0-9.]*" | cut -d" " -f2');
    if (/^\d+\.\d+\.\d+\.\d+$/.test(out)) return out;
    if (Date.now() > end) throw new Error(`${vm} has no address on eth0: ${JSON.stringify(out)}`);
    await page.waitForTimeout(1000);
  }
}

async function pings(page: Page, vm: string, ip: string): Promise<number> {
  const out = await inGuest(page, vm, `ping -c 3 -W 5 ${ip} | grep -o "[0-9]* packets received"`);
  return Number(/^(\d+) packets received/.exec(out)?.[1] ?? 0);
}

/**
 * `mib` MiB of random bytes from `from` to port 5000 of `to` with nc; both sha256 sums. The receiver
 * is `nc -l -e` with `cat` behind it (a receiving nc whose own input ends would half-close, and
 * the x86 image's small nc stops sending when it sees that).
 */
async function transfer(page: Page, from: string, to: string, toIp: string, mib: number): Promise<{ sent: string; received: string }> {
  await inGuest(page, to, [
    'rm -f /tmp/recv /tmp/recv.done',
    "printf '#!/bin/sh\\ncat > /tmp/recv\\necho done > /tmp/recv.done\\n' > /tmp/rx.sh; chmod +x /tmp/rx.sh",
    '(nc -l -p 5000 -e /tmp/rx.sh </dev/null >/dev/null 2>&1 &)',
  ].join('; '));
  const sent = await inGuest(page, from, `dd if=/dev/urandom of=/tmp/data bs=65536 count=${mib * 16} 2>/dev/null; sha256sum /tmp/data | cut -d" " -f1`);
  const t0 = Date.now();
  await inGuest(page, from, `nc ${toIp} 5000 < /tmp/data; rm -f /tmp/data`, 500_000);
  const end = Date.now() + 500_000;
  while ((await inGuest(page, to, 'cat /tmp/recv.done 2>/dev/null')) !== 'done') {
    if (Date.now() > end) throw new Error(`${to} did not finish receiving: ${await inGuest(page, to, 'ls -l /tmp/recv')}`);
    await page.waitForTimeout(500);
  }
  const s = (Date.now() - t0) / 1000;
  console.log(`${mib} MiB ${from} -> ${to} in the page: ${s.toFixed(1)} s, ${((mib * 1024) / s).toFixed(0)} KiB/s (with one console round trip)`);
  const received = await inGuest(page, to, 'sha256sum /tmp/recv | cut -d" " -f1; rm -f /tmp/recv');
  return { sent, received };
}

describe.skipIf(skipReason !== null)(`a riscv64 VM and an x86 VM on one lab network, in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let server: ChildProcess | undefined;
  let url = '';
  let context: BrowserContext;
  let page: Page;
  let userDataDir = '';
  let rvIp = '';
  let x86Ip = '';

  beforeAll(async () => {
    ({ url, server } = await startServer());
    userDataDir = mkdtempSync(join(tmpdir(), 'tabvisor-chromium-'));
    context = await launchChromium(userDataDir, { viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    await page.goto(`${url}?lab=network`);
    await page.waitForFunction(() => ['ready', 'failed'].includes(document.querySelector('tv-app')?.lab?.view.phase ?? ''), undefined, { timeout: 180_000 });
    const vms = await page.evaluate(() => document.querySelector('tv-app')!.lab!.view.vms.map((vm) => ({ name: vm.name, running: Boolean(vm.id) })));
    expect(vms).toEqual([{ name: 'riscv', running: true }, { name: 'x86', running: true }]);
    await Promise.all([shellAnswers(page, 'riscv'), shellAnswers(page, 'x86')]);
  }, 400_000);

  afterAll(async () => {
    await context?.close();
    server?.kill('SIGTERM');
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  }, 120_000);

  it('both get their addresses: the fixed one, and one from the switch\'s DHCP server', { timeout: 200_000 }, async () => {
    rvIp = await address(page, 'riscv');
    x86Ip = await address(page, 'x86');
    expect(rvIp).toBe('10.0.3.10');
    expect(x86Ip).toMatch(/^10\.0\.3\.\d+$/);
    expect(x86Ip).not.toBe(rvIp);
  });

  it('ping goes both ways between the two workers', { timeout: 120_000 }, async () => {
    expect(await pings(page, 'riscv', x86Ip)).toBe(3);
    expect(await pings(page, 'x86', rvIp)).toBe(3);
  });

  it('10 MiB over TCP from riscv64 to x86, intact', { timeout: 700_000 }, async () => {
    const r = await transfer(page, 'riscv', 'x86', x86Ip, 10);
    expect(r.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(r.received).toBe(r.sent);
  });

  it('2 MiB over TCP from x86 back to riscv64, intact', { timeout: 500_000 }, async () => {
    const r = await transfer(page, 'x86', 'riscv', rvIp, 2);
    expect(r.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(r.received).toBe(r.sent);
  });
});
