// The x86 guest's hard disk (v86 IDE primary master, /dev/sda in the guest) over a BlockBackend,
// so the x86 disk is the same overlay disk as on the RV64 board. v86 only takes an ArrayBuffer,
// a File or a URL as a disk, so the engine gives it a one-sector placeholder and swaps in this
// adapter (set_disk_buffer) before the machine runs.
//
// Durability: v86's IDENTIFY says the drive has no write cache, so Linux would never send FLUSH
// CACHE and would count every completed write as durable. We advertise a write cache instead
// (IDENTIFY words 82 and 85, bit 5), so Linux sends FLUSH CACHE (EXT) on sync/fsync, and that
// command completes only after the back end's flush() returned.

import type { BlockBackend } from '../../devices/backends/disk.js';
import { MemoryOverlayDisk } from '../../devices/backends/disk.js';

const ATA_FLUSH_CACHE = 0xe7;
const ATA_FLUSH_CACHE_EXT = 0xea;
/** IDENTIFY word 82 (supported) and 85 (enabled): bit 5 = volatile write cache. */
const WRITE_CACHE_BIT = 0x20;

/** v86's IDE interface, the part we touch. */
interface V86IdeInterface {
  set_disk_buffer(buffer: unknown): void;
  ata_command(cmd: number): void;
  create_identify_packet(): void;
  data: Uint8Array;
  is_atapi: boolean;
}

export interface V86DiskEmulator {
  v86?: { cpu?: { devices?: { ide?: { primary?: { master?: V86IdeInterface } } } } };
}

/** The placeholder v86 is created with: a disk must exist at construction for the IDE drive. */
export function placeholderDisk(): { buffer: ArrayBuffer } {
  return { buffer: new ArrayBuffer(512) };
}

export function diskBackend(disk: Uint8Array | BlockBackend): BlockBackend {
  return disk instanceof Uint8Array ? new MemoryOverlayDisk(disk, { serial: 'tabvisor-sda' }) : disk;
}

/**
 * Puts `disk` behind v86's primary master. `onError` hears a back end that failed (the guest cannot
 * be told through v86's callbacks, so the engine stops the machine).
 */
export function attachV86Disk(emulator: unknown, disk: BlockBackend, onError: (err: unknown) => void): void {
  const drive = (emulator as V86DiskEmulator).v86?.cpu?.devices?.ide?.primary?.master;
  if (!drive || typeof drive.set_disk_buffer !== 'function') throw new Error('v86: no IDE drive to attach the disk to');
  const guarded = <T>(what: () => T, fallback: T): T => {
    try {
      return what();
    } catch (err) {
      onError(err);
      return fallback;
    }
  };
  const buffer = {
    byteLength: disk.byteLength,
    onload: undefined as unknown,
    onprogress: undefined as unknown,
    load(): void {},
    get(start: number, length: number, done: (data: Uint8Array) => void): void {
      done(guarded(() => disk.read(start, length), new Uint8Array(length)));
    },
    get_and_cache(start: number, length: number, done: (data: Uint8Array) => void): void {
      this.get(start, length, done);
    },
    get_from_cache(start: number, length: number): Uint8Array {
      return guarded(() => disk.read(start, length), new Uint8Array(length));
    },
    set(start: number, data: Uint8Array, done: () => void): void {
      guarded(() => disk.write(start, data), undefined);
      done();
    },
    get_buffer(done: (buffer: ArrayBuffer | undefined) => void): void {
      done(undefined);
    },
    // v86 saves a disk's contents in its state only for in-memory disks; ours stays outside.
    get_state(): unknown[] {
      return [];
    },
    set_state(): void {},
  };
  drive.set_disk_buffer(buffer);
  attached.set(drive, () => guarded(() => disk.flush(), undefined));
  hookPrototype(Object.getPrototypeOf(drive) as V86IdeInterface);
}

/** The flush of each drive that has one of our disks. */
const attached = new WeakMap<object, () => void>();
const hooked = new WeakSet<object>();

/**
 * v86's drive objects are not extensible, so the two methods are wrapped on their prototype, once
 * per loaded v86 module; drives without one of our disks behave as before.
 */
function hookPrototype(proto: V86IdeInterface): void {
  if (hooked.has(proto)) return;
  hooked.add(proto);
  const command = proto.ata_command;
  proto.ata_command = function (this: V86IdeInterface, cmd: number) {
    if (cmd === ATA_FLUSH_CACHE || cmd === ATA_FLUSH_CACHE_EXT) attached.get(this)?.();
    return command.call(this, cmd);
  };
  const identify = proto.create_identify_packet;
  proto.create_identify_packet = function (this: V86IdeInterface) {
    identify.call(this);
    if (!this.is_atapi && attached.has(this)) {
      this.data[82 * 2] |= WRITE_CACHE_BIT;
      this.data[85 * 2] |= WRITE_CACHE_BIT;
    }
  };
}
