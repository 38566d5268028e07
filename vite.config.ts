// Builds and serves the page (index.html + src/ui + the VM-host worker).
// The page fetches repo-relative assets (images/..., node_modules/v86/build/*.wasm) under its
// root URL: the dev server serves them from the working tree, and the build copies them into
// web-dist/ so that the built folder alone is the whole app.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;

/**
 * Cross-origin isolation gives the page precise timers. Optional: the app uses no SharedArrayBuffer,
 * and the build runs from a static host without these headers (tests/e2e/offline-static.test.ts).
 */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** Engine runtime files the page's workers fetch by repo-relative path. */
const engineFiles = ['node_modules/v86/build/v86.wasm', 'build/rv64.wasm'];

interface ManifestImage {
  sha256?: Record<string, string>;
  [field: string]: unknown;
}

/** images/manifest.json and every file its images name (each file is keyed in `sha256`, and named by a field). */
function imageFiles(): string[] {
  const manifestPath = resolve(root, 'images/manifest.json');
  if (!existsSync(manifestPath)) {
    // The page then says that the manifest is missing; the build itself need not fail.
    console.warn('vite.config: images/manifest.json is missing; the app is built without images');
    return [];
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { images?: ManifestImage[]; disks?: ManifestImage[] };
  const files = new Set<string>(['images/manifest.json']);
  for (const image of manifest.images ?? []) {
    for (const path of Object.keys(image.sha256 ?? {})) files.add(path);
    for (const field of ['firmware', 'vgaBios', 'kernel', 'initrd', 'disk']) {
      const value = image[field];
      if (typeof value === 'string') files.add(value);
    }
  }
  // Disk base images (the lab VMs' persistent disks, src/ui/page-disks.ts).
  for (const disk of manifest.disks ?? []) for (const path of Object.keys(disk.sha256 ?? {})) files.add(path);
  return [...files];
}

/** Copies the images and engine files into the build, at the same paths as in the repo. */
function copyRuntimeAssets(): Plugin {
  return {
    name: 'tabvisor-runtime-assets',
    apply: 'build',
    generateBundle() {
      for (const fileName of [...imageFiles(), ...engineFiles]) {
        if (fileName.startsWith('/') || fileName.includes('..')) throw new Error(`asset outside the repo: ${fileName}`);
        this.emitFile({ type: 'asset', fileName, source: readFileSync(resolve(root, fileName)) });
      }
    },
  };
}

/**
 * In dev, serves images/ raw. Vite would take an extension-less path such as
 * images/x86-busybox/bzImage for a JS module and try to transform it.
 */
function serveImagesRaw(): Plugin {
  return {
    name: 'tabvisor-serve-images',
    apply: 'serve',
    configureServer(server) {
      const imagesDir = resolve(root, 'images') + sep;
      server.middlewares.use((req, res, next) => {
        const pathname = decodeURIComponent((req.url ?? '/').split('?')[0]);
        if (!pathname.startsWith('/images/')) return next();
        const file = resolve(root, `.${pathname}`);
        if (!file.startsWith(imagesDir) || !existsSync(file) || !statSync(file).isFile()) return next();
        res.writeHead(200, {
          ...isolationHeaders,
          'Content-Type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
          'Content-Length': statSync(file).size,
          'Cache-Control': 'no-cache',
        });
        createReadStream(file).pipe(res);
      });
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  // No SPA fallback: a missing file is a 404, not index.html served as images/manifest.json.
  appType: 'mpa',
  // public/ holds only the favicons (served at /favicon.svg, /favicon.ico); the images and engine
  // files the app needs are listed above.
  publicDir: 'public',
  plugins: [serveImagesRaw(), copyRuntimeAssets()],
  server: {
    headers: isolationHeaders,
    // .cache/ holds image build trees (a whole kernel source): neither watch nor scan them.
    watch: { ignored: ['**/.cache/**', '**/web-dist/**', '**/dist/**', '**/build/**'] },
  },
  optimizeDeps: { entries: ['index.html'] },
  preview: { headers: isolationHeaders },
  worker: { format: 'es' },
  build: {
    outDir: 'web-dist',
    emptyOutDir: true,
    target: 'es2022',
    // The v86 emulator alone is ~1 MB of JS; that is expected, not a warning.
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: resolve(root, 'index.html') },
  },
});
