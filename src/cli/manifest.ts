// images/manifest.json: reading it, finding an image, loading an image's files (checked by sha256).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ImageEntry } from '../engines/engine.js';
import { NodeAssetLoader } from '../engines/assets-node.js';
import { UsageError } from './errors.js';

export const MANIFEST_PATH = 'images/manifest.json';

export async function loadManifest(assets: NodeAssetLoader): Promise<ImageEntry[]> {
  let text: string;
  try {
    text = await readFile(assets.resolve(MANIFEST_PATH), 'utf8');
  } catch {
    throw new UsageError(`no ${MANIFEST_PATH} (build the images with the scripts in images/build/)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${MANIFEST_PATH} is not valid JSON`);
  }
  const images = (parsed as { images?: unknown }).images;
  if (!Array.isArray(images)) throw new UsageError(`${MANIFEST_PATH} has no "images" list`);
  for (const image of images as Partial<ImageEntry>[]) {
    if (typeof image?.name !== 'string' || (image.engine !== 'v86' && image.engine !== 'rv64') ||
        typeof image.kernel !== 'string' || typeof image.memoryMiB !== 'number') {
      throw new UsageError(`${MANIFEST_PATH} has an incomplete entry${typeof image?.name === 'string' ? ` '${image.name}'` : ''}`);
    }
  }
  return images as ImageEntry[];
}

export async function findImage(assets: NodeAssetLoader, name: string): Promise<ImageEntry> {
  const images = await loadManifest(assets);
  const image = images.find((i) => i.name === name);
  if (!image) {
    const have = images.map((i) => i.name).join(', ') || 'none';
    throw new UsageError(`no image named '${name}' in ${MANIFEST_PATH} (have: ${have})`);
  }
  return image;
}

/** Loads one file an image names and checks it against the manifest's sha256. */
export async function loadImageFile(assets: NodeAssetLoader, image: ImageEntry, path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await assets.load(path);
  } catch (err) {
    throw new UsageError(`image '${image.name}': ${err instanceof Error ? err.message : String(err)}`);
  }
  const expected = image.sha256?.[path];
  if (expected) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expected) {
      throw new UsageError(`image '${image.name}': ${path} does not match its sha256 in ${MANIFEST_PATH} (rebuild the image)`);
    }
  }
  return bytes;
}

export function formatImageTable(images: ImageEntry[]): string {
  if (images.length === 0) return `no images in ${MANIFEST_PATH}\n`;
  const rows = [['NAME', 'ENGINE', 'ARCH', 'MEMORY', 'DESCRIPTION'],
    ...images.map((i) => [i.name, i.engine, i.arch, `${i.memoryMiB}M`, i.description ?? ''])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n') + '\n';
}
