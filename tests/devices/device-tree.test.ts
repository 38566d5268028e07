import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeviceTree, virtioSlot, type DeviceTreeConfig } from '../../src/devices/device-tree.js';
import { FdtWriter } from '../../src/devices/fdt.js';
import { propCells, propString, readFdt } from './helpers/fdt-reader.js';

const hasDtc = spawnSync('dtc', ['--version']).status === 0;
const hasQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;
const FW_JUMP = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin';
const hasOpenSbi = hasQemu && spawnSync('test', ['-f', FW_JUMP]).status === 0;

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'tabvisor-dt-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Decompiles with dtc; returns the source and dtc's warnings. */
function decompile(dtb: Uint8Array): { dts: string; stderr: string } {
  return withTmp((dir) => {
    const f = join(dir, 't.dtb');
    writeFileSync(f, dtb);
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', f], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`dtc failed: ${r.stderr}`);
    return { dts: r.stdout, stderr: r.stderr };
  });
}

const config: DeviceTreeConfig = {
  memoryBytes: 256 << 20,
  mmuType: 'sv39',
  bootargs: 'console=ttyS0 root=/dev/vda rw',
  initrd: { start: 0x8400_0000, end: 0x8412_3456 },
  virtioSlots: [0, 2],
};

describe('FdtWriter', () => {
  it('writes a valid header and deduplicates property names', () => {
    const w = new FdtWriter();
    w.reserve(0x8000_0000n, 0x20_0000n);
    w.beginNode('');
    w.prop('a', 1);
    w.beginNode('n@1');
    w.prop('a', 'x');
    w.endNode();
    w.endNode();
    const dtb = w.finish();
    const v = new DataView(dtb.buffer);
    expect(v.getUint32(0)).toBe(0xd00dfeed);
    expect(v.getUint32(4)).toBe(dtb.length);
    expect(v.getUint32(20)).toBe(17);
    expect(v.getUint32(32)).toBe(2); // "a\0" once
    expect(v.getBigUint64(40)).toBe(0x8000_0000n);
    expect(() => w.prop('x', 1)).toThrow();
    const bad = new FdtWriter();
    bad.beginNode('');
    expect(() => bad.finish()).toThrow(/unbalanced/);
    expect(() => bad.prop('c', 2 ** 32)).toThrow(RangeError);
    expect(() => bad.beginNode('bad name')).toThrow();
  });
});

describe('buildDeviceTree', () => {
  const dtb = buildDeviceTree(config);
  const tree = readFdt(dtb);

  it.runIf(hasDtc)('decompiles with dtc and has the expected nodes', () => {
    const { dts } = decompile(dtb);
    for (const node of [
      'chosen {',
      'memory@80000000 {',
      'cpus {',
      'cpu@0 {',
      'interrupt-controller {',
      'soc {',
      'serial@10000000 {',
      'test@100000 {',
      'plic@c000000 {',
      'clint@2000000 {',
      'virtio_mmio@10001000 {',
      'virtio_mmio@10003000 {',
      'poweroff {',
      'reboot {',
    ]) {
      expect(dts).toContain(node);
    }
    expect(dts).not.toContain('virtio_mmio@10002000');
    expect(dts).toContain('riscv,isa = "rv64imafdc_zicsr_zifencei"');
    expect(dts).toContain('mmu-type = "riscv,sv39"');
    expect(dts).toContain('bootargs = "console=ttyS0 root=/dev/vda rw"');
    expect(dts).toContain('linux,initrd-end = <0x00 0x84123456>');
    // And it compiles back to an identical blob.
    withTmp((dir) => {
      writeFileSync(join(dir, 'a.dts'), dts);
      execFileSync('dtc', ['-I', 'dts', '-O', 'dtb', '-o', join(dir, 'b.dtb'), join(dir, 'a.dts')], { stdio: 'pipe' });
      expect(readFdt(new Uint8Array(readFileSync(join(dir, 'b.dtb'))))).toEqual(tree);
    });
  });

  it('describes memory, the hart, and the interrupt wiring', () => {
    expect(propCells(tree, '/memory@80000000', 'reg')).toEqual([0, 0x8000_0000, 0, 256 << 20]);
    expect(propCells(tree, '/cpus', 'timebase-frequency')).toEqual([10_000_000]);
    const intc = propCells(tree, '/cpus/cpu@0/interrupt-controller', 'phandle')![0];
    const plic = propCells(tree, '/soc/plic@c000000', 'phandle')![0];
    expect(propCells(tree, '/soc/plic@c000000', 'interrupts-extended')).toEqual([intc, 11, intc, 9]);
    expect(propCells(tree, '/soc/plic@c000000', 'riscv,ndev')).toEqual([95]);
    expect(propCells(tree, '/soc/clint@2000000', 'interrupts-extended')).toEqual([intc, 3, intc, 7]);
    expect(propCells(tree, '/soc/serial@10000000', 'interrupts')).toEqual([10]);
    expect(propCells(tree, '/soc/serial@10000000', 'interrupt-parent')).toEqual([plic]);
    expect(propCells(tree, '/soc/virtio_mmio@10003000', 'interrupts')).toEqual([virtioSlot(2).irq]);
    expect(propCells(tree, '/soc/virtio_mmio@10003000', 'reg')).toEqual([0, 0x1000_3000, 0, 0x1000]);
    const test = propCells(tree, '/soc/test@100000', 'phandle')![0];
    expect(propCells(tree, '/poweroff', 'regmap')).toEqual([test]);
    expect(propCells(tree, '/reboot', 'value')).toEqual([0x7777]);
    expect(propString(tree, '/chosen', 'stdout-path')).toBe('/soc/serial@10000000');
  });

  it('leaves out what is not configured', () => {
    const t = readFdt(buildDeviceTree({ memoryBytes: 64 << 20 }));
    expect([...t.keys()].some((k) => k.includes('virtio_mmio'))).toBe(false);
    expect(t.get('/chosen')!.has('linux,initrd-start')).toBe(false);
    expect(t.get('/chosen')!.has('bootargs')).toBe(false);
    expect(propString(t, '/cpus/cpu@0', 'mmu-type')).toBe('riscv,sv48');
    expect(() => buildDeviceTree({ memoryBytes: 1000 })).toThrow(RangeError);
    expect(() => buildDeviceTree({ memoryBytes: 4096, virtioSlots: [8] })).toThrow(RangeError);
  });

  it.runIf(hasQemu)("matches QEMU virt's tree for every node and property we share", () => {
    const qemu = withTmp((dir) => {
      const f = join(dir, 'virt.dtb');
      spawnSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${f}`, '-m', '256M', '-nographic'], { stdio: 'pipe', timeout: 30_000 });
      return readFdt(new Uint8Array(readFileSync(f)));
    });
    // Deliberate differences (docs/DEVICES.md): model, ISA string, PLIC ndev on older QEMU, only present virtio slots.
    const differs = new Set(['/:model', '/cpus/cpu@0:riscv,isa', '/cpus/cpu@0:mmu-type', '/soc/plic@c000000:riscv,ndev']);
    for (const [path, props] of tree) {
      if (path === '/chosen') continue; // initrd and seed are ours, QEMU has no initrd here
      expect(qemu.has(path), `QEMU has ${path}`).toBe(true);
      for (const [name, value] of props) {
        if (differs.has(`${path}:${name}`)) continue;
        expect(qemu.get(path)!.get(name), `${path} ${name}`).toEqual(value);
      }
    }
    expect(propString(qemu, '/chosen', 'stdout-path')).toBe(propString(tree, '/chosen', 'stdout-path'));
  });

  it.runIf(hasOpenSbi)('boots OpenSBI on QEMU with our tree in place of its own, and powers off through the syscon we describe', () => {
    // The "kernel" is two instructions: li a7, 8 (legacy SBI shutdown); ecall. OpenSBI finds its
    // console, timer and reset device only through the tree we pass with -dtb.
    const kernel = Uint8Array.of(0x93, 0x08, 0x80, 0x00, 0x73, 0x00, 0x00, 0x00);
    const r = withTmp((dir) => {
      writeFileSync(join(dir, 'ours.dtb'), buildDeviceTree({ memoryBytes: 128 << 20, virtioSlots: [0] }));
      writeFileSync(join(dir, 'k.bin'), kernel);
      return spawnSync(
        'qemu-system-riscv64',
        ['-M', 'virt', '-m', '128M', '-nographic', '-bios', FW_JUMP, '-dtb', join(dir, 'ours.dtb'), '-kernel', join(dir, 'k.bin')],
        { encoding: 'utf8', timeout: 30_000 },
      );
    });
    expect(r.status).toBe(0); // QEMU exits only when the sifive,test finisher is written
    expect(r.stdout).toContain('Platform Name             : riscv-virtio,tabvisor');
    expect(r.stdout).toMatch(/Platform Console Device\s+: uart8250/);
    expect(r.stdout).toMatch(/Platform Timer Device\s+: aclint-mtimer @ 10000000Hz/);
    expect(r.stdout).toMatch(/Platform Shutdown Device\s+: sifive_test/);
  });
});
