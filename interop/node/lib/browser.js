'use strict';
// Headless Debian Chromium, driven by playwright-core (which never downloads a browser of its
// own), started with the flags this machine's closed network needs and a fresh profile.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Resolves to { context, newPage(), close() }; the profile is a new empty directory.
 * `extraFlags` are added to Chromium's command line (e.g. a certificate to trust).
 */
async function launch(extraFlags = []) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: scripts/interop.sh installs Debian's chromium`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-interop-chromium-'));
  // launchPersistentContext passes --user-data-dir=<profile> itself.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, ...extraFlags],
    viewport: { width: 1000, height: 640 },
    timeout: 30000,
  });
  context.setDefaultTimeout(10000);
  const errors = [];
  async function newPage(label) {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${label} console: ${m.text()}`);
    });
    return page;
  }
  async function close() {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  return { context, newPage, close, errors };
}

module.exports = { launch, FLAGS };
