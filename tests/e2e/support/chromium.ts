// Debian's Chromium for the browser tests (playwright-core drives it; it is never downloaded):
// where it is, why a test is skipped without it, and the flags every test starts it with.
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

type LaunchOptions = Parameters<typeof chromium.launchPersistentContext>[1];

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests are skipped, or null when Chromium is here. */
export const chromiumMissing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (run scripts/setup-system.sh test as root)`;

/** Headless, no sandbox (root in CI), and none of the browser's own background traffic. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Chromium on the profile folder `userDataDir`, with the flags above; `options` adds to or overrides the usual ones. */
export function launchChromium(userDataDir: string, options: LaunchOptions = {}): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...options });
}
