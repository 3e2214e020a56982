// End to end in a real browser: Debian's chromium, driven by playwright-core,
// opens the demo page (clients/demo, built here and served from loopback)
// wired to a real `herald all` with its gateway (embedded redis-server in a
// temp dir). heraldctl triggers a workflow; the bell's badge must go to 1
// without a reload; the popover shows the item; marking it read reaches
// Herald; the preference center's opt-out reaches Herald's preference
// evaluation. Everything started here is stopped at the end.
//   HERALD_BIN=build/runtime/herald HERALDCTL_BIN=build/cli/heraldctl node --test browser.test.mjs
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFile} from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const heraldBin = process.env.HERALD_BIN || path.join(root, 'build/runtime/herald');
const heraldctlBin = process.env.HERALDCTL_BIN || path.join(root, 'build/cli/heraldctl');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
// Screenshots of the open popover and the preference center (ctest sets it
// to a folder of the build tree).
const outputDir = process.env.E2E_OUTPUT_DIR || path.join(os.tmpdir(), 'herald-e2e-output');
const run = promisify(execFile);

const secret = crypto.randomBytes(32).toString('hex');
const publishableKey = 'pk_e2e_browser';
const children = [];
let dir, staticServer, demoOrigin, grpcAddress, gatewayUrl, browser;

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

// The built demo, as a static site (its assets and index.html for every
// other path, as a single-page app is served).
function serveStatic(rootDir, port) {
  const types = {'.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml'};
  const server = http.createServer((req, res) => {
    const wanted = path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
    let file = path.join(rootDir, wanted);
    if (!file.startsWith(rootDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      file = path.join(rootDir, 'index.html');
    }
    res.writeHead(200, {'Content-Type': types[path.extname(file)] || 'application/octet-stream'});
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// Polls `check` (async, returns truthy when done) for up to `ms`: the page
// updates optimistically, so Herald's side is read until it agrees.
async function eventually(check, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

async function heraldctl(...args) {
  const {stdout} = await run(heraldctlBin, [`--addr=${grpcAddress}`, '--json', ...args], {timeout: 20000});
  return stdout;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-browser-'));
  // The demo, built for this run.
  // (`tsc -b` first builds @herald/client and @herald/react, which it imports.)
  await run('npm', ['run', 'build', '--workspace=demo', '--', '--outDir', path.join(dir, 'demo'), '--emptyOutDir'],
            {cwd: path.join(root, 'clients'), timeout: 180000});
  const demoPort = await freePort();
  staticServer = await serveStatic(path.join(dir, 'demo'), demoPort);
  demoOrigin = `http://127.0.0.1:${demoPort}`;

  fs.mkdirSync(path.join(dir, 'workflows'));
  fs.writeFileSync(path.join(dir, 'workflows', 'new-comment.yaml'), [
    'key: new-comment',
    'name: New comment',
    'steps:',
    '  - ref: feed',
    '    type: channel',
    '    channel_type: in_app_feed',
    '    template:',
    '      markdown: "**{{ data.author }}** commented: {{ data.text }}"',
    '',
  ].join('\n'));
  const herald = spawn(heraldBin, ['all', `--data_dir=${path.join(dir, 'data')}`,
                                   `--workflows=${path.join(dir, 'workflows')}`, '--grpc_address=127.0.0.1:0',
                                   '--metrics_address=', '--gateway_address=127.0.0.1:0',
                                   `--gateway_publishable_keys=${publishableKey}`,
                                   `--gateway_jwt_hs256_secret=${secret}`, `--gateway_cors_origins=${demoOrigin}`,
                                   '--gateway_user_rate=1000'],
                       {stdio: ['ignore', 'pipe', 'inherit']});
  children.push(herald);
  // The first stdout line names the ports.
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('herald did not start in 60 s')), 60000);
    herald.on('exit', (code) => reject(new Error(`herald exited with ${code}`)));
    readline.createInterface({input: herald.stdout}).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  grpcAddress = `127.0.0.1:${line.match(/gRPC on port (\d+)/)[1]}`;
  gatewayUrl = `http://127.0.0.1:${line.match(/gateway on port (\d+)/)[1]}`;
  await heraldctl('identify', 'alice', '--name=Alice');
  browser = await chromium.launch({executablePath: chromiumPath, args: ['--headless', '--no-sandbox']});
});

after(async () => {
  if (browser) await browser.close();
  if (staticServer) staticServer.close();
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 15000);
        child.on('exit', () => { clearTimeout(timer); resolve(); });
      });
    }
  }
  if (dir) fs.rmSync(dir, {recursive: true, force: true});
});

test('a triggered notification reaches the bell live; read and preferences reach Herald', {timeout: 120000}, async () => {
  const token = (await run(heraldctlBin, ['token', 'alice', `--secret=${secret}`])).stdout.trim();
  const page = await browser.newPage();
  let navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations++; });
  const url = new URL(demoOrigin);
  url.search = new URLSearchParams({gateway: gatewayUrl, key: publishableKey, token, feed: 'main'}).toString();
  await page.goto(url.toString());
  await page.locator('[data-testid="realtime-status"][data-realtime="connected"]').waitFor({timeout: 20000});
  const bell = page.getByRole('button', {name: /^Notifications \(\d+ unread\)$/});
  assert.equal(await bell.getAttribute('data-unread-count'), '0');
  const loaded = navigations;

  await heraldctl('trigger', 'new-comment', '--to=alice', '--data={"author":"Bo","text":"Nice work"}');
  // Live: the badge changes without a reload.
  await page.getByRole('button', {name: 'Notifications (1 unread)'}).waitFor({timeout: 15000});
  assert.equal(navigations, loaded, 'the page was not reloaded');

  await bell.click();
  const popover = page.getByRole('dialog', {name: 'Notifications'});
  await popover.waitFor();
  const item = popover.getByRole('article').first();
  assert.match(await item.locator('.herald-item__block').innerText(), /Bo commented: Nice work/);
  assert.equal(await item.locator('strong').innerText(), 'Bo', 'the markdown is rendered');
  assert.equal(await item.getAttribute('data-read'), 'false');
  await item.getByRole('button', {name: 'Mark as read'}).click();
  await page.getByRole('button', {name: 'Notifications (0 unread)'}).waitFor({timeout: 10000});
  fs.mkdirSync(outputDir, {recursive: true});
  await page.screenshot({path: path.join(outputDir, 'popover.png')});
  // Herald has it read, not only the page.
  let listed;
  const read = await eventually(async () => {
    listed = JSON.parse(await heraldctl('feed', 'list', 'alice'));
    return listed.items.length === 1 && Number(listed.items[0].read_at_ms ?? 0) > 0;
  });
  assert.ok(read, JSON.stringify(listed));
  // Archive: it leaves the feed, in the page and in Herald.
  await item.getByRole('button', {name: 'Archive notification'}).click();
  await popover.getByText('No notifications yet').waitFor({timeout: 10000});
  let archived;
  assert.ok(await eventually(async () => {
    archived = JSON.parse(await heraldctl('feed', 'list', 'alice', '--status=archived'));
    return (archived.items?.length ?? 0) === 1;
  }), JSON.stringify(archived));
  assert.equal(JSON.parse(await heraldctl('feed', 'list', 'alice')).items?.length ?? 0, 0);
  await page.keyboard.press('Escape');
  await popover.waitFor({state: 'hidden'});

  // The preference center follows the loaded workflows; an opt-out saved
  // there is what Herald evaluates.
  const toggle = page.locator('[data-herald-pref="workflows.new-comment.channel_types.in_app_feed"]');
  await toggle.waitFor({timeout: 15000});
  assert.equal(await toggle.isChecked(), true);
  await toggle.uncheck();
  await page.getByRole('button', {name: 'Save preferences'}).click();
  await page.getByRole('status').filter({hasText: 'Preferences saved'}).waitFor({timeout: 10000});
  let explained;
  await eventually(async () => {
    explained = await heraldctl('explain', 'new-comment', '--user=alice', '--channel_type=in_app_feed');
    return JSON.parse(explained).reason === 'preference';
  });
  const decision = JSON.parse(explained);
  assert.equal(decision.reason, 'preference', explained);
  assert.equal(decision.decided_by, 'user:workflows.new-comment.channel_types.in_app_feed', explained);
  await page.screenshot({path: path.join(outputDir, 'preference-center.png'), fullPage: true});
  // Triggered again: Herald records it not sent (the opt-out), and the badge
  // stays put. It goes at once: saving a set drops it from every fan-out
  // worker's cache (README, Preferences), no cache lifetime to wait out.
  await heraldctl('trigger', 'new-comment', '--to=alice', '--data={"author":"Cy","text":"Again"}');
  const deadline = Date.now() + 15000;
  let notSent = '';
  while (Date.now() < deadline) {
    notSent = await heraldctl('messages', 'list', '--recipient=alice', '--status=not_sent');
    if (notSent.includes('preference')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(notSent, /preference/, await heraldctl('messages', 'list', '--recipient=alice'));
  assert.equal(await bell.getAttribute('data-unread-count'), '0');
  assert.equal(JSON.parse(await heraldctl('feed', 'list', 'alice')).items?.length ?? 0, 0);
  assert.equal(navigations, loaded, 'the page was not reloaded');
  await page.close();
});

test('a token for another user cannot read alice\'s feed, and a bad token is refused', {timeout: 30000}, async () => {
  const bobToken = (await run(heraldctlBin, ['token', 'bob', `--secret=${secret}`])).stdout.trim();
  const asBob = await fetch(`${gatewayUrl}/v1/feeds/main/items`, {
    headers: {'X-Herald-Key': publishableKey, 'Authorization': `Bearer ${bobToken}`}});
  assert.equal(asBob.status, 200);
  assert.equal((await asBob.json()).items.length, 0, 'bob sees only his own (empty) feed');
  const forged = bobToken.slice(0, -4) + (bobToken.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const refused = await fetch(`${gatewayUrl}/v1/feeds/main/items`, {
    headers: {'X-Herald-Key': publishableKey, 'Authorization': `Bearer ${forged}`}});
  assert.equal(refused.status, 401);
});
