// The app's service worker (scripts/build-sw.mjs writes it to web-dist/sw.js with the build's
// file list in front): after the first visit the page, its workers, the engines and the lab
// templates come from Cache Storage, so a lab opens offline and without waiting for the network.
//
// - One cache per build (`tabvisor-<build id>`, the id a hash of every file of the build). A new
//   build is a new sw.js: it installs beside the old one, fills its own cache, takes over at once
//   and deletes the caches of other builds.
// - `precache`: fetched at install (the app, the engines' wasm, the lab templates). `onUse`: the
//   image files (kernels, initrds), needed only to boot or reset a VM, kept once fetched.
// - Only files of the build are answered from the cache; anything else goes to the network as
//   if there were no service worker. A navigation to the app's root (any query, ?lab=...) is
//   answered with index.html.
export {};

interface BuildList {
  build: string;
  precache: string[];
  onUse: string[];
}

const sw = self as unknown as ServiceWorkerGlobalScope & { TABVISOR_BUILD: BuildList };
const list = sw.TABVISOR_BUILD;
const CACHE_PREFIX = 'tabvisor-';
const cacheName = `${CACHE_PREFIX}${list.build}`;
const scope = new URL(sw.registration.scope);
const files = new Set([...list.precache, ...list.onUse]);

/** The build file a request is for (relative to the scope), or undefined if it is not one. */
function buildFile(request: Request): string | undefined {
  if (request.method !== 'GET') return undefined;
  const url = new URL(request.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return undefined;
  const path = decodeURIComponent(url.pathname.slice(scope.pathname.length));
  if (request.mode === 'navigate' && (path === '' || path === 'index.html')) return 'index.html';
  if (url.search !== '') return undefined;
  return files.has(path) ? path : undefined;
}

const fileUrl = (path: string): string => new URL(path, scope).href;

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(cacheName);
      // 'no-cache': revalidate with the server, so an old copy in the HTTP cache cannot end up
      // in this build's cache.
      await cache.addAll(list.precache.map((path) => new Request(fileUrl(path), { cache: 'no-cache' })));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(CACHE_PREFIX) && name !== cacheName) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (event) => {
  const path = buildFile(event.request);
  if (path === undefined) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(cacheName);
      const cached = await cache.match(fileUrl(path));
      if (cached) return cached;
      const response = await fetch(path === 'index.html' ? fileUrl(path) : event.request);
      // Keep whole answers only (a range request's 206 is not the file).
      if (response.status === 200) event.waitUntil(cache.put(fileUrl(path), response.clone()).catch(() => undefined));
      return response;
    })(),
  );
});

/** The page may ask which build this worker serves (tests, and "is the app ready offline"), or tell a waiting worker to take over. */
sw.addEventListener('message', (event) => {
  const type = (event.data as { type?: string } | null)?.type;
  if (type === 'tabvisor-build') event.ports[0]?.postMessage({ build: list.build });
  // A page saw this worker still waiting after its install (see src/sw/register.ts).
  else if (type === 'tabvisor-skip-waiting') event.waitUntil(sw.skipWaiting());
});
