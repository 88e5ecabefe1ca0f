// An echo server on the `ws` package (npm), for scripts/interop-client.sh; the same behaviour
// as echo_server.py:
//
//     NODE_PATH=target/interop-node/node_modules node echo_server.js [--tls CERT KEY] [--deflate]
//
// Binds 127.0.0.1 on a free port and prints `listening 127.0.0.1:PORT`. For each connection it
// prints `conn path=P ext=E proto=S xtest=X` (negotiated extensions, subprotocol, the X-Test
// header; `-` when absent), then echoes every message. `/forbidden` answers 403;
// `/close-first` sends `bye` and 3 binary bytes and closes with 1000 at once; `/close-4000`
// closes with 4000 at once.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const tls = args.indexOf('--tls');
const deflate = args.includes('--deflate');

const server = tls >= 0
  ? https.createServer({ cert: fs.readFileSync(args[tls + 1]), key: fs.readFileSync(args[tls + 2]) })
  : http.createServer();
server.on('request', (req, res) => res.writeHead(404).end('not found\n'));

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: deflate,
  handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
});

server.on('upgrade', (req, socket, head) => {
  if (req.url === '/forbidden') {
    const body = 'forbidden by the test server\n';
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

wss.on('connection', (ws, req) => {
  const xtest = req.headers['x-test'] || '-';
  console.log(`conn path=${req.url} ext=${ws.extensions || '-'} proto=${ws.protocol || '-'} xtest=${xtest}`);
  if (req.url === '/close-first') {
    ws.send('bye');
    ws.send(Buffer.from([0, 1, 2]));
    ws.close(1000, 'done');
    return;
  }
  if (req.url === '/close-4000') {
    ws.close(4000, 'test failure code');
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.listen(0, '127.0.0.1', () => console.log(`listening 127.0.0.1:${server.address().port}`));
