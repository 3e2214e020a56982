import { errorFromResponse, HeraldError, isAbortError, networkError } from "./errors.js";
import { Feed, type FeedOptions } from "./feed.js";
import type { PreferenceOptions, PreferenceSet } from "./types.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HeraldClientOptions {
  /** The gateway's origin (and path prefix, if it is behind one), e.g. "https://herald.example.com". */
  baseUrl: string;
  /** The environment's publishable key (`--gateway_publishable_keys`). */
  publishableKey: string;
  /** A JWT for the current user, issued by your backend. */
  userToken: string;
  /** Defaults to the global fetch; tests and server rendering pass their own. */
  fetch?: FetchLike;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT";
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") {
    throw new HeraldError({ code: "invalid_argument", message: `${field}: required`, field, status: 0 });
  }
  return value;
}

export class HeraldClient {
  readonly baseUrl: string;
  readonly publishableKey: string;
  private token: string;
  private readonly fetchImpl: FetchLike;
  private readonly feeds = new Set<Feed>();

  constructor(options: HeraldClientOptions) {
    this.baseUrl = requireText(options?.baseUrl, "baseUrl").replace(/\/+$/, "");
    this.publishableKey = requireText(options.publishableKey, "publishableKey");
    this.token = requireText(options.userToken, "userToken");
    const f = options.fetch ?? (typeof fetch === "function" ? fetch.bind(globalThis) : undefined);
    if (!f) throw new HeraldError({ code: "invalid_argument", message: "fetch: none available", field: "fetch", status: 0 });
    this.fetchImpl = f;
  }

  get userToken(): string {
    return this.token;
  }

  /**
   * Replaces the user token (e.g. before the old one expires). Later requests
   * use it; feeds whose realtime connection stopped on 401/403 reconnect with it.
   */
  setUserToken(token: string): void {
    this.token = requireText(token, "userToken");
    for (const feed of this.feeds) feed.onTokenChanged();
  }

  /** A feed of the user (`main` unless a workflow's in_app_feed step names another). */
  feed(name = "main", options: FeedOptions = {}): Feed {
    const feed = new Feed(this, name, options, (f) => this.feeds.delete(f));
    this.feeds.add(feed);
    return feed;
  }

  getPreferenceOptions(options: { signal?: AbortSignal } = {}): Promise<PreferenceOptions> {
    return this.requestJson<Partial<PreferenceOptions>>("/v1/preference_options", { signal: options.signal }).then((body) => ({
      workflows: Array.isArray(body.workflows)
        ? body.workflows.map((w) => ({
            key: String(w.key ?? ""),
            name: String(w.name || w.key || ""),
            categories: Array.isArray(w.categories) ? w.categories.map(String) : [],
            channel_types: Array.isArray(w.channel_types) ? w.channel_types.map(String) : [],
          }))
        : [],
      categories: Array.isArray(body.categories) ? body.categories.map(String) : [],
      channel_types: Array.isArray(body.channel_types) ? body.channel_types.map(String) : [],
    }));
  }

  async getPreferences(options: { tenant?: string; signal?: AbortSignal } = {}): Promise<PreferenceSet> {
    const body = await this.requestJson<{ preferences?: PreferenceSet }>("/v1/preferences", {
      query: { tenant: options.tenant },
      signal: options.signal,
    });
    return body.preferences ?? {};
  }

  async setPreferences(preferences: PreferenceSet, options: { tenant?: string; signal?: AbortSignal } = {}): Promise<PreferenceSet> {
    const body = await this.requestJson<{ preferences?: PreferenceSet }>("/v1/preferences", {
      method: "PUT",
      query: { tenant: options.tenant },
      body: { preferences },
      signal: options.signal,
    });
    return body.preferences ?? {};
  }

  /** The URL of a gateway path with the non-empty query parameters. */
  url(path: string, query: Record<string, string | number | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== "") params.set(key, String(value));
    }
    const text = params.toString();
    return `${this.baseUrl}${path}${text ? `?${text}` : ""}`;
  }

  /** Sends an authenticated request; the raw response (any status). Network failures become HeraldError "network". */
  async send(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: "application/json",
      "X-Herald-Key": this.publishableKey,
      Authorization: `Bearer ${this.token}`,
      ...options.headers,
    };
    const init: RequestInit = { method: options.method ?? "GET", headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    if (options.signal) init.signal = options.signal;
    try {
      return await this.fetchImpl(this.url(path, options.query), init);
    } catch (error) {
      if (isAbortError(error)) throw error;
      throw networkError(error);
    }
  }

  /** Sends a request and parses the JSON answer; non-2xx answers throw HeraldError with the contract's code/message/field. */
  async requestJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(path, options);
    if (!response.ok) throw await errorFromResponse(response);
    try {
      return (await response.json()) as T;
    } catch (error) {
      if (isAbortError(error)) throw error;
      throw new HeraldError({ code: "bad_response", message: "the gateway's answer is not JSON", status: response.status, cause: error });
    }
  }
}
