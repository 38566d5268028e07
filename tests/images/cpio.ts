// Reads the initramfs archives of the images, for the tests that look inside them.

export interface CpioEntry { name: string; mode: number; data: Uint8Array }

/** Reads a "newc" cpio archive (the format the kernel unpacks). */
export function readCpio(buf: Uint8Array): CpioEntry[] {
  const text = new TextDecoder();
  const entries: CpioEntry[] = [];
  let off = 0;
  const hex = (at: number) => parseInt(text.decode(buf.subarray(at, at + 8)), 16);
  for (;;) {
    const magic = text.decode(buf.subarray(off, off + 6));
    if (magic !== '070701' && magic !== '070702') throw new Error(`bad cpio magic at ${off}`);
    const mode = hex(off + 14);
    const fileSize = hex(off + 54);
    const nameSize = hex(off + 94);
    const nameStart = off + 110;
    const name = text.decode(buf.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = (nameStart + nameSize + 3) & ~3;
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name: name.replace(/^\.?\//, ''), mode, data: buf.subarray(dataStart, dataStart + fileSize) });
    off = (dataStart + fileSize + 3) & ~3;
  }
}
