// The Herald client: one gRPC channel, the API key on every call, a
// deadline per attempt, and retries (see retry.ts) — with users.* and
// workflows.* on top, and call() for any other method of the API.
import {randomUUID} from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type {MethodDefinition} from '@grpc/proto-loader';
import {HeraldError, toHeraldError} from './errors';
import {heraldService} from './proto';
import {backoffMs, BackoffOptions, retryable, retryPolicy, RetryPolicy} from './retry';
import type {HeraldDefinition} from './generated/herald/v1/Herald';
import type {InlineUser} from './generated/herald/v1/InlineUser';
import type {Recipient as ProtoRecipient} from './generated/herald/v1/Recipient';
import type {User__Output} from './generated/herald/v1/User';

export type JsonValue = string | number | boolean | null | JsonValue[] | {[key: string]: JsonValue};
export type JsonObject = {[key: string]: JsonValue};

export interface TlsOptions {
  // PEM: the CA bundle that verifies Herald's certificate (default: the
  // system's roots), and a client certificate and key for mTLS.
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  // The name Herald's certificate must carry, when the address does not
  // (an IP, a port-forward).
  serverName?: string;
}

export interface HeraldOptions {
  // "host:port" of Herald's gRPC API.
  address: string;
  // Sent as `authorization: Bearer <apiKey>` with every call.
  apiKey: string;
  // true: TLS verified against the system's roots; or the CA / client
  // certificate / server name. Default: plaintext.
  tls?: boolean | TlsOptions;
  // Each attempt's deadline in ms, unless a call says otherwise (default 10000).
  defaultDeadlineMs?: number;
  // How many times a failed call is tried again (default 3; 0 = never).
  retries?: number;
  backoff?: BackoffOptions;
  // Extra grpc-js channel options and client interceptors.
  channelOptions?: grpc.ChannelOptions;
  interceptors?: grpc.Interceptor[];
}

export interface CallOptions {
  // This call's deadline per attempt, in ms.
  deadlineMs?: number;
  // Overrides the client's retries for this call.
  retries?: number;
}

// A user's profile: the named fields, and any other key as a custom
// property (stored as the user's properties JSON).
export interface UserProperties {
  name?: string;
  email?: string;
  phoneNumber?: string;
  avatar?: string;
  locale?: string;
  timezone?: string;
  [property: string]: JsonValue | undefined;
}

export interface User {
  id: string;
  name: string;
  email: string;
  phoneNumber: string;
  avatar: string;
  locale: string;
  timezone: string;
  properties: JsonObject;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface ChannelData {
  userId: string;
  channel: string;
  data: JsonObject;
}

// {"channel_types": {...}, "workflows": {...}, "categories": {...}}; see
// Herald's preferences/preferences.h for the shape.
export type PreferenceSet = JsonObject;

export interface Preferences {
  userId: string;
  tenant: string;
  preferences: PreferenceSet;
}

// A recipient of a trigger: a user id; a user given inline ({id, ...}),
// identified atomically with the trigger; or an object ({collection, id}),
// whose subscribers the trigger fans out to. A plain object with a
// `collection` key is an object.
export type Recipient = string | ({id: string} & UserProperties) | {collection: string; id: string};

export interface TriggerOptions {
  recipients: Recipient | Recipient[];
  // The user who caused the event.
  actor?: string;
  // A JSON object, `data` in the templates.
  data?: JsonObject;
  tenant?: string;
  // Later cancel this trigger's pending runs with workflows.cancel(key, cancellationKey).
  cancellationKey?: string;
  // Same key (per workflow, kept 24 hours by Herald) => the same runs and
  // nothing delivered twice. When absent one is generated, so the SDK's own
  // retries reuse it; pass your own to make retries across processes safe.
  idempotencyKey?: string;
}

export interface TriggerResult {
  runs: Array<{recipient: string; workflowRunId: string}>;
  // True when Herald had already accepted this idempotency key: nothing new
  // was written (e.g. a retry after a lost answer).
  duplicate: boolean;
  fanouts: Array<{object: {collection: string; id: string}; fanoutId: string}>;
  // The key the trigger was sent with (yours, or the generated one).
  idempotencyKey: string;
}

type Methods = HeraldDefinition;
// The named methods (grpc.ServiceDefinition's string index signature left out).
export type MethodName = keyof {[K in keyof Methods as string extends K ? never : K]: Methods[K]} & string;
export type RequestOf<M extends MethodName> = Methods[M] extends MethodDefinition<infer Req, any, any, any> ? Req : never;
export type ResponseOf<M extends MethodName> = Methods[M] extends MethodDefinition<any, any, any, infer Res> ? Res : never;

// Methods whose second call has the same effect as the first: retried
// after a deadline or UNAVAILABLE too. Trigger is here because the SDK
// always sends it with an idempotency key; TriggerBatch is not (its
// triggers may have none), nor are ReplayDeadLetters and MergeUsers.
const kIdempotent = new Set<string>([
  'Trigger', 'Cancel', 'ListWorkflows', 'GetWorkflow', 'IdentifyUser', 'GetUser', 'BulkIdentifyUsers', 'DeleteUser',
  'SetChannelData', 'GetChannelData', 'UnsetChannelData', 'IdentifyObject', 'GetObject', 'DeleteObject', 'Subscribe',
  'Unsubscribe', 'ListSubscribers', 'GetObjectFanout', 'IdentifyTenant', 'GetTenant', 'DeleteTenant', 'GetMessage',
  'ListFeed', 'MarkFeedItems', 'SetPreferences', 'GetPreferences', 'ExplainPreferences', 'ListMessages',
  'GetMessageEvents', 'UpdateMessageStatus', 'ListDeadLetters', 'PurgeDeadLetters',
]);

const kProfileFields = ['name', 'email', 'phoneNumber', 'avatar', 'locale', 'timezone'] as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseJsonObject(text: string): JsonObject {
  if (text === '') return {};
  const value = JSON.parse(text) as JsonValue;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

function toInlineUser(id: string, props: UserProperties | undefined): InlineUser {
  const user: InlineUser = {id};
  const custom: JsonObject = {};
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || key === 'id') continue;
    if ((kProfileFields as readonly string[]).includes(key)) {
      (user as Record<string, unknown>)[key] = value;
    } else {
      custom[key] = value;
    }
  }
  if (Object.keys(custom).length > 0) user.propertiesJson = JSON.stringify(custom);
  return user;
}

function toRecipient(recipient: Recipient): ProtoRecipient {
  if (typeof recipient === 'string') return {id: recipient};
  if ('collection' in recipient && typeof recipient.collection === 'string') {
    return {object: {collection: recipient.collection, id: recipient.id}};
  }
  const {id, ...props} = recipient as {id: string} & UserProperties;
  return {user: toInlineUser(id, props)};
}

function fromUser(user: User__Output): User {
  return {
    id: user.id,
    name: user.name,
    email: user.email,
    phoneNumber: user.phoneNumber,
    avatar: user.avatar,
    locale: user.locale,
    timezone: user.timezone,
    properties: parseJsonObject(user.propertiesJson),
    createdAtMs: user.createdAtMs,
    updatedAtMs: user.updatedAtMs,
  };
}

function channelCredentials(tls: HeraldOptions['tls']): grpc.ChannelCredentials {
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure();
  if (tls === true) return grpc.credentials.createSsl();
  const pem = (value: Buffer | string | undefined) => (typeof value === 'string' ? Buffer.from(value) : value) ?? null;
  return grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

export class Herald {
  readonly users: Users;
  readonly workflows: Workflows;

  private readonly client: grpc.Client;
  private readonly service: HeraldDefinition;
  private readonly apiKey: string;
  private readonly defaultDeadlineMs: number;
  private readonly policy: RetryPolicy;
  private readonly backoff: BackoffOptions | undefined;

  constructor(options: HeraldOptions) {
    if (typeof options?.address !== 'string' || options.address === '') throw new TypeError('address: is required');
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('apiKey: is required');
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? 10000;
    if (!(this.defaultDeadlineMs > 0)) throw new RangeError('defaultDeadlineMs: must be > 0');
    this.backoff = options.backoff;
    this.policy = retryPolicy(options.retries, options.backoff);
    this.apiKey = options.apiKey;
    this.service = heraldService();
    const channelOptions: grpc.ChannelOptions = {'grpc.primary_user_agent': 'herald-node/0.1.0', ...options.channelOptions};
    if (typeof options.tls === 'object' && options.tls.serverName) {
      channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
      channelOptions['grpc.default_authority'] = options.tls.serverName;
    }
    this.client = new grpc.Client(options.address, channelCredentials(options.tls), {
      ...channelOptions,
      interceptors: options.interceptors,
    });
    this.users = new Users(this);
    this.workflows = new Workflows(this);
  }

  // Any method of the API (herald.v1.Herald), e.g.
  // call('ListFeed', {userId: 'u1'}), with the same auth, deadline and
  // retries. Requests and responses use the proto's fields in camelCase,
  // JSON fields as strings (dataJson, ...). `idempotent` (default: the
  // method's nature, see kIdempotent) says whether a deadline or
  // UNAVAILABLE may be retried.
  async call<M extends MethodName>(
      method: M, request: RequestOf<M>, options: CallOptions & {idempotent?: boolean} = {}): Promise<ResponseOf<M>> {
    const definition = this.service[method] as unknown as MethodDefinition<RequestOf<M>, unknown, unknown, ResponseOf<M>>;
    const idempotent = options.idempotent ?? kIdempotent.has(method);
    const policy = options.retries === undefined ? this.policy : retryPolicy(options.retries, this.backoff);
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs;
    for (let attempt = 1; ; ++attempt) {
      try {
        return await this.attempt(definition, request, deadlineMs);
      } catch (thrown) {
        const error = toHeraldError(thrown, method).withAttempts(attempt);
        if (attempt > policy.retries || !retryable(error, idempotent)) throw error;
        await sleep(backoffMs(policy, attempt - 1, error));
      }
    }
  }

  // Closes the channel; calls after this fail.
  close(): void {
    this.client.close();
  }

  private attempt<Req, Res>(definition: MethodDefinition<Req, unknown, unknown, Res>, request: Req, deadlineMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${this.apiKey}`);
      this.client.makeUnaryRequest(
          definition.path, definition.requestSerialize, definition.responseDeserialize, request, metadata,
          {deadline: Date.now() + deadlineMs}, (error, response) => {
            if (error) reject(error);
            else resolve(response as Res);
          });
    });
  }
}

export class Users {
  constructor(private readonly herald: Herald) {}

  // Creates or updates user `id`: the profile fields given, every other key
  // a custom property. Returns the stored user.
  async identify(id: string, props: UserProperties = {}, options?: CallOptions): Promise<User> {
    return fromUser(await this.herald.call('IdentifyUser', {user: toInlineUser(id, props)}, options));
  }

  async get(id: string, options?: CallOptions): Promise<User> {
    return fromUser(await this.herald.call('GetUser', {id}, options));
  }

  // The user's data for `channel` (a configured channel's name): push
  // tokens {"tokens": [...]}, chat connections, ...
  async setChannelData(userId: string, channel: string, data: JsonObject, options?: CallOptions): Promise<ChannelData> {
    const stored = await this.herald.call(
        'SetChannelData', {userId, channel, dataJson: JSON.stringify(data)}, options);
    return {userId: stored.userId, channel: stored.channel, data: parseJsonObject(stored.dataJson)};
  }

  // Replaces the user's preference set (for `tenant`, when given); returns
  // it as Herald normalized it.
  async setPreferences(userId: string, preferences: PreferenceSet, options: CallOptions & {tenant?: string} = {}):
      Promise<Preferences> {
    const stored = await this.herald.call(
        'SetPreferences', {userId, tenant: options.tenant ?? '', preferencesJson: JSON.stringify(preferences)}, options);
    return {userId: stored.userId, tenant: stored.tenant, preferences: parseJsonObject(stored.preferencesJson)};
  }

  // The user's preference set ({} when none is stored).
  async getPreferences(userId: string, options: CallOptions & {tenant?: string} = {}): Promise<Preferences> {
    const stored = await this.herald.call('GetPreferences', {userId, tenant: options.tenant ?? ''}, options);
    return {userId: stored.userId, tenant: stored.tenant, preferences: parseJsonObject(stored.preferencesJson)};
  }
}

export class Workflows {
  constructor(private readonly herald: Herald) {}

  // Runs workflow `key` for each recipient. Retried (deadline, UNAVAILABLE,
  // rate limit) with the same idempotency key, so a retry of a trigger
  // that got through is answered `duplicate` and delivers nothing twice.
  async trigger(key: string, options: TriggerOptions & CallOptions): Promise<TriggerResult> {
    const recipients = Array.isArray(options.recipients) ? options.recipients : [options.recipients];
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const response = await this.herald.call('Trigger', {
      workflow: key,
      recipients: recipients.map(toRecipient),
      actor: options.actor ?? '',
      dataJson: options.data === undefined ? '' : JSON.stringify(options.data),
      tenant: options.tenant ?? '',
      cancellationKey: options.cancellationKey ?? '',
      idempotencyKey,
    }, options);
    return {
      runs: response.runs.map((run) => ({recipient: run.recipient, workflowRunId: run.workflowRunId})),
      duplicate: response.duplicate,
      fanouts: response.fanouts.map((fanout) => ({
        object: {collection: fanout.object?.collection ?? '', id: fanout.object?.id ?? ''},
        fanoutId: fanout.fanoutId,
      })),
      idempotencyKey,
    };
  }

  // Cancels the pending runs (waiting in a delay or batch) of workflow `key`
  // triggered with `cancellationKey`: of the listed recipients, or of every
  // one. Runs still on their way are stopped when they arrive. Returns how
  // many waiting runs this call removed.
  async cancel(key: string, cancellationKey: string, options: CallOptions & {recipients?: string[]} = {}):
      Promise<{cancelledRuns: number}> {
    const response = await this.herald.call(
        'Cancel', {workflow: key, cancellationKey, recipients: options.recipients ?? []}, options);
    return {cancelledRuns: response.cancelledRuns};
  }
}

export {HeraldError};
