// Live migration between two `tabvisor run` processes over TCP (loopback in the tests):
// `--migrate-listen PORT` waits for one VM and runs it; `--migrate-to [HOST:]PORT` sends the
// running VM there once its guest is ready (iterative pre-copy, then a short final pause). A
// refusal or a failure is one line on the sender's stderr, and its VM keeps running. A disk
// with an overlay (--disk BASE --disk-overlay FILE) is handed over: the receiver opens the same
// two files (same machine) once the sender is paused with the overlay flushed.

import { createServer, connect, type Socket } from 'node:net';
import type { AssetLoader, Engine } from '../engines/engine.js';
import { createEngine } from '../engines/create.js';
import { migrateIn, migrateOut, type LiveSaveReport } from '../worker/live-ops.js';
import { MigrationRefused, type HandedOverDiskFiles, type MigrationMessage, type MigrationReply } from '../snapshot/migration-stream.js';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { BlockBackend } from '../devices/backends/disk.js';
import { openNodeOverlayDisk, type NodeOverlayDisk } from '../devices/backends/overlay-node-store.js';
import { rv64StateDiskGeneration } from '../engines/rv64/engine.js';
import { socketChannel } from '../snapshot/socket-channel.js';
import { DutyCycleCap } from '../worker/duty-cycle-cap.js';

const MiB = 1024 * 1024;
/** Beyond pages of 4 MiB batches: the device state and disk in hello (a machine's state allowance). */
const MAX_MESSAGE_BYTES = 320 * MiB;

/**
 * The receiver's stand-in for a persistent disk the sender still holds: the machine is built on
 * it (it names the generation the sender's state was saved with), and at commit the real overlay,
 * opened here from the same files, takes its place before the guest runs.
 */
class HandedOverDisk implements BlockBackend {
  readonly readOnly = false;
  readonly serial = 'tabvisor-vda';
  inner: NodeOverlayDisk | undefined;
  constructor(readonly byteLength: number, private readonly savedGeneration: string) {}
  private disk(): NodeOverlayDisk {
    if (!this.inner) throw new Error('the migrated disk is not handed over yet');
    return this.inner;
  }
  read(offset: number, length: number): Uint8Array { return this.disk().read(offset, length); }
  write(offset: number, data: Uint8Array): void { this.disk().write(offset, data); }
  flush(): void { this.disk().flush(); }
  generation(): string { return this.inner ? this.inner.generation() : this.savedGeneration; }
}

/** Checks a sender's disk files exist here and makes the stand-in for them. */
function handedOverDisk(files: HandedOverDiskFiles, state: Uint8Array): HandedOverDisk {
  for (const [what, path] of [['disk', files.base], ['disk overlay', files.overlay]] as const) {
    if (typeof path !== 'string' || !isAbsolute(path)) throw new MigrationRefused(`the sender named a ${what} that is not an absolute path`);
    if (!existsSync(path)) throw new MigrationRefused(`the sender's ${what} ${path} is not on this machine`);
  }
  if (!Number.isInteger(files.pid)) throw new MigrationRefused('the sender named its disk without its process id');
  const generation = rv64StateDiskGeneration(state);
  if (generation === undefined) throw new MigrationRefused('the sender named disk files but its state holds no persistent disk');
  return new HandedOverDisk(statSync(files.base).size, generation);
}

/**
 * Waits on 127.0.0.1:`port` (or `host`) for one migration, refusing machines of more than
 * `maxMemoryMiB`. Resolves with the received engine, built and loaded but not started, at commit;
 * with `overlay` when the sender handed its disk over (the same base and overlay files, opened here).
 */
export async function receiveMigration(
  port: number,
  options: { maxMemoryMiB: number; host?: string; assets: AssetLoader; onListening?: () => void },
): Promise<{ engine: Engine; memoryMiB: number; overlay?: NodeOverlayDisk }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => resolve());
  });
  options.onListening?.();
  try {
    for (;;) {
      const socket = await new Promise<Socket>((resolve) => server.once('connection', resolve));
      let engine: Engine | undefined;
      let memoryMiB = 0;
      let files: HandedOverDiskFiles | undefined;
      let standIn: HandedOverDisk | undefined;
      let finalGeneration: string | undefined;
      let started!: () => void;
      const committed = new Promise<void>((resolve) => { started = resolve; });
      const channel = socketChannel<MigrationReply, MigrationMessage>(socket, MAX_MESSAGE_BYTES);
      try {
        await Promise.all([
          migrateIn(channel, {
            accept: async (hello) => {
              if (hello.engine !== 'rv64') throw new MigrationRefused(`the ${String(hello.engine)} engine cannot receive a live migration (rv64 only)`);
              if (!Number.isInteger(hello.memoryMiB) || hello.memoryMiB <= 0 || hello.memoryMiB > options.maxMemoryMiB) {
                throw new MigrationRefused(`the machine has ${String(hello.memoryMiB)} MiB of RAM, more than the ${options.maxMemoryMiB} MiB this side takes (--mem)`);
              }
              memoryMiB = hello.memoryMiB;
              if (hello.disk !== undefined) {
                files = hello.disk;
                standIn = handedOverDisk(files, hello.state);
              }
              engine = await createEngine({ engine: 'rv64', memoryMiB: hello.memoryMiB, state: hello.state, ...(standIn ? { disk: standIn } : {}) }, options.assets);
              return engine;
            },
            finalState: (state) => {
              if (files) finalGeneration = rv64StateDiskGeneration(state);
            },
            start: async () => {
              if (files && standIn) {
                // The sender is paused with its overlay flushed: open the same files here.
                let overlay: NodeOverlayDisk;
                try {
                  overlay = openNodeOverlayDisk(files.base, files.overlay, { takeOverFrom: files.pid });
                } catch (err) {
                  throw new MigrationRefused(`cannot open the disk here: ${err instanceof Error ? err.message : String(err)}`);
                }
                if (overlay.generation() !== finalGeneration) {
                  overlay.closeAll();
                  throw new MigrationRefused(`the disk overlay ${files.overlay} is not as the sender's final state left it`);
                }
                standIn.inner = overlay;
              }
              started();
            },
            discard: async () => {
              await engine?.destroy().catch(() => undefined);
              engine = undefined;
              try { standIn?.inner?.closeAll(); } catch { /* nothing was written here */ }
            },
          }),
          committed,
        ]);
        return { engine: engine!, memoryMiB, ...(standIn?.inner ? { overlay: standIn.inner } : {}) };
      } catch {
        // A refused or broken attempt: wait for the next sender (the refusal went to that one).
        socket.destroy();
      }
    }
  } finally {
    server.close();
  }
}

/** Sends a running engine to `host:port`. Throws MigrationRefused (one line) and leaves it running on failure. */
export async function sendMigration(
  engine: Engine,
  target: { host: string; port: number },
  memoryMiB: number,
  disk?: HandedOverDiskFiles,
): Promise<LiveSaveReport & { sentBytes: number; totalMs: number }> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(target.port, target.host);
    s.once('connect', () => resolve(s));
    s.once('error', (e) => reject(new MigrationRefused(`cannot reach ${target.host}:${target.port}: ${e.message}`)));
  });
  socket.setNoDelay(true);
  const channel = socketChannel<MigrationMessage, MigrationReply>(socket, 64 * 1024);
  const now = (): number => performance.now();
  // Pre-copy's auto-throttle: the engine runs its own loop here, so a duty cycle pauses it for
  // part of each 50 ms; lifted (the engine resumed if held) before the final pause or on failure.
  const cap = new DutyCycleCap(engine, 100, now, 50);
  let capped = false;
  const uncap = async (release: boolean): Promise<void> => {
    if (!capped) return;
    capped = false;
    await cap.stop(release);
  };
  return migrateOut({
    engine,
    running: () => engine.running,
    pause: async () => {
      await uncap(false);
      await engine.pause();
    },
    resume: () => engine.resume(),
    yieldNow: () => new Promise<void>((resolve) => setImmediate(resolve)),
    now,
    throttle: async (percent) => {
      await uncap(true);
      if (percent < 100 && engine.running) {
        cap.start(percent);
        capped = true;
      }
    },
  }, channel, { memoryMiB, ...(disk ? { disk } : {}) });
}
