import { backoffDelay, type BackoffOptions } from "./backoff.js";
import type { HeraldClient } from "./client.js";
import { errorFromResponse, HeraldError, isAbortError } from "./errors.js";
import { readEventStream, type EventSourceMessage } from "./sse.js";
import { actionFromEnum, addCounts, applyAction, countsAfterMarkAll, countsDelta, matchesStatus, sumDeltas } from "./state.js";
import {
  FEED_ACTIONS,
  parseCounts,
  parseFeedItem,
  type FeedAction,
  type FeedCounts,
  type FeedItem,
  type FeedStatus,
  type WireCounts,
  type WireFeedItem,
} from "./types.js";

export interface FeedOptions {
  /** Only this tenant's items and counts. */
  tenant?: string;
  /** Which items the list holds (default "all": every item not archived). */
  status?: FeedStatus;
  /** 1–100 (the gateway's default is 20). */
  pageSize?: number;
  /** Backoff of the realtime reconnects. */
  reconnect?: BackoffOptions;
}

export type RealtimeStatus = "disconnected" | "connecting" | "connected" | "reconnecting" | "failed";

export interface FeedState {
  items: FeedItem[];
  counts: FeedCounts;
  /** The first page is being fetched. */
  loading: boolean;
  /** A first page has arrived at least once. */
  loaded: boolean;
  loadingMore: boolean;
  hasNextPage: boolean;
  /** The last failed list or mark request (cleared by the next success). */
  error: HeraldError | null;
  realtime: RealtimeStatus;
  /** Why the realtime connection is failing (401/403 stop it: `realtime` is then "failed"). */
  realtimeError: HeraldError | null;
}

export type FeedListener = (state: FeedState) => void;

const STATUSES: readonly FeedStatus[] = ["all", "unread", "unseen", "read", "archived"];

interface ListResponse {
  items?: WireFeedItem[];
  next_cursor?: string;
  metadata?: WireCounts;
  /** Where the feed's changes stood when the page was read (HTTP_API.md). */
  watch_cursor?: string;
}

interface MarkResponse {
  changed?: string;
  metadata?: WireCounts;
}

function invalid(field: string, message: string): HeraldError {
  return new HeraldError({ code: "invalid_argument", message: `${field}: ${message}`, field, status: 0 });
}

function toHeraldError(error: unknown): HeraldError {
  if (error instanceof HeraldError) return error;
  return new HeraldError({ code: "network", message: error instanceof Error ? error.message : String(error), status: 0, cause: error });
}

/**
 * One feed of the signed-in user: its items (paginated), its counts, marks
 * with optimistic updates, and a realtime connection (Server-Sent Events over
 * fetch) that keeps both current. Create it with `client.feed(name)`.
 */
export class Feed {
  readonly name: string;
  readonly tenant: string;
  readonly status: FeedStatus;
  readonly pageSize: number | undefined;

  private state: FeedState = {
    items: [],
    counts: { unseen_count: 0, unread_count: 0, total_count: 0 },
    loading: false,
    loaded: false,
    loadingMore: false,
    hasNextPage: false,
    error: null,
    realtime: "disconnected",
    realtimeError: null,
  };
  private readonly listeners = new Set<FeedListener>();
  private readonly controllers = new Set<AbortController>();
  private cursor = "";
  private listController: AbortController | null = null;
  private listGeneration = 0;
  // Bumped whenever the counts come from the gateway, so a rollback knows
  // whether its optimistic delta is still in them.
  private countsVersion = 0;
  private lastEventId: string | undefined;
  // The first page's watch cursor: a stream opened without a last event
  // starts there, so nothing between the list and the stream is missed.
  private listWatchCursor: string | undefined;
  private realtimeController: AbortController | null = null;
  private wantRealtime = false;
  private disposed = false;

  constructor(
    private readonly client: HeraldClient,
    name: string,
    private readonly options: FeedOptions,
    private readonly onDispose: (feed: Feed) => void,
  ) {
    if (typeof name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(name)) throw invalid("feed", "a feed name (letters, digits, '_', '.', '-')");
    const status = options.status ?? "all";
    if (!STATUSES.includes(status)) throw invalid("status", `one of ${STATUSES.join(", ")}`);
    if (options.pageSize !== undefined && (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > 100)) {
      throw invalid("pageSize", "an integer from 1 to 100");
    }
    this.name = name;
    this.tenant = options.tenant ?? "";
    this.status = status;
    this.pageSize = options.pageSize;
  }

  getState(): FeedState {
    return this.state;
  }

  /** Calls `listener` with every new state; returns the unsubscribe function. */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Fetches the first page (again), replacing the items; the counts come along. */
  async fetch(): Promise<void> {
    if (this.disposed) return;
    this.listController?.abort();
    const controller = this.track(new AbortController());
    this.listController = controller;
    const generation = ++this.listGeneration;
    this.set({ loading: true, loadingMore: false });
    try {
      const body = await this.list("", controller.signal);
      if (generation !== this.listGeneration) return;
      this.cursor = body.next_cursor ?? "";
      this.listWatchCursor = body.watch_cursor || undefined;
      this.countsVersion++;
      this.set({
        items: (body.items ?? []).map(parseFeedItem),
        counts: parseCounts(body.metadata),
        loading: false,
        loaded: true,
        hasNextPage: this.cursor !== "",
        error: null,
      });
    } catch (error) {
      if (isAbortError(error) || generation !== this.listGeneration) return;
      const heraldError = toHeraldError(error);
      this.set({ loading: false, error: heraldError });
      throw heraldError;
    } finally {
      this.untrack(controller);
      if (this.listController === controller) this.listController = null;
    }
  }

  /** Appends the next page; does nothing when there is none or one is in flight. */
  async fetchNextPage(): Promise<void> {
    if (this.disposed || !this.cursor || this.state.loadingMore || this.state.loading) return;
    const controller = this.track(new AbortController());
    const generation = this.listGeneration;
    this.set({ loadingMore: true });
    try {
      const body = await this.list(this.cursor, controller.signal);
      if (generation !== this.listGeneration) return;
      this.cursor = body.next_cursor ?? "";
      const known = new Set(this.state.items.map((item) => item.id));
      const more = (body.items ?? []).map(parseFeedItem).filter((item) => !known.has(item.id));
      this.countsVersion++;
      this.set({
        items: [...this.state.items, ...more],
        counts: parseCounts(body.metadata),
        loadingMore: false,
        hasNextPage: this.cursor !== "",
        error: null,
      });
    } catch (error) {
      if (isAbortError(error) || generation !== this.listGeneration) return;
      const heraldError = toHeraldError(error);
      this.set({ loadingMore: false, error: heraldError });
      throw heraldError;
    } finally {
      this.untrack(controller);
    }
  }

  /**
   * Marks items (e.g. "read", "archived"). The list and counts change at once
   * and are put back if the gateway refuses; the promise then rejects with
   * the HeraldError.
   */
  async markAs(action: FeedAction, ids: string[]): Promise<void> {
    this.checkAction(action);
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== "string" || id === "")) {
      throw invalid("ids", "one or more item ids");
    }
    if (this.disposed) return;
    const wanted = new Set(ids);
    const now = Date.now();
    let delta: FeedCounts = { unseen_count: 0, unread_count: 0, total_count: 0 };
    const items = this.state.items.map((item) => {
      if (!wanted.has(item.id)) return item;
      const next = applyAction(item, action, now);
      delta = sumDeltas(delta, countsDelta(item, next));
      return next;
    });
    const snapshot = this.state.items;
    const version = this.countsVersion;
    this.set({ items: this.keepInList(items), counts: addCounts(this.state.counts, delta) });
    try {
      const body = await this.mark("/items/mark", { action, ids, tenant: this.tenant });
      this.acceptMarkCounts(body);
    } catch (error) {
      if (isAbortError(error)) return;
      const heraldError = toHeraldError(error);
      this.set({
        items: this.rollbackItems(snapshot, wanted),
        counts: version === this.countsVersion ? addCounts(this.state.counts, delta, -1) : this.state.counts,
        error: heraldError,
      });
      throw heraldError;
    }
  }

  /** Marks every item of the feed (in its tenant scope), optimistically like markAs. */
  async markAllAs(action: FeedAction): Promise<void> {
    this.checkAction(action);
    if (this.disposed) return;
    const now = Date.now();
    const snapshot = this.state.items;
    const snapshotCounts = this.state.counts;
    const version = this.countsVersion;
    this.set({
      items: this.keepInList(snapshot.map((item) => applyAction(item, action, now))),
      counts: countsAfterMarkAll(snapshotCounts, action),
    });
    try {
      const body = await this.mark("/items/mark_all", { action, tenant: this.tenant });
      this.acceptMarkCounts(body);
    } catch (error) {
      if (isAbortError(error)) return;
      const heraldError = toHeraldError(error);
      this.set({
        items: this.rollbackItems(snapshot, null),
        counts: version === this.countsVersion ? snapshotCounts : this.state.counts,
        error: heraldError,
      });
      throw heraldError;
    }
  }

  /** Opens the realtime connection (idempotent); it reconnects by itself until disconnect() or dispose(). */
  connect(): void {
    if (this.disposed) return;
    this.wantRealtime = true;
    if (this.realtimeController) return;
    const controller = this.track(new AbortController());
    this.realtimeController = controller;
    void this.runRealtime(controller).finally(() => {
      this.untrack(controller);
      if (this.realtimeController === controller) this.realtimeController = null;
    });
  }

  /** Closes the realtime connection; a later connect() resumes after the last event received. */
  disconnect(): void {
    this.wantRealtime = false;
    this.realtimeController?.abort();
    this.realtimeController = null;
    if (!this.disposed) this.set({ realtime: "disconnected" });
  }

  /** Aborts every request and the connection, and drops the listeners. The feed is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.wantRealtime = false;
    this.set({ realtime: "disconnected", loading: false, loadingMore: false });
    this.disposed = true;
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
    this.realtimeController = null;
    this.listeners.clear();
    this.onDispose(this);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal HeraldClient.setUserToken: a connection stopped by 401/403 may work with the new token. */
  onTokenChanged(): void {
    if (this.wantRealtime && this.state.realtime === "failed" && !this.realtimeController) this.connect();
  }

  // ---- internals ----

  private set(patch: Partial<FeedState>): void {
    if (this.disposed) return;
    this.state = { ...this.state, ...patch };
    for (const listener of [...this.listeners]) listener(this.state);
  }

  private track(controller: AbortController): AbortController {
    this.controllers.add(controller);
    return controller;
  }

  private untrack(controller: AbortController): void {
    this.controllers.delete(controller);
  }

  private checkAction(action: FeedAction): void {
    if (!FEED_ACTIONS.includes(action)) throw invalid("action", `one of ${FEED_ACTIONS.join(", ")}`);
  }

  private path(suffix: string): string {
    return `/v1/feeds/${encodeURIComponent(this.name)}${suffix}`;
  }

  private list(after: string, signal: AbortSignal): Promise<ListResponse> {
    return this.client.requestJson<ListResponse>(this.path("/items"), {
      query: { status: this.status === "all" ? undefined : this.status, page_size: this.pageSize, after, tenant: this.tenant },
      signal,
    });
  }

  private async mark(suffix: string, body: Record<string, unknown>): Promise<MarkResponse> {
    const controller = this.track(new AbortController());
    try {
      return await this.client.requestJson<MarkResponse>(this.path(suffix), { method: "POST", body, signal: controller.signal });
    } finally {
      this.untrack(controller);
    }
  }

  // While the stream is open its `marked` event brings the counts in order
  // with the other events; the HTTP answer may be older than an item event
  // that overtook it, so it is used only without a stream.
  private acceptMarkCounts(body: MarkResponse): void {
    if (this.state.realtime === "connected" || !body.metadata) {
      this.set({ error: null });
      return;
    }
    this.countsVersion++;
    this.set({ counts: parseCounts(body.metadata), error: null });
  }

  // Archiving takes an item out of the non-archived lists (and unarchiving
  // out of the archived one); the other marks leave items where they are so
  // nothing moves under the reader's pointer.
  private keepInList(items: FeedItem[]): FeedItem[] {
    return items.filter((item) => (this.status === "archived" ? item.archived_at_ms > 0 : !item.archived_at_ms));
  }

  // The list as before a failed mark: items that arrived meanwhile stay in
  // front, marked items (`ids`, or all when null) get their old state back,
  // the others keep whatever happened to them since.
  private rollbackItems(snapshot: FeedItem[], ids: Set<string> | null): FeedItem[] {
    const current = new Map(this.state.items.map((item) => [item.id, item]));
    const before = new Set(snapshot.map((item) => item.id));
    const arrived = this.state.items.filter((item) => !before.has(item.id));
    const restored: FeedItem[] = [];
    for (const item of snapshot) {
      if (ids === null || ids.has(item.id)) restored.push(item);
      else {
        const now = current.get(item.id);
        if (now) restored.push(now);
      }
    }
    return [...arrived, ...restored];
  }

  private async runRealtime(controller: AbortController): Promise<void> {
    const signal = controller.signal;
    let attempt = 0;
    while (!signal.aborted) {
      this.set({ realtime: this.state.realtime === "connected" || this.state.realtime === "reconnecting" ? "reconnecting" : "connecting" });
      const connection = this.track(new AbortController());
      const stop = () => connection.abort();
      signal.addEventListener("abort", stop);
      // After the last event received, else after the page listed.
      const after = this.lastEventId ?? this.listWatchCursor;
      let reset = false;
      let retryAfterMs = 0;
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream" };
        if (after !== undefined) headers["Last-Event-ID"] = after;
        const response = await this.client.send(this.path("/stream"), {
          query: { tenant: this.tenant },
          headers,
          signal: connection.signal,
        });
        if (!response.ok) {
          const error = await errorFromResponse(response);
          if (error.isAuthError) {
            // Retrying with the same token cannot succeed: stop until
            // setUserToken() (which reconnects) or connect().
            this.set({ realtime: "failed", realtimeError: error });
            return;
          }
          retryAfterMs = error.retryAfterMs ?? 0;
          throw error;
        }
        if (!response.body) {
          throw new HeraldError({ code: "bad_response", message: "the stream has no body", status: response.status });
        }
        this.set({ realtime: "connected", realtimeError: null });
        await readEventStream(
          response.body,
          {
            onEvent: (event) => {
              if (event.event === "reset") {
                reset = true;
                connection.abort();
                return;
              }
              attempt = 0;
              if (event.id !== undefined) this.lastEventId = event.id;
              this.applyStreamEvent(event);
            },
            onComment: () => {
              attempt = 0;
            },
          },
          connection.signal,
        );
        // The gateway closed the stream (restart, deploy): reconnect below.
      } catch (error) {
        if (signal.aborted) return;
        if (!reset) this.set({ realtimeError: toHeraldError(error) });
      } finally {
        signal.removeEventListener("abort", stop);
        this.untrack(connection);
      }
      if (signal.aborted) return;
      if (reset) {
        // The cursor is too old to resume: list the feed again, then stream
        // from that list's watch cursor. Resets in a row (nothing else
        // arrived between them) back off like errors instead of looping.
        this.lastEventId = undefined;
        this.listWatchCursor = undefined;
        if (attempt > 0 && !(await sleep(backoffDelay(attempt, this.options.reconnect), signal))) return;
        attempt++;
        await this.fetch().catch(() => undefined);
        continue;
      }
      const delay = Math.max(retryAfterMs, backoffDelay(attempt, this.options.reconnect));
      attempt++;
      this.set({ realtime: "reconnecting" });
      if (!(await sleep(delay, signal))) return;
    }
  }

  private applyStreamEvent(event: EventSourceMessage): void {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(event.data) as Record<string, unknown>;
    } catch {
      return; // Not the contract's JSON: nothing to apply.
    }
    if (typeof data !== "object" || data === null) return;
    const patch: Partial<FeedState> = {};
    if (data.metadata && typeof data.metadata === "object") {
      this.countsVersion++;
      patch.counts = parseCounts(data.metadata as WireCounts);
    }
    if (event.event === "item" && data.item && typeof data.item === "object") {
      const item = parseFeedItem(data.item as WireFeedItem);
      if (!item.id) return;
      const index = this.state.items.findIndex((existing) => existing.id === item.id);
      if (index >= 0) {
        // Already listed (the page fetch and the stream overlapped): no duplicate.
        const items = [...this.state.items];
        items[index] = item;
        patch.items = items;
      } else if (matchesStatus(item, this.status)) {
        patch.items = [item, ...this.state.items];
      }
    } else if (event.event === "marked" && data.items_marked && typeof data.items_marked === "object") {
      const marked = data.items_marked as { action?: unknown; ids?: unknown; all?: unknown; tenant?: unknown; at_ms?: unknown };
      const action = actionFromEnum(marked.action);
      if (action) {
        const at = Number(marked.at_ms) || Date.now();
        const ids = new Set(Array.isArray(marked.ids) ? marked.ids.map(String) : []);
        const tenant = typeof marked.tenant === "string" ? marked.tenant : "";
        const hits = (item: FeedItem) =>
          marked.all === true
            ? // "All" covers the items that existed when it ran, in its scope.
              (!item.inserted_at_ms || item.inserted_at_ms <= at) && (!tenant || item.tenant === tenant)
            : ids.has(item.id);
        patch.items = this.keepInList(this.state.items.map((item) => (hits(item) ? applyAction(item, action, at) : item)));
      }
    } else if (event.event !== "counts") {
      return; // An event this client does not know: ignore it (forward compatible).
    }
    this.set(patch);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
