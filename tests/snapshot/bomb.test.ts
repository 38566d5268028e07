// Decompression bombs and oversized declarations (issue 12, defect 3): a snapshot is refused from
// its declared sizes before anything is inflated, and inflating stops at the first byte past the
// declared length, so a small file that inflates to gigabytes costs bounded memory.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { join } from 'node:path';
import {
  readSnapshot, snapshotPayloadLimit, SnapshotFormatError, SnapshotWriter, crc32, SNAPSHOT_MAGIC,
} from '../../src/snapshot/format.js';
import { PROJECT_ROOT } from '../../src/engines/assets-node.js';
import { ensureDistBuilt } from '../cli/build-dist.js';

/** A snapshot file around an arbitrary compressed payload with a declared raw length (valid header and trailer). */
export function craftSnapshot(compressed: Uint8Array, declaredRaw: bigint, engine = 'rv64'): Uint8Array {
  const header = new Uint8Array(40);
  const v = new DataView(header.buffer);
  header.set(SNAPSHOT_MAGIC, 0);
  v.setUint16(8, 1, true);
  header[10] = 1;
  header.set(new TextEncoder().encode(engine), 12);
  v.setBigUint64(20, BigInt(compressed.length), true);
  v.setBigUint64(28, declaredRaw, true);
  v.setUint32(36, crc32(header.subarray(0, 36)), true);
  const body = new Uint8Array(40 + compressed.length);
  body.set(header, 0);
  body.set(compressed, 40);
  const digest = createHash('sha256').update(body).digest();
  const out = new Uint8Array(body.length + 32);
  out.set(body, 0);
  out.set(digest, body.length);
  return out;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotFormatError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('snapshot size limits', () => {
  it('a declared payload above the default maximum is refused before inflating', async () => {
    const file = craftSnapshot(deflateRawSync(new Uint8Array(1000)), 10n * 2n ** 30n);
    expect(await refusal(readSnapshot(file))).toMatch(/too large/);
  });

  it('a declared payload above the caller\'s limit is refused', async () => {
    const writer = new SnapshotWriter({ engine: 'rv64', memoryMiB: 16 }).addSection('engine-state', new Uint8Array(3 << 20));
    const file = await writer.encode();
    expect((await readSnapshot(file, { maxPayloadBytes: 4 << 20 })).section('engine-state').length).toBe(3 << 20);
    expect(await refusal(readSnapshot(file, { maxPayloadBytes: 2 << 20 }))).toMatch(/too large/);
    expect(snapshotPayloadLimit(128)).toBe((128 + 256) * 2 ** 20);
  });

  it('metadata declaring more guest memory than allowed is refused', async () => {
    const file = await new SnapshotWriter({ engine: 'rv64', memoryMiB: 4096 }).addSection('engine-state', new Uint8Array(8)).encode();
    expect(await refusal(readSnapshot(file))).toMatch(/4096 MiB/);
    const ok = await new SnapshotWriter({ engine: 'rv64', memoryMiB: 256 }).addSection('engine-state', new Uint8Array(8)).encode();
    expect(await refusal(readSnapshot(ok, { maxMemoryMiB: 128 }))).toMatch(/256 MiB/);
  });

  it('a payload that inflates past its declared length is refused', async () => {
    const file = craftSnapshot(deflateRawSync(new Uint8Array(8 << 20)), 1000n);
    expect(await refusal(readSnapshot(file))).toMatch(/inflates past/);
  });

  it('a 2 GiB bomb declared as 1 MiB is refused with bounded memory (child process RSS < 1 GiB)', () => {
    ensureDistBuilt();
    const child = `
      const { createDeflateRaw, constants } = await import('node:zlib');
      const { createHash } = await import('node:crypto');
      const f = await import(${JSON.stringify(join(PROJECT_ROOT, 'dist', 'snapshot', 'format.js'))});
      // 2 GiB of zeros at deflate's best ratio (~1000:1): one 16 MiB piece compressed with a sync
      // flush repeats byte for byte once the window is all zeros, so 128 pieces cost 3 compressions.
      const d = createDeflateRaw({ level: 9, memLevel: 9 });
      const parts = [];
      d.on('data', (c) => parts.push(c));
      const zero = Buffer.alloc(16 << 20);
      const piece = async () => {
        d.write(zero);
        await new Promise((r) => d.flush(constants.Z_SYNC_FLUSH, r));
        const b = Buffer.concat(parts);
        parts.length = 0;
        return b;
      };
      const first = await piece();
      const again = await piece();
      if (!again.equals(await piece())) throw new Error('pieces differ');
      d.close();
      // ... then a final empty fixed-Huffman block.
      const compressed = Buffer.concat([first, ...Array(127).fill(again), Buffer.from([3, 0])]);
      const header = new Uint8Array(40);
      const v = new DataView(header.buffer);
      header.set(f.SNAPSHOT_MAGIC, 0); v.setUint16(8, 1, true); header[10] = 1;
      header.set(new TextEncoder().encode('rv64'), 12);
      v.setBigUint64(20, BigInt(compressed.length), true); v.setBigUint64(28, 1n << 20n, true);
      v.setUint32(36, f.crc32(header.subarray(0, 36)), true);
      const body = Buffer.concat([header, compressed]);
      const file = new Uint8Array(Buffer.concat([body, createHash('sha256').update(body).digest()]));
      let message = 'accepted';
      try { await f.readSnapshot(file); } catch (e) { message = e.message; }
      console.log(JSON.stringify({ message, fileBytes: file.length, maxRssKiB: process.resourceUsage().maxRSS }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { message: string; fileBytes: number; maxRssKiB: number };
    expect(out.message).toMatch(/inflates past/);
    expect(out.fileBytes).toBeLessThan(4 << 20);
    expect(out.maxRssKiB).toBeLessThan(1 << 20); // KiB: under 1 GiB
  }, 300_000);
});
