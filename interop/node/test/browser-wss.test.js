'use strict';
// Headless Chromium over wss:// to the real ws-server binary, serving TLS with a test
// certificate made here (openssl, for localhost and 127.0.0.1). Chromium trusts exactly that
// certificate (--ignore-certificate-errors-spki-list with its key's hash: certificate errors
// are ignored for it alone); Node's ws client trusts it as its CA.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startServer, unique, OUT } = require('../lib/server');
const { Peer } = require('../lib/peer');
const { launch } = require('../lib/browser');

let server;
let browser;
let cert;
let base;

/** A self-signed certificate and key for localhost, written under OUT/tls. */
function makeCertificate() {
  const dir = path.join(OUT, 'tls');
  fs.mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const pem = fs.readFileSync(certPath, 'utf8');
  const spki = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  const spkiHash = crypto.createHash('sha256').update(spki).digest('base64');
  return { certPath, keyPath, pem, spkiHash };
}

before(async () => {
  cert = makeCertificate();
  server = await startServer('browser-wss', { TINA4_WS_TLS_CERT: cert.certPath, TINA4_WS_TLS_KEY: cert.keyPath });
  base = `localhost:${server.addr.split(':')[1]}`;
  browser = await launch([`--ignore-certificate-errors-spki-list=${cert.spkiHash}`]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

test('the chat page over https and wss://: a Node client and the browser talk through it', { timeout: 60000 }, async () => {
  const room = unique('tls-');
  const bot = await Peer.connect(`wss://${base}/chat/${room}?user=node-bot&session=${unique('s')}`, { ca: cert.pem });
  const page = await browser.newPage('chat-wss');
  await page.goto(`https://${base}/`);
  assert.equal(await page.evaluate(() => location.protocol), 'https:');
  await page.fill('#room', room);
  await page.fill('#name', 'Chromium');
  await page.click('#join');
  await page.locator('#status.ok', { hasText: `room ${room}, as Chromium` }).waitFor();
  assert.deepEqual(await bot.nextJson((m) => m.type === 'hello'), { type: 'hello', from: 'Chromium' });
  await bot.send(JSON.stringify({ type: 'chat', from: 'node-bot', text: 'hello over tls' }));
  await page.locator('#log li', { hasText: 'hello over tls' }).first().waitFor();
  await page.fill('#text', 'and back over tls');
  await page.click('#send');
  assert.deepEqual(await bot.nextJson((m) => m.type === 'chat'), { type: 'chat', from: 'Chromium', text: 'and back over tls' });
  await page.screenshot({ path: path.join(OUT, 'chat-browser-wss.png'), fullPage: true });
  await page.click('#leave');
  await page.locator('#status', { hasText: 'closed cleanly (1000' }).waitFor();
  bot.ws.close(1000);
  assert.deepEqual(browser.errors, []);
  await page.close();
});

test("the browser's own WebSocket over wss://: echo of text and binary, a clean close", { timeout: 60000 }, async () => {
  const page = await browser.newPage('ws-wss');
  await page.goto(`https://${base}/chat`);
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const received = [];
    ws.onmessage = (e) => received.push(e.data);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket error on ' + url));
    });
    const bytes = new Uint8Array(100000).map((_, i) => (i * 13 + 1) & 0xff);
    ws.send('text over wss');
    ws.send(bytes);
    const deadline = Date.now() + 5000;
    while (received.length < 2) {
      if (Date.now() > deadline) throw new Error('no echo within 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const closed = new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, wasClean: e.wasClean });
    });
    ws.close(1000, 'done');
    const back = new Uint8Array(received[1]);
    return {
      text: received[0],
      binaryOk: back.length === bytes.length && back.every((b, i) => b === bytes[i]),
      close: await closed,
    };
  }, `wss://${base}/echo`);
  assert.deepEqual(result, { text: 'text over wss', binaryOk: true, close: { code: 1000, wasClean: true } });
  assert.deepEqual(browser.errors, []);
  await page.close();
});
