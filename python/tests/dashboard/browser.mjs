// Debian's Chromium, headless, through playwright-core (no browser download), with a fresh profile.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CRA_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** {context, close}: a persistent context on a throwaway --user-data-dir. */
export async function launch({ colorScheme = 'light', viewport = { width: 1366, height: 900 } } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cra-dash-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport, colorScheme, deviceScaleFactor: 1,
    acceptDownloads: true, ignoreDefaultArgs: ['--enable-automation'],
  });
  return { context, close: async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); } };
}
