// Registers the app's service worker (web-dist/sw.js, see src/sw/service-worker.ts) in a built
// app. Called once the lab has started, and it waits a little more (the first commands typed),
// so that the worker's first download (the app and the lab templates, for offline use, ~10 MiB)
// does not compete with the lab's start. The dev server has no sw.js.
//
// A new build reaches the page through the browser's own check of sw.js on navigation. That
// check is lost when it happens offline, and an install that fails half way (a file cut off, the
// worker stopped) is not tried again until the next navigation: the page would stay on the old
// build, or after a failed first install without a service worker at all. So each load also asks
// for sw.js itself, and a failed install is tried again a few times (by registering again).
// A new worker takes over at once (it calls skipWaiting() when installed), but Chromium can leave
// it waiting when the old worker is started again for an event meanwhile; a page that sees a
// waiting worker keeps asking it to skip waiting while it waits.
let registered = false;

/** How long after the lab started the service worker is registered. */
export const REGISTER_DELAY_MS = 3000;
/** Wait before trying a failed install again, and how many times in a row. */
export const INSTALL_RETRY_MS = 5000;
export const INSTALL_RETRIES = 3;

export function registerServiceWorker(appRoot: URL): void {
  if (registered || !import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  registered = true;
  setTimeout(() => install(appRoot), REGISTER_DELAY_MS);
}

/** Failed installs tried again since the last worker took over. */
let retries = 0;

/**
 * Registers sw.js (again) and asks for a new one. Registering again matters after a failed
 * first install: the browser then drops the registration, and update() on it would fail, so the
 * page would stay without a service worker (and offline use) for the whole visit.
 */
function install(appRoot: URL): void {
  // Not secure (plain http on a LAN address) or blocked: the app works, just not offline.
  navigator.serviceWorker
    .register(new URL('sw.js', appRoot), { scope: appRoot.pathname })
    .then((registration) => {
      follow(registration, appRoot);
      activateWaiting(registration);
      return registration.update();
    })
    .catch(() => retryLater(appRoot));
}

function retryLater(appRoot: URL): void {
  if (retries >= INSTALL_RETRIES) return;
  retries++;
  setTimeout(() => install(appRoot), INSTALL_RETRY_MS);
}

/** Registrations whose new workers this page watches. */
const followed = new WeakSet<ServiceWorkerRegistration>();

/** A new worker that goes redundant while installing failed: install again, a few times. */
function follow(registration: ServiceWorkerRegistration, appRoot: URL): void {
  if (followed.has(registration)) return;
  followed.add(registration);
  const watch = (worker: ServiceWorker | null): void => {
    if (!worker) return;
    let installed = false;
    worker.addEventListener('statechange', () => {
      if (worker.state === 'installed' || worker.state === 'activating' || worker.state === 'activated') {
        installed = true;
        if (worker.state === 'installed') activateWaiting(registration);
        if (worker.state === 'activated') retries = 0;
      } else if (worker.state === 'redundant' && !installed) {
        retryLater(appRoot);
      }
    });
  };
  watch(registration.installing);
  registration.addEventListener('updatefound', () => watch(registration.installing));
}

/**
 * Asks a waiting worker to take over now, and again every INSTALL_RETRY_MS for as long as it
 * still waits (Chromium activates it only once the old worker is idle; a busy page can keep the
 * old one busy for a while).
 */
function activateWaiting(registration: ServiceWorkerRegistration): void {
  const waiting = registration.waiting;
  if (!waiting || asking.has(waiting)) return;
  asking.add(waiting);
  const ask = (): void => {
    if (registration.waiting !== waiting) return void asking.delete(waiting);
    waiting.postMessage({ type: 'tabvisor-skip-waiting' });
    setTimeout(ask, INSTALL_RETRY_MS);
  };
  ask();
}

/** Waiting workers this page is already asking to take over. */
const asking = new WeakSet<ServiceWorker>();
