'use strict';
// Headless Chromium (Debian's, through playwright-core) against the real ws-server binary: the
// chat page our server serves, used as a person would, plus the browser's own WebSocket on a
// page of our origin for rooms, binary and the close handshake.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startServer, unique, OUT } = require('../lib/server');
const { Peer } = require('../lib/peer');
const { launch } = require('../lib/browser');
const { SECRET, tokenFor } = require('../lib/jwt');
const WebSocket = require('ws');

let server;
let browser;

before(async () => {
  server = await startServer('browser');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

/** The visible text of every line of the page's message log. */
const logText = (page) => page.locator('#log li').allInnerTexts();

async function waitForLog(page, needle) {
  await page.locator('#log li', { hasText: needle }).first().waitFor();
}

async function rosterNames(page) {
  return (await page.locator('#roster li').allInnerTexts()).map((t) => t.trim()).sort();
}

async function waitForRoster(page, names) {
  const want = [...names].sort();
  const deadline = Date.now() + 10000;
  for (;;) {
    const got = await rosterNames(page);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.fail(`roster ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the chat page: join a room, see the roster, chat with a Node client, leave cleanly', { timeout: 60000 }, async () => {
  const room = unique('room-');
  const bot = await Peer.connect(`${server.ws}/chat/${room}?user=node-bot&session=${unique('s')}`);
  const page = await browser.newPage('chat');
  await page.goto(`${server.http}/`);
  assert.equal(await page.title(), 'ws-stack chat');
  await page.fill('#room', room);
  await page.fill('#name', 'Chromium');
  await page.click('#join');
  await page.locator('#status.ok', { hasText: `room ${room}, as Chromium` }).waitFor();

  // The page announces itself; the bot sees it.
  assert.deepEqual(await bot.nextJson((m) => m.type === 'hello'), { type: 'hello', from: 'Chromium' });
  // The roster (from the server, polled by the page) shows both.
  await waitForRoster(page, ['Chromium', 'node-bot']);
  await page.locator('#roster-title', { hasText: 'Present (2)' }).waitFor();

  // A broadcast from another client reaches the page.
  await bot.send(JSON.stringify({ type: 'chat', from: 'node-bot', text: 'hello from Node ws' }));
  await waitForLog(page, 'hello from Node ws');
  // What the person types reaches the other client.
  await page.fill('#text', 'hello from Chromium');
  await page.click('#send');
  assert.deepEqual(await bot.nextJson((m) => m.type === 'chat'), {
    type: 'chat',
    from: 'Chromium',
    text: 'hello from Chromium',
  });
  // A private message, addressed by clicking the name in the roster.
  await page.locator('#roster li', { hasText: 'node-bot' }).click();
  assert.equal(await page.inputValue('#text'), '@node-bot ');
  await page.type('#text', 'just for you');
  await page.press('#text', 'Enter');
  assert.deepEqual(await bot.nextJson((m) => m.type === 'direct'), {
    type: 'direct',
    from: 'Chromium',
    payload: { type: 'chat', from: 'Chromium', text: 'just for you' },
  });
  await bot.send(JSON.stringify({ type: 'direct', to: 'Chromium', payload: { type: 'chat', from: 'node-bot', text: 'whispered back' } }));
  await page.locator('#log li.private', { hasText: 'whispered back' }).waitFor();
  // Binary from the other client is shown by size.
  await bot.send(Buffer.alloc(1234, 7), { binary: true });
  await waitForLog(page, '(binary message, 1234 bytes)');

  // A second person joins and leaves: the page says so, from the roster.
  const late = await Peer.connect(`${server.ws}/chat/${room}?user=late-comer&session=${unique('s')}`);
  await late.send(JSON.stringify({ type: 'hello', from: 'late-comer' }));
  await bot.nextJson((m) => m.type === 'hello' && m.from === 'late-comer');
  await waitForLog(page, 'late-comer joined');
  await waitForRoster(page, ['Chromium', 'late-comer', 'node-bot']);
  late.ws.close(1000);
  await waitForLog(page, 'late-comer left');

  const shot = path.join(OUT, 'chat-browser.png');
  await page.screenshot({ path: shot, fullPage: true });

  // Leaving closes the socket with 1000; the page sees a clean close.
  await page.click('#leave');
  await page.locator('#status', { hasText: 'closed cleanly (1000' }).waitFor();
  assert.equal(await page.isEnabled('#join'), true);
  assert.deepEqual(await bot.nextJson((m) => m.type === 'bye'), { type: 'bye', from: 'Chromium' });
  await bot.silent(200);
  // The server saw the session end: the roster no longer has it.
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await fetch(`${server.http}/chat/roster?room=${room}`);
    const users = (await res.json()).map((m) => m.userId);
    if (JSON.stringify(users) === JSON.stringify(['node-bot'])) break;
    if (Date.now() > deadline) assert.fail(`roster after leaving: ${JSON.stringify(users)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const lines = await logText(page);
  assert.ok(lines.some((l) => l.includes('you left')), JSON.stringify(lines));
  bot.ws.close(1000);
  assert.deepEqual(browser.errors, []);
  await page.close();
});

test("the browser's WebSocket: a room broadcast in, binary out and back, a clean close", { timeout: 60000 }, async () => {
  const room = unique('r');
  const page = await browser.newPage('ws');
  // A page served by our server, so the socket's Origin is ours.
  await page.goto(`${server.http}/chat`);
  await page.evaluate(async ({ base, room }) => {
    const open = (url) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        ws.received = [];
        ws.onmessage = (e) =>
          ws.received.push(typeof e.data === 'string' ? { text: e.data } : { binary: Array.from(new Uint8Array(e.data)) });
        ws.onclose = (e) => {
          ws.closeEvent = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        };
        ws.onopen = () => resolve(ws);
        ws.onerror = () => reject(new Error('WebSocket error on ' + url));
      });
    window.roomWs = await open(`${base}/rooms/${room}`);
    window.echoWs = await open(`${base}/echo`);
  }, { base: server.ws, room });

  const other = await Peer.connect(`${server.ws}/rooms/${room}`);
  // A broadcast sent by another client reaches the browser.
  await other.send('broadcast from Node');
  await page.waitForFunction(() => window.roomWs.received.some((m) => m.text === 'broadcast from Node'));

  // The browser sends binary to the room; the other client gets the same bytes.
  await page.evaluate(() => {
    const bytes = new Uint8Array(70000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    window.roomWs.send(bytes.buffer);
  });
  const got = await other.next();
  assert.equal(got.isBinary, true);
  assert.equal(got.data.length, 70000);
  for (let i = 0; i < got.data.length; i++) {
    if (got.data[i] !== ((i * 31 + 7) & 0xff)) assert.fail(`byte ${i} differs`);
  }
  // Binary from the other client reaches the browser as binary.
  await other.send(Buffer.from([0, 1, 2, 253, 254, 255]), { binary: true });
  await page.waitForFunction(() => window.roomWs.received.some((m) => m.binary && m.binary.join() === '0,1,2,253,254,255'));

  // Binary echo: out and back, byte for byte.
  const echoed = await page.evaluate(async () => {
    const sent = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    window.echoWs.send(sent);
    const deadline = Date.now() + 5000;
    while (!window.echoWs.received.length) {
      if (Date.now() > deadline) throw new Error('no echo within 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const m = window.echoWs.received[0];
    return { ok: !!m.binary && m.binary.join() === Array.from(sent).join(), len: m.binary && m.binary.length };
  });
  assert.deepEqual(echoed, { ok: true, len: 1000 });

  // A clean close: the browser starts it, the server answers with the same code.
  const closes = await page.evaluate(async () => {
    window.roomWs.close(1000, 'done');
    window.echoWs.close(4000, 'custom');
    const deadline = Date.now() + 5000;
    while (!(window.roomWs.closeEvent && window.echoWs.closeEvent)) {
      if (Date.now() > deadline) throw new Error('no close within 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    return [window.roomWs.closeEvent, window.echoWs.closeEvent];
  });
  assert.deepEqual(closes, [
    { code: 1000, reason: '', wasClean: true },
    { code: 4000, reason: '', wasClean: true },
  ]);
  await other.silent(200);
  other.ws.close(1000);
  assert.deepEqual(browser.errors, []);
  await page.close();
});

test('the chat page with a token: the name is its sub, the roster private, private messages reach it', { timeout: 60000 }, async () => {
  const signed = await startServer('browser-signed', { WS_JWT_SECRET: SECRET });
  try {
    const room = unique('room-');
    const ws = new WebSocket(`${signed.ws}/chat/${room}`, ['oyez', `bearer.${tokenFor('node-bot')}`]);
    const bot = new Peer(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const page = await browser.newPage('chat-signed');
    // Without a token the server refuses the socket: the page says the connection was lost.
    await page.goto(`${signed.http}/`);
    await page.fill('#room', room);
    await page.click('#join');
    await page.locator('#status.bad', { hasText: 'connection lost' }).waitFor();
    // With one (here from the page's URL), the page joins as the token's sub.
    await page.goto(`${signed.http}/?token=${tokenFor('alice', { paths: [`/chat/${room}`] })}`);
    await page.fill('#room', room);
    await page.fill('#name', 'typed-name-is-ignored');
    await page.click('#join');
    await page.locator('#status.ok', { hasText: `room ${room}, as alice` }).waitFor();
    assert.deepEqual(await bot.nextJson((m) => m.type === 'hello'), { type: 'hello', from: 'alice' });
    await page.locator('#roster-title', { hasText: 'private on this server' }).waitFor();
    await bot.send(JSON.stringify({ type: 'direct', to: 'alice', payload: { type: 'chat', from: 'node-bot', text: 'signed whisper' } }));
    await page.locator('#log li.private', { hasText: 'signed whisper' }).waitFor();
    await page.fill('#text', '@node-bot back to you');
    await page.press('#text', 'Enter');
    assert.deepEqual(await bot.nextJson((m) => m.type === 'direct'), {
      type: 'direct',
      from: 'alice',
      payload: { type: 'chat', from: 'alice', text: 'back to you' },
    });
    await page.screenshot({ path: path.join(OUT, 'chat-browser-signed.png'), fullPage: true });
    await page.click('#leave');
    await page.locator('#status', { hasText: 'closed cleanly (1000' }).waitFor();
    ws.close(1000);
    await bot.waitClosed();
  } finally {
    assert.equal(await signed.stop(), 0);
  }
});
