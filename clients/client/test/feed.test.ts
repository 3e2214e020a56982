import { afterEach, describe, expect, it, vi } from "vitest";
import { backoffDelay, HeraldClient, HeraldError, type Feed, type FeedState } from "../src/index.js";
import { deferred, errorBody, FakeGateway, json, wireCounts, wireItem } from "./fake-gateway.js";

const BASE = "http://gateway.test";

function setup(options: { pageSize?: number; tenant?: string } = {}) {
  const gateway = new FakeGateway();
  const client = new HeraldClient({ baseUrl: `${BASE}/`, publishableKey: "pk_test", userToken: "token-1", fetch: gateway.fetch });
  // Tiny, jitter-free backoff keeps real-time tests fast; the schedule itself
  // is tested with fake timers below.
  const feed = client.feed("main", { ...options, reconnect: { initialDelayMs: 2, maxDelayMs: 8, random: () => 0 } });
  return { gateway, client, feed };
}

function listResponse(
  items: Record<string, unknown>[],
  counts = wireCounts(items.length, items.length, items.length),
  nextCursor = "",
  watchCursor?: string,
) {
  return json(200, { items, next_cursor: nextCursor, metadata: counts, watch_cursor: watchCursor });
}

let feeds: Feed[] = [];
afterEach(() => {
  for (const feed of feeds) feed.dispose();
  feeds = [];
  vi.useRealTimers();
});

function track<T extends { feed: Feed }>(value: T): T {
  feeds.push(value.feed);
  return value;
}

describe("HeraldClient requests", () => {
  it("sends the key, the bearer token and the query, and parses items and counts into numbers", async () => {
    const { gateway, feed } = track(setup({ pageSize: 5, tenant: "acme" }));
    const item = wireItem({ inserted_at_ms: "1795834663333" });
    gateway.on("GET", /\/v1\/feeds\/main\/items$/, () => listResponse([item], wireCounts(1, 2, 3), "cur-2"));
    await feed.fetch();
    const request = gateway.requests[0]!;
    expect(request.headers["x-herald-key"]).toBe("pk_test");
    expect(request.headers["authorization"]).toBe("Bearer token-1");
    expect(request.url.searchParams.get("page_size")).toBe("5");
    expect(request.url.searchParams.get("tenant")).toBe("acme");
    expect(request.url.searchParams.has("after")).toBe(false);
    const state = feed.getState();
    expect(state.items[0]!.inserted_at_ms).toBe(1795834663333);
    expect(state.counts).toEqual({ unseen_count: 1, unread_count: 2, total_count: 3 });
    expect(state.hasNextPage).toBe(true);
  });

  it("turns the contract's error body into a HeraldError with code, message and field", async () => {
    const { gateway, feed } = track(setup());
    gateway.on("GET", /items$/, () => errorBody(400, "invalid_argument", "page_size: must be 1 to 100", "page_size"));
    const error = await feed.fetch().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({ status: 400, code: "invalid_argument", field: "page_size", message: "page_size: must be 1 to 100" });
    expect(feed.getState().error).toBe(error);
  });

  it("maps a non-JSON error page by status, and a failed fetch to code network", async () => {
    const { gateway, feed } = track(setup());
    gateway.on("GET", /items$/, () => new Response("<html>bad gateway</html>", { status: 503 }));
    await expect(feed.fetch()).rejects.toMatchObject({ code: "unavailable", status: 503 });
    gateway.on("GET", /items$/, () => Promise.reject(new TypeError("Failed to fetch")));
    await expect(feed.fetch()).rejects.toMatchObject({ code: "network", status: 0 });
  });

  it("refuses bad options naming the field", () => {
    const gateway = new FakeGateway();
    expect(() => new HeraldClient({ baseUrl: "", publishableKey: "k", userToken: "t", fetch: gateway.fetch })).toThrow(/baseUrl/);
    const client = new HeraldClient({ baseUrl: BASE, publishableKey: "k", userToken: "t", fetch: gateway.fetch });
    expect(() => client.feed("main", { pageSize: 101 })).toThrow(expect.objectContaining({ field: "pageSize" }));
    expect(() => client.feed("a/b")).toThrow(expect.objectContaining({ field: "feed" }));
  });

  it("fetchNextPage passes the cursor and appends without duplicates", async () => {
    const { gateway, feed } = track(setup());
    const a = wireItem();
    const b = wireItem();
    const c = wireItem();
    gateway.on("GET", /items$/, (r) =>
      r.url.searchParams.get("after") === "cur-2" ? listResponse([b, c], wireCounts(3, 3, 3)) : listResponse([a, b], wireCounts(3, 3, 3), "cur-2"),
    );
    await feed.fetch();
    await feed.fetchNextPage();
    expect(feed.getState().items.map((i) => i.id)).toEqual([a.id, b.id, c.id]);
    expect(feed.getState().hasNextPage).toBe(false);
    const before = gateway.requests.length;
    await feed.fetchNextPage(); // no cursor left: no request
    expect(gateway.requests.length).toBe(before);
  });
});

describe("optimistic marks", () => {
  it("applies a mark at once and rolls it back when the gateway refuses", async () => {
    const { gateway, feed } = track(setup());
    const a = wireItem();
    const b = wireItem();
    gateway.on("GET", /items$/, () => listResponse([a, b], wireCounts(2, 2, 2)));
    await feed.fetch();
    const answer = deferred<Response>();
    gateway.on("POST", /items\/mark$/, () => answer.promise);
    const marking = feed.markAs("read", [a.id as string]);
    // Optimistic: read (and so seen) now, counts down by one.
    expect(feed.getState().items[0]!.read_at_ms).toBeGreaterThan(0);
    expect(feed.getState().counts).toEqual({ unseen_count: 1, unread_count: 1, total_count: 2 });
    expect(gateway.requestsTo(/mark$/, "POST")[0]!.body).toEqual({ action: "read", ids: [a.id], tenant: "" });
    answer.resolve(errorBody(404, "not_found", `ids: ${String(a.id)} is not in this feed`, "ids"));
    await expect(marking).rejects.toMatchObject({ code: "not_found", field: "ids" });
    const state = feed.getState();
    expect(state.items[0]!.read_at_ms).toBe(0);
    expect(state.items[0]!.seen_at_ms).toBe(0);
    expect(state.counts).toEqual({ unseen_count: 2, unread_count: 2, total_count: 2 });
    expect(state.error?.code).toBe("not_found");
  });

  it("archiving removes the item, and a refusal puts it back in its place", async () => {
    const { gateway, feed } = track(setup());
    const items = [wireItem(), wireItem(), wireItem()];
    gateway.on("GET", /items$/, () => listResponse(items));
    await feed.fetch();
    const answer = deferred<Response>();
    gateway.on("POST", /items\/mark$/, () => answer.promise);
    const marking = feed.markAs("archived", [items[1]!.id as string]);
    expect(feed.getState().items.map((i) => i.id)).toEqual([items[0]!.id, items[2]!.id]);
    expect(feed.getState().counts.total_count).toBe(2);
    answer.resolve(errorBody(503, "unavailable", "try again"));
    await expect(marking).rejects.toBeInstanceOf(HeraldError);
    expect(feed.getState().items.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(feed.getState().counts.total_count).toBe(3);
  });

  it("markAllAs zeroes the counts, keeps them on success and restores them on failure", async () => {
    const { gateway, feed } = track(setup());
    gateway.on("GET", /items$/, () => listResponse([wireItem(), wireItem()], wireCounts(5, 7, 9)));
    await feed.fetch();
    gateway.on("POST", /mark_all$/, () => json(200, { changed: "7", metadata: wireCounts(0, 0, 9) }));
    await feed.markAllAs("read");
    expect(feed.getState().counts).toEqual({ unseen_count: 0, unread_count: 0, total_count: 9 });
    expect(feed.getState().items.every((i) => i.read_at_ms > 0)).toBe(true);

    await feed.markAllAs("unread").catch(() => undefined); // mark_all still answers 200
    gateway.on("POST", /mark_all$/, () => errorBody(429, "rate_limited", "slow down", undefined, { "Retry-After": "2" }));
    const before = feed.getState();
    const error = await feed.markAllAs("read").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "rate_limited", retryAfterMs: 2000 });
    expect(feed.getState().counts).toEqual(before.counts);
    expect(feed.getState().items.map((i) => i.read_at_ms)).toEqual(before.items.map((i) => i.read_at_ms));
  });
});

describe("realtime", () => {
  it("applies item, marked and counts events, without duplicating a listed item", async () => {
    const { gateway, feed } = track(setup());
    const listed = wireItem();
    gateway.on("GET", /items$/, () => listResponse([listed], wireCounts(1, 1, 1)));
    await feed.fetch();
    feed.connect();
    await vi.waitFor(() => expect(feed.getState().realtime).toBe("connected"));
    const stream = gateway.lastStream;
    expect(stream.request.headers["accept"]).toBe("text/event-stream");
    expect(stream.request.headers["last-event-id"]).toBeUndefined();

    stream.event("counts", { metadata: wireCounts(1, 1, 1) }, "c0");
    const fresh = wireItem();
    stream.event("item", { item: fresh, metadata: wireCounts(2, 2, 2) }, "c1");
    stream.event("item", { item: listed, metadata: wireCounts(2, 2, 2) }, "c2");
    await vi.waitFor(() => expect(feed.getState().counts.unread_count).toBe(2));
    expect(feed.getState().items.map((i) => i.id)).toEqual([fresh.id, listed.id]);

    stream.event("marked", { items_marked: { action: "FEED_ACTION_READ", ids: [fresh.id], all: false, tenant: "", at_ms: "5" }, metadata: wireCounts(1, 1, 2) }, "c3");
    await vi.waitFor(() => expect(feed.getState().counts.unread_count).toBe(1));
    expect(feed.getState().items[0]!.read_at_ms).toBe(5);
    expect(feed.getState().items[1]!.read_at_ms).toBe(0);
  });

  it("a mark-all event leaves items that arrived after it unread", async () => {
    const { gateway, feed } = track(setup());
    const old = wireItem({ inserted_at_ms: "1000" });
    const newer = wireItem({ inserted_at_ms: "3000" });
    gateway.on("GET", /items$/, () => listResponse([newer, old]));
    await feed.fetch();
    feed.connect();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(1));
    gateway.lastStream.event("marked", { items_marked: { action: "FEED_ACTION_READ", ids: [], all: true, tenant: "", at_ms: "2000" }, metadata: wireCounts(1, 1, 2) }, "c1");
    await vi.waitFor(() => expect(feed.getState().counts.unread_count).toBe(1));
    const byId = new Map(feed.getState().items.map((i) => [i.id, i]));
    expect(byId.get(old.id as string)!.read_at_ms).toBe(2000);
    expect(byId.get(newer.id as string)!.read_at_ms).toBe(0);
  });

  it("reconnects after the server closes and resumes with Last-Event-ID", async () => {
    const { gateway, feed } = track(setup());
    feed.connect();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(1));
    gateway.lastStream.event("counts", { metadata: wireCounts(0, 0, 0) }, "c1");
    gateway.lastStream.event("item", { item: wireItem(), metadata: wireCounts(1, 1, 1) }, "c2");
    gateway.lastStream.push(": ping\n\n");
    await vi.waitFor(() => expect(feed.getState().counts.unread_count).toBe(1));
    gateway.lastStream.close();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(2));
    expect(gateway.streams[1]!.request.headers["last-event-id"]).toBe("c2");
    // The token and key go in headers, never in the URL.
    expect(gateway.streams[1]!.request.url.search).toBe("");
  });

  it("backs off exponentially with jitter between failed attempts, honouring Retry-After", async () => {
    expect(backoffDelay(0, { initialDelayMs: 1000, maxDelayMs: 30000, random: () => 0 })).toBe(500);
    expect(backoffDelay(0, { initialDelayMs: 1000, maxDelayMs: 30000, random: () => 0.999999 })).toBe(1000);
    expect(backoffDelay(3, { initialDelayMs: 1000, maxDelayMs: 30000, random: () => 0.5 })).toBe(6000);
    expect(backoffDelay(20, { initialDelayMs: 1000, maxDelayMs: 30000, random: () => 0 })).toBe(15000);

    vi.useFakeTimers();
    const gateway = new FakeGateway();
    let answer = () => errorBody(503, "unavailable", "starting");
    gateway.streamHandler = () => answer();
    const client = new HeraldClient({ baseUrl: BASE, publishableKey: "k", userToken: "t", fetch: gateway.fetch });
    const feed = client.feed("main", { reconnect: { initialDelayMs: 1000, maxDelayMs: 4000, random: () => 0 } });
    feeds.push(feed);
    const attempts = () => gateway.requestsTo(/stream$/).length;
    feed.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts()).toBe(1);
    expect(feed.getState().realtime).toBe("reconnecting");
    expect(feed.getState().realtimeError?.code).toBe("unavailable");
    // Waits: 500, 1000, 2000, then capped at 2000 (ceiling 4000, random 0).
    for (const wait of [500, 1000, 2000, 2000]) {
      const before = attempts();
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(attempts()).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts()).toBe(before + 1);
    }
    // 429: Retry-After (10 s) outranks the backoff.
    answer = () => errorBody(429, "rate_limited", "slow down", undefined, { "Retry-After": "10" });
    await vi.advanceTimersByTimeAsync(2000);
    const before = attempts();
    await vi.advanceTimersByTimeAsync(9999);
    expect(attempts()).toBe(before);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts()).toBe(before + 1);
  });

  it("stops on 401 with an error state, and reconnects after setUserToken", async () => {
    vi.useFakeTimers();
    const { gateway, client, feed } = track(setup());
    gateway.streamHandler = (r) =>
      r.headers["authorization"] === "Bearer token-2" ? undefined : errorBody(401, "unauthenticated", "token expired");
    feed.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.getState().realtime).toBe("failed");
    expect(feed.getState().realtimeError).toMatchObject({ code: "unauthenticated", status: 401 });
    await vi.advanceTimersByTimeAsync(60000);
    expect(gateway.requestsTo(/stream$/)).toHaveLength(1);
    client.setUserToken("token-2");
    await vi.advanceTimersByTimeAsync(0);
    expect(feed.getState().realtime).toBe("connected");
    expect(gateway.requestsTo(/stream$/)).toHaveLength(2);
  });

  it("streams from the list's watch cursor, and on reset lists again and streams from the new one", async () => {
    const { gateway, feed } = track(setup());
    const first = wireItem();
    const later = wireItem();
    let listing = [first];
    let watchCursor = "c0";
    gateway.on("GET", /items$/, () => listResponse(listing, undefined, "", watchCursor));
    await feed.fetch();
    feed.connect();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(1));
    // Nothing between the list and the stream is missed.
    expect(gateway.streams[0]!.request.headers["last-event-id"]).toBe("c0");
    gateway.lastStream.event("counts", { metadata: wireCounts(1, 1, 1) }, "c1");
    gateway.lastStream.close();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(2));
    expect(gateway.streams[1]!.request.headers["last-event-id"]).toBe("c1");
    const lists = gateway.requestsTo(/items$/).length;
    listing = [later, first];
    watchCursor = "c7";
    gateway.lastStream.push("event: reset\ndata: {}\n\n");
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(3));
    expect(gateway.requestsTo(/items$/).length).toBe(lists + 1);
    expect(gateway.streams[1]!.aborted).toBe(true);
    expect(gateway.streams[2]!.request.headers["last-event-id"]).toBe("c7");
    expect(feed.getState().items.map((i) => i.id)).toEqual([later.id, first.id]);
  });

  it("dispose aborts the list request and the stream, and no state changes after", async () => {
    const { gateway, feed } = setup();
    const pending = deferred<Response>();
    gateway.on("GET", /items$/, () => pending.promise);
    const states: FeedState[] = [];
    feed.subscribe((s) => states.push(s));
    const fetching = feed.fetch();
    feed.connect();
    await vi.waitFor(() => expect(gateway.streams).toHaveLength(1));
    feed.dispose();
    await expect(fetching).resolves.toBeUndefined();
    expect(gateway.requestsTo(/items$/)[0]!.signal!.aborted).toBe(true);
    expect(gateway.streams[0]!.aborted).toBe(true);
    const seen = states.length;
    pending.resolve(listResponse([wireItem()]));
    await pending.promise;
    await new Promise((r) => setTimeout(r, 0)); // let any late continuation run
    expect(states.length).toBe(seen);
    expect(gateway.streams).toHaveLength(1); // no reconnect
    expect(feed.isDisposed).toBe(true);
  });
});
