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
// A disk base ({"kind": "disk", "file": ...}) goes into the manifest's "disks" list.
const isDisk = entry.kind === 'disk';
delete entry.kind;
for (const key of isDisk ? ['file'] : ['firmware', 'vgaBios', 'kernel', 'initrd']) {
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
if (isDisk) entry.bytes = readFileSync(join(repo, entry.file)).length;
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : { images: [] };
const list = isDisk ? (manifest.disks ??= []) : manifest.images;
const at = list.findIndex((e) => e.name === entry.name);
if (at >= 0) list[at] = entry;
else list.push(entry);
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
console.error(`update-manifest: ${entry.name} written to images/manifest.json`);
