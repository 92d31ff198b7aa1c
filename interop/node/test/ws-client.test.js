'use strict';
// Node's `ws` client (npm, not ours) against the real ws-server binary.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { startServer, unique } = require('../lib/server');
const { Peer } = require('../lib/peer');

let server;

before(async () => {
  server = await startServer('node-ws');
});

after(async () => {
  if (server) assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
});

test('echo of text, including non-ASCII', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  for (const text of ['hello', '', 'héllo wörld ✓ 日本語 🎉', 'x'.repeat(70000)]) {
    await p.send(text);
    const m = await p.next();
    assert.equal(m.isBinary, false);
    assert.equal(m.data, text);
  }
  p.ws.close(1000);
  assert.equal((await p.waitClosed()).code, 1000);
});

test('echo of binary, small and over 64 KiB', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  for (const size of [0, 1, 125, 126, 65535, 65536, 300000]) {
    const data = crypto.randomBytes(size);
    await p.send(data, { binary: true });
    const m = await p.next();
    assert.equal(m.isBinary, true, `size ${size}`);
    assert.ok(Buffer.compare(m.data, data) === 0, `size ${size}: bytes differ`);
  }
  p.ws.close(1000);
  await p.waitClosed();
});

test('a fragmented message is reassembled (text and binary)', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  // ws sends a frame per call with fin: false, continuation frames after the first.
  await p.send('frag', { fin: false });
  await p.send('-men', { fin: false });
  await p.send('-ted ✓', { fin: true });
  let m = await p.next();
  assert.deepEqual([m.isBinary, m.data], [false, 'frag-men-ted ✓']);

  // A multi-byte character split across fragments.
  const bytes = Buffer.from('€uro', 'utf8');
  await p.send(bytes.subarray(0, 1), { fin: false, binary: false });
  await p.send(bytes.subarray(1), { fin: true, binary: false });
  m = await p.next();
  assert.deepEqual([m.isBinary, m.data], [false, '€uro']);

  const parts = [crypto.randomBytes(1000), crypto.randomBytes(70000), crypto.randomBytes(3)];
  for (let i = 0; i < parts.length; i++) {
    await p.send(parts[i], { binary: true, fin: i === parts.length - 1 });
  }
  m = await p.next();
  assert.equal(m.isBinary, true);
  assert.ok(Buffer.compare(m.data, Buffer.concat(parts)) === 0, 'reassembled bytes differ');
  p.ws.close(1000);
  await p.waitClosed();
});

test('rooms: a message reaches the room, not the sender, not other rooms', { timeout: 20000 }, async () => {
  const room = unique('r');
  const a = await Peer.connect(`${server.ws}/rooms/${room}`);
  const b = await Peer.connect(`${server.ws}/rooms/${room}`);
  const c = await Peer.connect(`${server.ws}/rooms/${room}`);
  const other = await Peer.connect(`${server.ws}/rooms/${unique('o')}`);
  await a.send('to the room');
  for (const p of [b, c]) assert.deepEqual(await p.next(), { data: 'to the room', isBinary: false });
  const bin = crypto.randomBytes(4096);
  await b.send(bin, { binary: true });
  for (const p of [a, c]) {
    const m = await p.next();
    assert.equal(m.isBinary, true);
    assert.ok(Buffer.compare(m.data, bin) === 0);
  }
  await Promise.all([a.silent(), b.silent(), other.silent()]);
  for (const p of [a, b, c, other]) p.ws.close(1000);
});

test('paths and /all', { timeout: 20000 }, async () => {
  const path = `/${unique('p')}`;
  const a = await Peer.connect(`${server.ws}${path}`);
  const b = await Peer.connect(`${server.ws}${path}?x=1`);
  const all = await Peer.connect(`${server.ws}/all`);
  await a.send('same path');
  assert.equal((await b.next()).data, 'same path');
  await all.send('everyone');
  for (const p of [a, b]) assert.equal((await p.next((m) => m.data === 'everyone')).data, 'everyone');
  await all.silent();
  for (const p of [a, b, all]) p.ws.close(1000);
});

test('direct messages between user sessions', { timeout: 20000 }, async () => {
  const ns = `/${unique('ns')}`;
  const alice = await Peer.connect(`${server.ws}${ns}?user=alice&session=s1`);
  const bob1 = await Peer.connect(`${server.ws}${ns}?user=bob&session=s2`);
  const bob2 = await Peer.connect(`${server.ws}${ns}?user=bob&session=s3`);
  await alice.send(JSON.stringify({ type: 'direct', to: 'bob', payload: { n: 1, s: 'hi' } }));
  for (const p of [bob1, bob2]) {
    assert.deepEqual(await p.nextJson(), { type: 'direct', from: 'alice', payload: { n: 1, s: 'hi' } });
  }
  await alice.silent();
  for (const p of [alice, bob1, bob2]) p.ws.close(1000);
});

test('a ping is answered with a pong carrying the same data', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  for (const payload of [Buffer.alloc(0), Buffer.from('are you there?'), crypto.randomBytes(125)]) {
    const pong = new Promise((resolve) => p.ws.once('pong', resolve));
    p.ws.ping(payload);
    let t;
    const got = await Promise.race([
      pong,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error('no pong within 5 s')), 5000);
      }),
    ]);
    clearTimeout(t);
    assert.ok(Buffer.compare(got, payload) === 0, 'pong data differs');
  }
  p.ws.close(1000);
  await p.waitClosed();
});

test('a close with a code and reason is answered with the same code', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  p.ws.close(4001, 'done here');
  const closed = await p.waitClosed();
  assert.equal(closed.code, 4001);
  assert.equal(p.ws.readyState, 3);
});

test('the server closes a protocol error with its code: invalid UTF-8 is 1007', { timeout: 20000 }, async () => {
  const p = await Peer.connect(`${server.ws}/echo`);
  // A text frame whose payload is not UTF-8 (ws does not validate what it sends).
  await p.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
  const closed = await p.waitClosed();
  // oyez-frame sends protocol-error closes without a reason (the code says it all).
  assert.deepEqual(closed, { code: 1007, reason: '' });
});

test('the server closes idle connections with 1001 "idle timeout"', { timeout: 30000 }, async () => {
  const idle = await startServer('node-ws-idle', { TINA4_WS_IDLE_TIMEOUT: '1' });
  try {
    const p = await Peer.connect(`${idle.ws}/echo`);
    const closed = await p.waitClosed(6000);
    assert.deepEqual(closed, { code: 1001, reason: 'idle timeout' });
  } finally {
    assert.equal(await idle.stop(), 0);
  }
});

test('graceful shutdown closes every connection with 1001 "server shutdown"', { timeout: 30000 }, async () => {
  const s = await startServer('node-ws-shutdown');
  const peers = await Promise.all([1, 2, 3].map(() => Peer.connect(`${s.ws}/rooms/x`)));
  const code = await s.stop();
  assert.equal(code, 0);
  for (const p of peers) assert.deepEqual(await p.waitClosed(), { code: 1001, reason: 'server shutdown' });
});

test('plain HTTP: /healthz and the demo page', { timeout: 20000 }, async () => {
  const get = (path) =>
    new Promise((resolve, reject) => {
      const req = http.get(`${server.http}${path}`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  assert.deepEqual(await get('/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
  const page = await get('/chat');
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/html; charset=utf-8');
  assert.match(page.body, /<title>ws-stack chat<\/title>/);
  const roster = await get('/chat/roster?room=nobody-here');
  assert.deepEqual([roster.status, JSON.parse(roster.body)], [200, []]);
});
