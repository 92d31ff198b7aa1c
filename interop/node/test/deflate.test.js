'use strict';
// permessage-deflate against the real ws-server binary: Node's `ws` with perMessageDeflate
// (compressed messages both ways, proven by the bytes on its socket), a client without it
// beside one with it on the same broadcast, the binary with TINA4_WS_DEFLATE=off, and
// headless Chromium: the 101's Sec-WebSocket-Extensions read through the DevTools protocol,
// the chat demo page over a compressed connection, and the browser's own WebSocket echoing
// a large JSON message compressed.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, unique } = require('../lib/server');
const { Peer } = require('../lib/peer');
const { launch } = require('../lib/browser');

let server;
let browser;

before(async () => {
  server = await startServer('deflate');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

/** Chat-like JSON: compresses several times over. */
function chatJson(n) {
  const msgs = [];
  for (let i = 0; i < n; i++) msgs.push({ type: 'chat', room: 'lobby', from: `user${i % 7}`, text: `message number ${i}, hello again` });
  return JSON.stringify(msgs);
}

/** Bytes read and written on a peer's socket so far. */
const io = (p) => ({ read: p.ws._socket.bytesRead, written: p.ws._socket.bytesWritten });

test('Node ws with perMessageDeflate: agreed, and compressed both ways', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`, { perMessageDeflate: { threshold: 0 } });
  assert.equal(p.ws.extensions, 'permessage-deflate');
  // What ws accepted from the server's answer.
  assert.deepEqual({ ...p.ws._extensions['permessage-deflate'].params }, {
    server_no_context_takeover: true,
    client_no_context_takeover: true,
  });
  for (const [data, binary] of [[chatJson(300), false], [Buffer.from(chatJson(300)), true], ['héllo ✓ 日本語 '.repeat(500), false]]) {
    const before = io(p);
    await p.send(data, { binary });
    const m = await p.next();
    const size = Buffer.byteLength(data);
    assert.equal(m.isBinary, binary);
    assert.ok(binary ? Buffer.compare(m.data, data) === 0 : m.data === data, 'the echo is what was sent');
    const after = io(p);
    // Both directions went compressed: far fewer bytes on the socket than in the message.
    assert.ok(after.written - before.written < size / 4, `wrote ${after.written - before.written} for ${size}`);
    assert.ok(after.read - before.read < size / 4, `read ${after.read - before.read} for ${size}`);
  }
  p.ws.close(1000);
  assert.equal((await p.waitClosed()).code, 1000);
});

test('a broadcast reaches clients with and without permessage-deflate', { timeout: 20000 }, async () => {
  const room = unique('r');
  const zipped = await Peer.connect(`${server.ws}/rooms/${room}`, { perMessageDeflate: true });
  const plain = await Peer.connect(`${server.ws}/rooms/${room}`, { perMessageDeflate: false });
  const sender = await Peer.connect(`${server.ws}/rooms/${room}`);
  assert.equal(zipped.ws.extensions, 'permessage-deflate');
  assert.equal(plain.ws.extensions, '');
  const text = chatJson(200);
  const [z0, p0] = [io(zipped), io(plain)];
  await sender.send(text);
  assert.equal((await zipped.next()).data, text);
  assert.equal((await plain.next()).data, text);
  assert.ok(io(zipped).read - z0.read < text.length / 4, 'compressed for the one that agreed');
  assert.ok(io(plain).read - p0.read > text.length, 'plain for the other');
  for (const p of [zipped, plain, sender]) p.ws.close(1000);
});

test('TINA4_WS_DEFLATE=off declines the offer', { timeout: 20000 }, async () => {
  const off = await startServer('deflate-off', { TINA4_WS_DEFLATE: 'off' });
  try {
    const p = await Peer.connect(`${off.ws}/echo`, { perMessageDeflate: true });
    assert.equal(p.ws.extensions, '');
    await p.send(chatJson(10));
    assert.equal((await p.next()).data, chatJson(10));
    p.ws.close(1000);
    await p.waitClosed();
  } finally {
    assert.equal(await off.stop(), 0);
  }
});

/** Records every WebSocket handshake response the page sees (DevTools protocol). */
async function watchHandshakes(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const responses = [];
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    const headers = {};
    for (const [k, v] of Object.entries(e.response.headers)) headers[k.toLowerCase()] = v;
    responses.push({ status: e.response.status, headers });
  });
  return responses;
}

test('Chromium negotiates it: the chat demo over a compressed connection', { timeout: 60000 }, async () => {
  const room = unique('room-');
  const page = await browser.newPage('deflate-chat');
  const responses = await watchHandshakes(page);
  const bot = await Peer.connect(`${server.ws}/chat/${room}?user=node-bot&session=${unique('s')}`, { perMessageDeflate: true });
  await page.goto(`${server.http}/`);
  await page.fill('#room', room);
  await page.fill('#name', 'Chromium');
  await page.click('#join');
  await page.locator('#status.ok', { hasText: `room ${room}, as Chromium` }).waitFor();
  // The 101 the page got says permessage-deflate, as the server answers a browser.
  const deadline = Date.now() + 5000;
  while (!responses.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(responses.length, 1, JSON.stringify(responses));
  assert.equal(responses[0].status, 101);
  assert.equal(
    responses[0].headers['sec-websocket-extensions'],
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
  );
  // Chat both ways over it, with a message long enough to be compressed.
  assert.deepEqual(await bot.nextJson((m) => m.type === 'hello'), { type: 'hello', from: 'Chromium' });
  const long = 'a long chat message, repeated so that it compresses well. '.repeat(20);
  await bot.send(JSON.stringify({ type: 'chat', from: 'node-bot', text: long }));
  await page.locator('#log li', { hasText: 'a long chat message' }).first().waitFor();
  await page.fill('#text', long.trim());
  await page.click('#send');
  assert.equal((await bot.nextJson((m) => m.type === 'chat')).text, long.trim());
  bot.ws.close(1000);
  assert.deepEqual(browser.errors, []);
  await page.close();
});

test("Chromium's WebSocket: the extension agreed, a large JSON message echoed", { timeout: 60000 }, async () => {
  const page = await browser.newPage('deflate-ws');
  const responses = await watchHandshakes(page);
  await page.goto(`${server.http}/chat`);
  const text = chatJson(400);
  const got = await page.evaluate(async ({ url, text }) => {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket error'));
    });
    const echoed = new Promise((resolve) => {
      ws.onmessage = (e) => resolve(e.data);
    });
    ws.send(text);
    const back = await echoed;
    ws.close(1000);
    return { extensions: ws.extensions, same: back === text };
  }, { url: `${server.ws}/echo`, text });
  assert.deepEqual(got, {
    extensions: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    same: true,
  });
  assert.equal(responses.length, 1);
  assert.match(responses[0].headers['sec-websocket-extensions'], /^permessage-deflate/);
  assert.deepEqual(browser.errors, []);
  await page.close();
});
