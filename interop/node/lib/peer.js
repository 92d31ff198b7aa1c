'use strict';
// A Node `ws` client with a message queue and bounded waits, for the tests.

const WebSocket = require('ws');

const WAIT_MS = 5000;

class Peer {
  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.closedPromise = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString('utf8') };
        resolve(this.closed);
        this._wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      this.queue.push({ data: isBinary ? data : data.toString('utf8'), isBinary });
      this._wake();
    });
    ws.on('error', () => {}); // surfaced through 'close'
  }

  /** Opens a connection to `url`, failing after 5 s. */
  static connect(url, options = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no connection to ${url} within ${WAIT_MS} ms`));
      }, WAIT_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(new Peer(ws));
      });
      ws.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  _wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The next message for which `pred` holds (others are left queued), within `ms`. */
  async next(pred = () => true, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) return this.queue.splice(i, 1)[0];
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for a message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${ms} ms; queued: ${JSON.stringify(this.queue).slice(0, 500)}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The next text message, parsed as JSON, whose parsed value satisfies `pred`. */
  async nextJson(pred = () => true, ms = WAIT_MS) {
    const m = await this.next((m) => {
      if (m.isBinary) return false;
      try {
        return pred(JSON.parse(m.data));
      } catch (_) {
        return false;
      }
    }, ms);
    return JSON.parse(m.data);
  }

  /** Fails if any message arrives within `ms`. */
  async silent(ms = 300) {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (this.queue.length) throw new Error(`expected silence, got ${JSON.stringify(this.queue[0]).slice(0, 200)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.queue.length) throw new Error(`expected silence, got ${JSON.stringify(this.queue[0]).slice(0, 200)}`);
  }

  send(data, options) {
    return new Promise((resolve, reject) => this.ws.send(data, options || {}, (e) => (e ? reject(e) : resolve())));
  }

  /** Resolves to { code, reason } once the connection is closed, failing after `ms`. */
  async waitClosed(ms = WAIT_MS) {
    let t;
    const timeout = new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  terminate() {
    this.ws.terminate();
  }
}

module.exports = { Peer, WAIT_MS };
