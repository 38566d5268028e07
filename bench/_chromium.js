// Debian's Chromium for the page benches (lab-reload, rv64-page) and scripts/lab-profile.js:
// one place for its path, its flags and how a fresh profile is launched.
// (run.js lists only files without a leading underscore, so this is not a bench.)
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A headless Chromium with its own profile directory (a first visit when the directory is new). */
export function launchProfile(profile) {
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 }, args: ARGS });
}

/** The browser's version string, from a short launch. */
export async function chromiumVersion() {
  const b = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] });
  const v = b.version();
  await b.close();
  return v;
}
