#!/usr/bin/env node
// Pre-booted template snapshots for the built app: every VM of every built-in lab (labs/*.json)
// is booted once in Node to its ready marker and saved under the key the page looks for
// (templateKey: engine, memory, command line and image file hashes), into
// web-dist/templates/<key>.tvsnap with an index.json. A first visit then restores instead of
// booting. Templates are cached in .cache/templates/ by key, so a rebuild only boots what
// changed. Needs dist/ (npm run build:ts) and the core (npm run build:core).
// Usage: node scripts/build-templates.mjs [--out DIR]

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : join(root, 'web-dist', 'templates');
const cache = join(root, '.cache', 'templates');
const MiB = 1024 * 1024;

const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { Hypervisor } = await dist('hypervisor/hypervisor.js');
const { parseLab } = await dist('hypervisor/lab.js');
const { templateKey } = await dist('hypervisor/template-store.js');
const { nodeWorkerHosts } = await dist('hypervisor/node-hosts.js');

const { quietCmdline } = await dist('ui/shell-greeting.js');
// The page boots every image with quiet kernel arguments first (src/ui/shell-greeting.ts): the
// templates are made the same way, so their keys and their consoles match what the page makes.
const manifest = JSON.parse(readFileSync(join(root, 'images/manifest.json'), 'utf8'));
const images = manifest.images.map((image) => ({ ...image, cmdline: quietCmdline(image.cmdline ?? '') }));
// The page's persistent disk (images/manifest.json "disks": home): a lab with disks gets templates
// made with an empty one too, so a first visit restores instead of booting (a second tab, which
// runs without disks, uses the disk-less ones).
const home = (manifest.disks ?? []).find((d) => d.name === 'home');
const homeBase = home ? { file: home.file, sha256: home.sha256[home.file], bytes: home.bytes } : undefined;
const wanted = new Map(); // key -> { image, memoryMiB, disk }
for (const file of readdirSync(join(root, 'labs')).filter((f) => f.endsWith('.json') && !f.includes('schema'))) {
  const lab = parseLab(JSON.parse(readFileSync(join(root, 'labs', file), 'utf8')), images, { allowMissingImages: true });
  for (const vm of lab.vms) {
    const image = images.find((i) => i.name === vm.image);
    if (!image || vm.net) continue; // a networked VM boots (templates have no network card)
    const memoryMiB = vm.memoryMiB ?? image.memoryMiB;
    wanted.set(await templateKey(image, memoryMiB), { image, memoryMiB, disk: false });
    if (lab.disks !== false && homeBase) wanted.set(await templateKey(image, memoryMiB, homeBase), { image, memoryMiB, disk: true });
  }
}

mkdirSync(out, { recursive: true });
mkdirSync(cache, { recursive: true });
const missing = [...wanted].filter(([key]) => !existsSync(join(cache, `${key}.tvsnap`)));
if (missing.length > 0) {
  // Disks of the templates that have one: empty overlays in a scratch folder, gone afterwards.
  const diskDir = mkdtempSync(join(tmpdir(), 'tabvisor-template-disks-'));
  const hv = new Hypervisor({
    images,
    memoryBudgetBytes: 4096 * MiB,
    poolSize: 1,
    hosts: nodeWorkerHosts({ diskDir }),
    diskFor: (vm) => (vm.name.startsWith('with-disk-') ? { key: vm.name, base: homeBase } : undefined),
  });
  try {
    let n = 0;
    for (const [key, { image, memoryMiB, disk }] of missing) {
      const started = performance.now();
      const vm = await hv.create({ image: image.name, memoryMiB, name: `${disk ? 'with-disk' : 'no-disk'}-${++n}` });
      await hv.start(vm.id);
      await hv.waitUntilReady(vm.id, 180_000);
      // Let the shell print its prompt before the state is taken.
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(join(cache, `${key}.tvsnap`), await hv.snapshot(vm.id));
      await hv.stop(vm.id);
      await hv.delete(vm.id);
      console.log(`build-templates: ${key} booted and saved in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await hv.shutdown();
    rmSync(diskDir, { recursive: true, force: true });
  }
}
for (const key of wanted.keys()) copyFileSync(join(cache, `${key}.tvsnap`), join(out, `${key}.tvsnap`));
writeFileSync(join(out, 'index.json'), `${JSON.stringify({ templates: [...wanted.keys()].sort() }, null, 2)}\n`);
console.log(`build-templates: ${wanted.size} template(s) in ${out}`);
