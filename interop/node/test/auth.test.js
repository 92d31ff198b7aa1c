'use strict';
// Node's `ws` client against the binary: subprotocol negotiation from an offer of several,
// signed identities (WS_JWT_SECRET) by header, query and subprotocol, their refusals, and
// the per-address limits (429).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer, unique } = require('../lib/server');
const { Peer } = require('../lib/peer');
const { SECRET, jwt, now, tokenFor } = require('../lib/jwt');

/** The status a refused upgrade got (ws reports it as an 'unexpected-response'). */
function statusOf(url, protocols, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const timer = setTimeout(() => reject(new Error(`no answer from ${url}`)), 5000);
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode);
      ws.terminate();
    });
    ws.on('open', () => {
      // Resolved once closed: the server has given the address's place back by then.
      ws.once('close', () => {
        clearTimeout(timer);
        resolve(101);
      });
      ws.close(1000);
    });
    ws.on('error', () => {});
  });
}

let open; // the demo server: no key
let signed; // WS_JWT_SECRET, and at most 3 connections per address (loopback included)

before(async () => {
  open = await startServer('node-ws-subprotocols');
  signed = await startServer('node-ws-signed', {
    WS_JWT_SECRET: SECRET,
    TINA4_WS_MAX_CONNECTIONS_PER_IP: '3',
    TINA4_WS_LIMIT_LOOPBACK: 'true',
  });
});

after(async () => {
  if (open) assert.equal(await open.stop(), 0);
  if (signed) assert.equal(await signed.stop(), 0);
});

test('the server picks its subprotocol from an offer of several', { timeout: 20000 }, async () => {
  const ws = new WebSocket(`${open.ws}/echo`, ['chat.v9', 'oyez', 'mqtt']);
  const q = new Peer(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  assert.equal(ws.protocol, 'oyez');
  await q.send('negotiated');
  assert.equal((await q.next()).data, 'negotiated');
  ws.close(1000);
  await q.waitClosed();
});

test('a token by header, query or subprotocol; the answer is never the token', { timeout: 20000 }, async () => {
  const alice = tokenFor('alice');
  const ways = [
    [`${signed.ws}/echo`, ['oyez'], { headers: { Authorization: `Bearer ${alice}` } }],
    [`${signed.ws}/echo?token=${alice}`, ['x', 'oyez'], {}],
    [`${signed.ws}/echo`, ['oyez', `bearer.${alice}`], {}],
  ];
  for (const [url, protocols, options] of ways) {
    const ws = new WebSocket(url, protocols, options);
    const p = new Peer(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'oyez');
    await p.send('signed');
    assert.equal((await p.next()).data, 'signed');
    ws.close(1000);
    await p.waitClosed();
  }
});

test('refusals: 401 without a valid token, 403 outside its paths', { timeout: 30000 }, async () => {
  const t = now();
  const url = `${signed.ws}/echo`;
  assert.equal(await statusOf(url, ['oyez']), 401);
  assert.equal(await statusOf(`${signed.ws}/chat/lobby?user=alice&session=s1`, ['oyez']), 401);
  const bad = [
    jwt({ sub: 'a', exp: t + 600 }, { secret: 'another-secret-another-secret-!!' }),
    jwt({ sub: 'a', exp: t + 600 }, { alg: 'none' }),
    jwt({ sub: 'a', exp: t - 600 }),
    jwt({ sub: 'a', exp: t + 900, nbf: t + 600 }),
    jwt({ exp: t + 600 }),
  ];
  for (const tok of bad) {
    assert.equal(await statusOf(url, ['oyez', `bearer.${tok}`]), 401);
    assert.equal(await statusOf(url, ['oyez'], { headers: { Authorization: `Bearer ${tok}` } }), 401);
  }
  const lobby = tokenFor('alice', { paths: ['/rooms/lobby'] });
  assert.equal(await statusOf(`${signed.ws}/rooms/kitchen`, ['oyez', `bearer.${lobby}`]), 403);
  assert.equal(await statusOf(`${signed.ws}/rooms/lobby`, ['oyez', `bearer.${lobby}`]), 101);
});

test("alice's direct messages reach alice's token only; the address limit answers 429", { timeout: 30000 }, async () => {
  const ns = `/${unique('node-dm')}`;
  const connect = async (path, token) => {
    const ws = new WebSocket(`${signed.ws}${path}`, ['oyez', `bearer.${token}`]);
    const p = new Peer(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return p;
  };
  const alice = await connect(ns, tokenFor('alice'));
  const bob = await connect(`${ns}?user=alice&session=x`, tokenFor('bob'));
  const carol = await connect(ns, tokenFor('carol'));
  await carol.send(JSON.stringify({ type: 'direct', to: 'alice', payload: 'for alice' }));
  assert.deepEqual(JSON.parse((await alice.next()).data), { type: 'direct', from: 'carol', payload: 'for alice' });
  await bob.silent(300);
  // Three connections are open from 127.0.0.1: a fourth is refused until one closes.
  assert.equal(await statusOf(`${signed.ws}/echo`, ['oyez', `bearer.${tokenFor('dave')}`]), 429);
  bob.ws.close(1000);
  await bob.waitClosed();
  let status = 0;
  for (let i = 0; i < 50 && status !== 101; i++) {
    status = await statusOf(`${signed.ws}/echo`, ['oyez', `bearer.${tokenFor('dave')}`]);
    if (status !== 101) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 101);
  for (const p of [alice, carol]) {
    p.ws.close(1000);
    await p.waitClosed();
  }
});
