// Loads the TypeScript fuzz targets (and through them src/) in plain Node, with the same
// transform vitest uses (vite's module runner), so the long runs test the sources, not a build.
import { createServer, createServerModuleRunner } from 'vite';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Returns import(path relative to the project root) and a close() for the transform server. */
export async function tsLoader() {
  const server = await createServer({
    root: ROOT,
    configFile: false,
    logLevel: 'error',
    appType: 'custom',
    server: { middlewareMode: true, hmr: false, ws: false, watch: null },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
  return {
    import: (path) => runner.import('/' + path),
    close: async () => {
      await runner.close();
      await server.close();
    },
  };
}
