// A scripted HTTP/2 server for the APNs test: cleartext (prior knowledge)
// by default, TLS with ALPN h2 when given `--tls CERT KEY`. The control
// endpoints are http_test_server.py's (POST /_script, GET /_requests).
// Prints "PORT <n>"; exits when stdin closes.
'use strict';
const fs = require('fs');
const http2 = require('http2');

let routes = {};
let requests = [];

const tls = process.argv.indexOf('--tls');
const server = tls < 0 ? http2.createServer()
                       : http2.createSecureServer({cert: fs.readFileSync(process.argv[tls + 1]),
                                                   key: fs.readFileSync(process.argv[tls + 2])});
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const [path, query = ''] = headers[':path'].split('?');
    const reply = (status, text, extra = {}) => {
      stream.respond({':status': status, 'content-type': 'application/json', ...extra});
      stream.end(text);
    };
    if (path === '/_script') {
      routes = JSON.parse(body).routes || {};
      requests = [];
      return reply(200, '{}');
    }
    if (path === '/_requests') return reply(200, JSON.stringify(requests));
    const recorded = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith(':')) recorded[name] = String(value);
    }
    requests.push({method: headers[':method'], path, query, headers: recorded, body,
                   // 'h2c' (cleartext) or 'h2' (TLS ALPN): HTTP/2 either way.
                   http_version: stream.session.alpnProtocol.startsWith('h2') ? '2' : String(stream.session.alpnProtocol),
                   alpn: stream.session.alpnProtocol,
                   // Streams of one connection share the session's socket port.
                   client_port: stream.session.socket.remotePort});
    const queue = routes[path] || [];
    const response = queue.length > 1 ? queue.shift() : (queue[0] || {});
    reply(response.status || 200, response.body === undefined ? '' : response.body, response.headers || {});
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
