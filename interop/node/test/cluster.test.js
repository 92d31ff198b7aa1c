'use strict';
// Two ws-server processes, started as the README shows (Tina4 backplane plus the mega cluster
// with its roster, on Redis and then on NATS), one Chromium page on each: they share the chat
// and the roster.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startServer, clusterEnv, unique, OUT } = require('../lib/server');
const { launch } = require('../lib/browser');

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

async function rosterNames(page) {
  return (await page.locator('#roster li').allInnerTexts()).map((t) => t.trim()).sort();
}

async function waitForRoster(page, names, ms = 10000) {
  const want = [...names].sort();
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await rosterNames(page);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.fail(`roster ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function join(page, base, room, name) {
  await page.goto(`${base}/chat#${room}`);
  assert.equal(await page.inputValue('#room'), room, 'the room comes from the URL fragment');
  await page.fill('#name', name);
  await page.click('#join');
  await page.locator('#status.ok').waitFor();
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#send');
}

for (const backend of ['redis', 'nats']) {
  test(`two instances on ${backend} share the chat and the roster`, { timeout: 90000 }, async () => {
    const env = clusterEnv(backend, unique('interop-'));
    const one = await startServer(`cluster-${backend}-1`, env);
    const two = await startServer(`cluster-${backend}-2`, env);
    try {
      const room = unique('team-');
      const a = await browser.newPage(`${backend}-A`);
      const b = await browser.newPage(`${backend}-B`);
      // A name that needs percent-encoding in the query, to check the round trip.
      await join(a, one.http, room, 'Ana María');
      await join(b, two.http, room, 'Bo');
      // Each page asks its own instance; the mega roster makes it cluster-wide.
      await waitForRoster(a, ['Ana María', 'Bo']);
      await waitForRoster(b, ['Ana María', 'Bo']);

      await say(a, `hello from instance 1 over ${backend}`);
      await b.locator('#log li', { hasText: `hello from instance 1 over ${backend}` }).waitFor();
      await say(b, 'and back from instance 2');
      await a.locator('#log li', { hasText: 'and back from instance 2' }).waitFor();
      // A private message crosses over the mega cluster's direct subject.
      await say(b, '@Ana María only you');
      await a.locator('#log li.private', { hasText: 'only you' }).waitFor();
      assert.equal(await b.locator('#log li', { hasText: 'only you' }).count(), 1, 'the sender shows it once');

      // Screenshots of both pages, in the test's output folder.
      await a.screenshot({ path: path.join(OUT, `chat-cluster-${backend}-instance1.png`), fullPage: true });
      await b.screenshot({ path: path.join(OUT, `chat-cluster-${backend}-instance2.png`), fullPage: true });

      // B leaves: A's roster, on the other instance, loses B.
      await b.click('#leave');
      await b.locator('#status', { hasText: 'closed cleanly (1000' }).waitFor();
      await waitForRoster(a, ['Ana María']);
      await a.locator('#log li', { hasText: 'Bo left' }).waitFor();
      assert.deepEqual(browser.errors, []);
      await a.close();
      await b.close();
    } finally {
      const codes = [await one.stop(), await two.stop()];
      assert.deepEqual(codes, [0, 0], 'both instances shut down gracefully');
    }
  });
}
