// A real Herald for the SDK's tests: redis-server on a unix socket in a
// temp folder, then the herald binary ($HERALD_BIN, else build/runtime/herald
// of the repository) with an API key and the test workflows. Each start and
// stop is bounded in time; stop() ends exactly the processes started here.
import {ChildProcess, spawn, spawnSync} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const kStartTimeoutMs = 20000;
const kStopTimeoutMs = 10000;

export const kWorkflows: Record<string, string> = {
  'notify.yaml': `key: notify
steps:
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ data.text }} for {{ recipient.name }}"
`,
  'delayed.yaml': `key: delayed
steps:
  - {ref: wait, type: delay, duration: 2s}
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "delayed {{ data.text }}"
`,
  // Never triggered: it makes "apns" a channel that users have data for.
  'mobile.yaml': `key: mobile
steps:
  - ref: push
    type: channel
    channel_type: push
    channel: apns
    template: {title: "New", body: "{{ data.text }}"}
`,
};

function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..', '..');  // clients/node/test-build/support -> repo
}

export function heraldBinary(): string {
  return process.env.HERALD_BIN ?? path.join(repoRoot(), 'build', 'runtime', 'herald');
}

// Polls `check` every 20 ms until it returns a value other than undefined;
// rejects with `what` after `timeoutMs`.
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function redisPing(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = net.createConnection(socket);
    let answer = '';
    connection.setTimeout(500, () => connection.destroy());
    connection.on('connect', () => connection.write('PING\r\n'));
    connection.on('data', (data) => {
      answer += data.toString();
      if (answer.includes('\r\n')) connection.end();
    });
    connection.on('close', () => resolve(answer.startsWith('+PONG')));
    connection.on('error', () => resolve(false));
  });
}

// Resolves with the child's exit, or false when it still runs at `timeoutMs`.
function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');  // a test may have frozen it
  child.kill('SIGTERM');
  if (!(await exited(child, kStopTimeoutMs))) {
    child.kill('SIGKILL');
    await exited(child, kStopTimeoutMs);
  }
}

// Herald's environment without the test's HERALD_* variables (ctest's
// HERALD_BIN would be warned about as an unknown setting).
function heraldEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HERALD_')) env[key] = value;
  return env;
}

export class HeraldProcess {
  port = 0;
  private log = '';

  private constructor(readonly child: ChildProcess) {}

  // Starts `herald args...` and waits for its first stdout line, which
  // names the gRPC port ("..., gRPC on port N, ...").
  static async start(args: string[]): Promise<HeraldProcess> {
    const child = spawn(heraldBinary(), args, {env: heraldEnv(), stdio: ['ignore', 'pipe', 'pipe']});
    const herald = new HeraldProcess(child);
    child.stderr!.on('data', (data) => (herald.log += data.toString()));
    let stdout = '';
    herald.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`herald did not print its port within ${kStartTimeoutMs} ms:\n${herald.log}`)),
          kStartTimeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`herald could not start (${heraldBinary()}): ${error.message}`));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`herald exited (${code ?? signal}) before it was ready:\n${herald.log}`));
      });
      child.stdout!.on('data', (data) => {
        stdout += data.toString();
        const line = stdout.split('\n');
        if (line.length < 2) return;
        clearTimeout(timer);
        const match = /gRPC on port (\d+)/.exec(line[0]);
        if (match) resolve(Number(match[1]));
        else reject(new Error(`unexpected first line of herald: ${line[0]}`));
      });
    }).catch(async (error) => {
      await stopChild(child);
      throw error;
    });
    return herald;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.log;
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

// Redis and `herald all`, with one API key.
export class TestHerald {
  readonly apiKey = 'hk_test_' + randomBytes(16).toString('hex');
  readonly dir: string;
  readonly redisSocket: string;
  herald: HeraldProcess | undefined;
  private redis: ChildProcess | undefined;
  private readonly extra: HeraldProcess[] = [];

  private constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-node-sdk-'));
    this.redisSocket = path.join(this.dir, 'redis.sock');
  }

  static async start(): Promise<TestHerald> {
    const server = new TestHerald();
    try {
      await server.startRedis();
      const workflows = path.join(server.dir, 'workflows');
      fs.mkdirSync(workflows);
      for (const [name, text] of Object.entries(kWorkflows)) fs.writeFileSync(path.join(workflows, name), text);
      server.herald = await HeraldProcess.start(['all', ...server.commonArgs()]);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get address(): string {
    return this.herald!.address;
  }

  // The flags every Herald of this server shares: its Redis, workflows and key.
  commonArgs(): string[] {
    const hash = createHash('sha256').update(this.apiKey).digest('hex');
    return [
      `--redis=unix://${this.redisSocket}`, `--workflows=${path.join(this.dir, 'workflows')}`,
      '--grpc_address=127.0.0.1:0', '--metrics_address=', `--api_keys=${hash}`,
    ];
  }

  // Another Herald on the same Redis (e.g. an `api` replica with a rate
  // limit); stopped with the rest.
  async startReplica(args: string[]): Promise<HeraldProcess> {
    const replica = await HeraldProcess.start([...args, ...this.commonArgs()]);
    this.extra.push(replica);
    return replica;
  }

  private async startRedis(): Promise<void> {
    const which = spawnSync('sh', ['-c', 'command -v redis-server']);
    if (which.status !== 0) throw new Error('redis-server not found (scripts/install-deps installs it)');
    this.redis = spawn('redis-server',
        ['--port', '0', '--unixsocket', this.redisSocket, '--dir', this.dir, '--save', '', '--appendonly', 'no'],
        {stdio: 'ignore'});
    await eventually('redis-server answers PING', kStartTimeoutMs,
        async () => (fs.existsSync(this.redisSocket) && (await redisPing(this.redisSocket)) ? true : undefined));
  }

  async stop(): Promise<void> {
    for (const replica of this.extra) await replica.stop();
    await this.herald?.stop();
    await stopChild(this.redis);
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

// A CA and a server certificate it issued for `serverName` (P-256, made by
// the openssl CLI as security/testing/test_pki.cc does): files in `dir`.
export function makeServerCertificate(dir: string, serverName: string): {ca: string; cert: string; key: string} {
  const config = path.join(dir, 'pki.cnf');
  fs.writeFileSync(config, [
    '[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', 'CN = placeholder',
    '[leaf]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth', `subjectAltName = DNS:${serverName}`,
    '[ca]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', '',
  ].join('\n'));
  const files = {ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key')};
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];
  const run = (args: string[]) => {
    const result = spawnSync('openssl', args, {encoding: 'utf8', timeout: kStartTimeoutMs});
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr ?? result.error}`);
  };
  run(['req', '-x509', '-config', config, '-extensions', 'ca', ...newKey, '-subj', '/CN=Herald SDK test CA',
    '-keyout', path.join(dir, 'ca.key'), '-out', files.ca]);
  run(['req', '-x509', '-config', config, '-extensions', 'leaf', '-CA', files.ca, '-CAkey', path.join(dir, 'ca.key'),
    ...newKey, '-subj', `/CN=${serverName}`, '-keyout', files.key, '-out', files.cert]);
  return files;
}
