// Idle realtime connections on one gateway: starts its own redis-server
// (unix socket, temp dir) and `herald gateway` on free loopback ports, opens
// --connections Server-Sent Events streams (one user each, HS256 tokens
// minted here with the gateway's secret), waits until every stream has its
// first event, lets them sit idle, and prints one JSON line with the
// gateway's resident memory before and after (VmRSS, VmHWM from /proc).
// Stops everything it started, whatever happens.
//   node bench/gateway_connections.js [--connections 10000] [--idle-s 5]
//        [--herald build/runtime/herald]
'use strict';
const {spawn} = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const root = path.resolve(__dirname, '..');
const connections = Number(flag('connections', '10000'));
const idleSeconds = Number(flag('idle-s', '5'));
const heraldBinary = flag('herald', path.join(root, 'build/runtime/herald'));
const secret = crypto.randomBytes(32).toString('hex');
const publishableKey = 'pk_bench_gateway_connections';

const children = [];
function stopAll() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

function base64url(buffer) { return Buffer.from(buffer).toString('base64url'); }

// A development token like `heraldctl token` mints (HS256).
function token(user) {
  const header = base64url(JSON.stringify({alg: 'HS256', typ: 'JWT'}));
  const now = Math.floor(Date.now() / 1000);
  const claims = base64url(JSON.stringify({sub: user, aud: 'herald', iat: now, exp: now + 3600}));
  const signature = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

function memory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number((status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm')) || [0, 0])[1]);
  return {rss_mib: kb('VmRSS') / 1024, hwm_mib: kb('VmHWM') / 1024};
}

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function get(port, pathName, headers) {
  return new Promise((resolve) => {
    const req = http.get({host: '127.0.0.1', port, path: pathName, headers}, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-gateway-bench-'));
  const socket = path.join(dir, 'redis.sock');
  const redis = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--dir', dir, '--save', '',
                                       '--appendonly', 'no'], {stdio: 'ignore'});
  children.push(redis);
  await waitFor(() => fs.existsSync(socket), 10000, 'redis-server');
  fs.mkdirSync(path.join(dir, 'workflows'));
  fs.writeFileSync(path.join(dir, 'workflows', 'bench.yaml'),
                   'key: bench\nsteps:\n  - ref: feed\n    type: channel\n    channel_type: in_app_feed\n' +
                   '    template:\n      markdown: "hello"\n');
  const port = await freePort();
  const herald = spawn(heraldBinary, ['gateway', `--redis=unix://${socket}`, `--workflows=${dir}/workflows`,
                                      '--grpc_address=127.0.0.1:0', '--metrics_address=',
                                      `--gateway_address=127.0.0.1:${port}`,
                                      `--gateway_publishable_keys=${publishableKey}`,
                                      `--gateway_jwt_hs256_secret=${secret}`,
                                      `--gateway_user_rate=1000`],
                       {stdio: ['ignore', 'ignore', 'inherit']});
  children.push(herald);
  await waitFor(async () => (await get(port, '/v1/health', {})) === 200, 20000, 'the gateway');
  const before = memory(herald.pid);

  const agent = new http.Agent({keepAlive: true, maxSockets: Infinity});
  const started = Date.now();
  let opened = 0, failed = 0;
  const requests = [];
  const openOne = (n) => new Promise((resolve) => {
    const req = http.get({host: '127.0.0.1', port, agent, path: '/v1/feeds/main/stream',
                          headers: {'X-Herald-Key': publishableKey, 'Authorization': `Bearer ${token(`bench-user-${n}`)}`,
                                    'Accept': 'text/event-stream'}}, (res) => {
      if (res.statusCode !== 200) {
        failed++;
        res.resume();
        resolve();
        return;
      }
      res.setEncoding('utf8');
      let first = true;
      res.on('data', (chunk) => {
        if (first && chunk.includes('data:')) {
          first = false;
          opened++;
          resolve();
        }
      });
      res.on('error', () => {});
    });
    req.on('error', () => { failed++; resolve(); });
    requests.push(req);
  });
  // A few hundred at a time: the point is the idle cost, not a connect storm.
  for (let n = 0; n < connections; n += 500) {
    const batch = [];
    for (let k = n; k < Math.min(n + 500, connections); k++) batch.push(openOne(k));
    await Promise.all(batch);
  }
  const openSeconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const after = memory(herald.pid);
  const cpu = fs.readFileSync(`/proc/${herald.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  for (const req of requests) req.destroy();
  console.log(JSON.stringify({
    connections, opened, failed, open_seconds: openSeconds, idle_seconds: idleSeconds,
    gateway_rss_mib_before: Number(before.rss_mib.toFixed(1)),
    gateway_rss_mib_with_connections: Number(after.rss_mib.toFixed(1)),
    gateway_peak_rss_mib: Number(after.hwm_mib.toFixed(1)),
    kib_per_connection: opened ? Number(((after.rss_mib - before.rss_mib) * 1024 / opened).toFixed(1)) : null,
    // utime + stime, in clock ticks (CLK_TCK is 100 on Linux x86-64).
    gateway_cpu_seconds: (Number(cpu[11]) + Number(cpu[12])) / 100,
    ok: opened === connections && after.rss_mib < 200,
  }));
  stopAll();
  fs.rmSync(dir, {recursive: true, force: true});
  process.exit(opened === connections ? 0 : 3);
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
