'use strict';
// A Node `ws` server for the end-to-end comparison (scripts/bench-deflate.sh): /echo echoes,
// /all relays every message to every other client (like ws-server's /all). PORT (default
// 18900); DEFLATE=on turns perMessageDeflate on with ws's defaults (zlib's default level,
// context takeover kept per connection unless the client asks otherwise, messages from 1 KiB
// compressed), as an application that just enables it gets; each recipient's copy is
// compressed on its own (ws has no shared compressor).

const http = require('node:http');
const WebSocket = require('ws');

const port = Number(process.env.PORT || 18900);
const deflate = process.env.DEFLATE === 'on';
const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocket.Server({ server, perMessageDeflate: deflate, maxPayload: 64 << 20 });
wss.on('connection', (ws, req) => {
  const path = req.url.split('?')[0];
  ws.on('error', () => {});
  if (path === '/echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else {
    ws.on('message', (data, isBinary) => {
      for (const c of wss.clients) {
        if (c !== ws && c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
      }
    });
  }
});
server.listen(port, '127.0.0.1', () => {
  process.stderr.write(`peer-ws listening on 127.0.0.1:${port}, perMessageDeflate ${deflate ? 'on' : 'off'}\n`);
});
process.on('SIGTERM', () => process.exit(0));
