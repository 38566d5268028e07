// Reads one ImageEntry (JSON, without sha256) on stdin, hashes every file it names and puts it
// into images/manifest.json, replacing the entry of the same name. Used by the build scripts.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const manifestPath = join(repo, 'images', 'manifest.json');
const entry = JSON.parse(readFileSync(0, 'utf8'));
const sha256 = {};
for (const key of ['firmware', 'vgaBios', 'kernel', 'initrd']) {
  const path = entry[key];
  if (!path) continue;
  const abs = join(repo, path);
  if (!existsSync(abs)) {
    console.error(`update-manifest: ${path} does not exist`);
    process.exit(1);
  }
  sha256[path] = createHash('sha256').update(readFileSync(abs)).digest('hex');
}
entry.sha256 = sha256;
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { images: [] };
const at = manifest.images.findIndex((e) => e.name === entry.name);
if (at >= 0) manifest.images[at] = entry;
else manifest.images.push(entry);
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
console.error(`update-manifest: ${entry.name} written to images/manifest.json`);
