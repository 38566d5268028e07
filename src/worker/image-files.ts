// Turns a manifest image into a BootConfig: loads each file it names through the AssetLoader and
// checks it against the manifest's sha256, so a truncated download or a Git LFS pointer fails
// with a message that names the file instead of as a guest that never boots.
import type { AssetLoader, BootConfig, ImageEntry } from '../engines/engine.js';

type FileRole = 'firmware' | 'vgaBios' | 'kernel' | 'initrd';

const ROLE_LABEL: Record<FileRole, string> = {
  firmware: 'firmware',
  vgaBios: 'VGA BIOS',
  kernel: 'kernel',
  initrd: 'initrd',
};

export async function bootConfigFromImage(
  image: ImageEntry,
  assets: AssetLoader,
  onProgress: (message: string) => void = () => {},
): Promise<BootConfig> {
  const config: BootConfig = { engine: image.engine, memoryMiB: image.memoryMiB, cmdline: image.cmdline };
  if (image.acpi) config.acpi = true;
  const roles: FileRole[] = ['firmware', 'vgaBios', 'kernel', 'initrd'];
  for (const role of roles) {
    const path = image[role];
    if (!path) continue;
    onProgress(`Loading ${ROLE_LABEL[role]} (${path})`);
    const bytes = await assets.load(path);
    const expected = image.sha256?.[path];
    if (expected) {
      const actual = await sha256Hex(bytes);
      if (actual !== expected.toLowerCase()) {
        throw new Error(
          `${path} does not match images/manifest.json (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…; ${bytes.length} bytes)`,
        );
      }
    }
    config[role] = bytes;
  }
  if (!config.kernel) throw new Error(`image ${image.name} names no kernel`);
  return config;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
