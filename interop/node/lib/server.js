'use strict';
// Starts the real ws-server binary ($WS_SERVER_BIN) on 127.0.0.1, port 0, and learns its
// address from its "listening addr=..." log line. Each server's log goes to
// $INTEROP_OUT/<name>.log (default target/interop/).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const OUT = process.env.INTEROP_OUT || path.resolve(__dirname, '..', '..', '..', 'target', 'interop');
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A random suffix, so runs and concurrent tests on the shared brokers never meet. */
function unique(prefix) {
  return prefix + crypto.randomBytes(6).toString('hex');
}

/** The server's environment: ours, without any ws-server setting the caller's shell had. */
function serverEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(TINA4_WS_|MEGA_WS_|WS_JWT_|WS_API_TOKEN$)/.test(k)) env[k] = v;
  }
  return { ...env, TINA4_WS_HOST: '127.0.0.1', TINA4_WS_PORT: '0', RUST_LOG: 'info', NO_COLOR: '1', ...extra };
}

/**
 * Starts one server. Resolves to { addr, http, ws, log, stop() }; `stop()` sends SIGTERM and
 * resolves to the exit code (it must shut down gracefully within 10 s).
 */
async function startServer(name, extraEnv = {}) {
  const bin = process.env.WS_SERVER_BIN;
  if (!bin) throw new Error('WS_SERVER_BIN is not set: run scripts/interop.sh');
  if (!fs.existsSync(bin)) throw new Error(`WS_SERVER_BIN=${bin} does not exist`);
  fs.mkdirSync(OUT, { recursive: true });
  const logPath = path.join(OUT, `${name}.log`);
  const fd = fs.openSync(logPath, 'w');
  const child = spawn(bin, [], { env: serverEnv(extraEnv), stdio: ['ignore', 'ignore', fd] });
  fs.closeSync(fd);
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const deadline = Date.now() + START_TIMEOUT_MS;
  let addr = null;
  while (!addr) {
    // Strip colour codes, should a terminal setting bring them back.
    const text = fs.readFileSync(logPath, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
    const m = /listening addr=(127\.0\.0\.1:\d+)/.exec(text);
    if (m) {
      addr = m[1];
      break;
    }
    if (exited) throw new Error(`server ${name} exited (${JSON.stringify(exited)}) before listening:\n${text}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server ${name} did not listen within ${START_TIMEOUT_MS} ms:\n${text}`);
    }
    await sleep(25);
  }
  async function stop() {
    if (!exited) child.kill('SIGTERM');
    let timer;
    const res = await Promise.race([
      exit,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!res) {
      child.kill('SIGKILL');
      throw new Error(`server ${name} did not shut down within ${STOP_TIMEOUT_MS} ms after SIGTERM`);
    }
    return res.code;
  }
  return { name, addr, http: `http://${addr}`, ws: `ws://${addr}`, log: logPath, stop };
}

/** The cluster settings of the README's two-instance set-up, on `backend` (redis | nats). */
function clusterEnv(backend, app) {
  const url = backend === 'redis' ? 'redis://127.0.0.1:6379' : 'nats://127.0.0.1:4222';
  return {
    TINA4_WS_BACKPLANE: backend,
    TINA4_WS_BACKPLANE_URL: url,
    MEGA_WS_CLUSTER_URL: url,
    MEGA_WS_APP: app,
    MEGA_WS_ROSTER: 'nats',
  };
}

module.exports = { startServer, clusterEnv, unique, sleep, OUT };
