// Webhook sink for bench/loadgen --webhook_sink: an HTTP/1.1 keep-alive
// server on loopback that answers every POST with 200 and counts requests
// per Idempotency-Key (X-Herald-Message-Id when absent); a repeated id is a
// duplicate. GET /stats returns {count, unique, duplicates, first_ms,
// last_ms} (wall-clock ms of the first and last request). Prints
// {"port": N} on its first stdout line and exits when stdin closes, so it
// never outlives the load generator.
//   node bench/webhook_sink.js [--port N]
'use strict';
const http = require('http');

const portFlag = process.argv.indexOf('--port');
const port = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 0;

const seen = new Set();
let count = 0;
let duplicates = 0;
let firstMs = 0;
let lastMs = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const body = JSON.stringify({count, unique: seen.size, duplicates, first_ms: firstMs, last_ms: lastMs});
    res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
    res.end(body);
    return;
  }
  req.on('data', () => {});  // the body is not needed, only drained
  req.on('end', () => {
    const now = Date.now();
    if (count === 0) firstMs = now;
    lastMs = now;
    ++count;
    const id = req.headers['idempotency-key'] || req.headers['x-herald-message-id'] || '';
    if (seen.has(id)) ++duplicates; else seen.add(id);
    res.writeHead(200, {'Content-Length': 0});
    res.end();
  });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 121000;
server.maxRequestsPerSocket = 0;  // unlimited
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({port: server.address().port}) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
