// Trigger → realtime-visible latency: starts `herald all` (embedded Redis in
// a temp dir) with its gateway on loopback, keeps one Server-Sent Events
// stream open per user (as the browser client does), sends one-recipient
// triggers through @herald/node at --rate per second for --seconds, and
// measures, per trigger, the time from the Trigger call to its item's `item`
// event on the user's stream (one clock: same process). Prints one JSON line
// with p50/p99/max and the counts; exit 3 when an item never arrived.
// Needs clients/ installed and @herald/node built (ctest's node_sdk_test
// does both) and build/runtime/herald.
//   node bench/realtime_latency.mjs [--rate 1000] [--seconds 10] [--users 200]
import {spawn} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {fileURLToPath} from 'node:url';
import {createRequire} from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const {Herald} = createRequire(import.meta.url)(path.join(root, 'clients/node/dist/index.js'));
function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const rate = Number(flag('rate', '1000'));
const seconds = Number(flag('seconds', '10'));
const userCount = Number(flag('users', '200'));
const heraldBin = flag('herald', path.join(root, 'build/runtime/herald'));
const secret = crypto.randomBytes(32).toString('hex');
const key = 'pk_bench_realtime';

function token(user) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({alg: 'HS256', typ: 'JWT'})}.${b64({sub: user, aud: 'herald', iat: now, exp: now + 3600})}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}
function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-realtime-bench-'));
fs.mkdirSync(path.join(dir, 'workflows'));
fs.writeFileSync(path.join(dir, 'workflows', 'ping.yaml'),
                 'key: ping\nsteps:\n  - ref: feed\n    type: channel\n    channel_type: in_app_feed\n' +
                 '    template:\n      markdown: "ping {{ data.n }}"\n');
const herald = spawn(heraldBin, ['all', `--data_dir=${path.join(dir, 'data')}`, `--workflows=${path.join(dir, 'workflows')}`,
                                 '--grpc_address=127.0.0.1:0', '--metrics_address=', '--gateway_address=127.0.0.1:0',
                                 `--gateway_publishable_keys=${key}`, `--gateway_jwt_hs256_secret=${secret}`,
                                 '--gateway_user_rate=100000'],
                     {stdio: ['ignore', 'pipe', 'ignore']});
const streams = [];
function stop() {
  for (const s of streams) s.destroy();
  if (herald.exitCode === null) herald.kill('SIGKILL');
  fs.rmSync(dir, {recursive: true, force: true});
}
process.on('exit', stop);

const line = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('herald did not start')), 60000);
  readline.createInterface({input: herald.stdout}).once('line', (l) => { clearTimeout(timer); resolve(l); });
});
const grpcPort = line.match(/gRPC on port (\d+)/)[1];
const gatewayPort = Number(line.match(/gateway on port (\d+)/)[1]);
const client = new Herald({address: `127.0.0.1:${grpcPort}`, apiKey: 'unused-on-loopback-without-keys'});
const users = Array.from({length: userCount}, (_, i) => `rt-user-${i}`);
for (const user of users) await client.users.identify(user, {name: user});

// n -> trigger time; arrival time per n.
const sentAt = new Map();
const latencies = [];
let duplicates = 0;
const agent = new http.Agent({keepAlive: true, maxSockets: Infinity});
await Promise.all(users.map((user) => new Promise((resolve, reject) => {
  const req = http.get({host: '127.0.0.1', port: gatewayPort, agent, path: '/v1/feeds/main/stream',
                        headers: {'X-Herald-Key': key, 'Authorization': `Bearer ${token(user)}`}}, (res) => {
    if (res.statusCode !== 200) return reject(new Error(`stream: HTTP ${res.statusCode}`));
    res.setEncoding('utf8');
    let buffer = '';
    let ready = false;
    res.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!ready) { ready = true; resolve(); }
        const match = event.match(/^event: item\n/m) && event.match(/ping (\d+)/);
        if (!match) continue;
        const n = Number(match[1]);
        const started = sentAt.get(n);
        if (started === undefined) { duplicates++; continue; }
        sentAt.delete(n);
        latencies.push(performance.now() - started);
      }
    });
  });
  req.on('error', reject);
  streams.push(req);
})));

const total = Math.round(rate * seconds);
const began = performance.now();
let failed = 0;
const inflight = [];
for (let n = 0; n < total; n++) {
  const due = began + (n * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  sentAt.set(n, performance.now());
  inflight.push(client.workflows.trigger('ping', {recipients: [users[n % users.length]], data: {n}})
    .catch(() => { failed++; sentAt.delete(n); }));
}
await Promise.all(inflight);
const deadline = performance.now() + 15000;
while (sentAt.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const sorted = latencies.slice().sort((a, b) => a - b);
const round = (x) => (x === null ? null : Number(x.toFixed(2)));
console.log(JSON.stringify({
  rate, seconds, users: userCount, triggers: total, visible: latencies.length, missing: sentAt.size, duplicates, failed,
  sent_per_s: Math.round(total / ((performance.now() - began) / 1000)),
  p50_ms: round(percentile(sorted, 0.5)), p99_ms: round(percentile(sorted, 0.99)),
  max_ms: round(sorted.length ? sorted[sorted.length - 1] : null),
}));
client.close();
process.exit(sentAt.size === 0 && failed === 0 ? 0 : 3);
