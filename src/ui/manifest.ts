// Reads images/manifest.json from the app's server and picks the image the page boots.
import type { ImageEntry } from '../engines/engine.js';

export interface ImageManifest {
  images: ImageEntry[];
}

/** The image the page boots when the URL does not name one (?image=NAME). */
export const DEFAULT_IMAGE = 'x86-busybox';

export async function fetchManifest(appRoot: URL | string): Promise<ImageManifest> {
  const url = new URL('images/manifest.json', appRoot);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load images/manifest.json: HTTP ${response.status}`);
  let manifest: Partial<ImageManifest>;
  try {
    manifest = (await response.json()) as Partial<ImageManifest>;
  } catch {
    throw new Error('images/manifest.json is not valid JSON');
  }
  if (!Array.isArray(manifest.images)) throw new Error('images/manifest.json has no "images" list');
  return { images: manifest.images };
}

export function pickImage(manifest: ImageManifest, requested: string | null): ImageEntry {
  const name = requested || DEFAULT_IMAGE;
  const image = manifest.images.find((i) => i.name === name);
  if (image) return image;
  const known = manifest.images.map((i) => i.name).join(', ') || 'none';
  throw new Error(`no image named "${name}" in images/manifest.json (known: ${known})`);
}
