// A fake of the gateway's HTTP side for tests: routes answer recorded
// requests, and every stream request gets a FakeStream the test writes SSE
// text into, chunk by chunk. Aborting a request (the client's signal) errors
// its pending answer and its stream, as fetch does.

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal | undefined;
}

type Handler = (request: RecordedRequest) => Response | Promise<Response>;

function abortError(): Error {
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}

export class FakeStream {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly encoder = new TextEncoder();
  readonly body: ReadableStream<Uint8Array>;
  closed = false;
  aborted = false;

  constructor(readonly request: RecordedRequest) {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      cancel: () => {
        this.closed = true;
      },
    });
    request.signal?.addEventListener("abort", () => {
      this.aborted = true;
      if (!this.closed) {
        this.closed = true;
        this.controller.error(abortError());
      }
    });
  }

  /** Writes text (or raw bytes) as one chunk. */
  push(chunk: string | Uint8Array): void {
    if (this.closed) throw new Error("stream already closed");
    this.controller.enqueue(typeof chunk === "string" ? this.encoder.encode(chunk) : chunk);
  }

  /** Writes one event with its blank line. */
  event(type: string, data: unknown, id?: string): void {
    this.push(`${id !== undefined ? `id: ${id}\n` : ""}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** The server ends the stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.close();
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function errorBody(status: number, code: string, message: string, field?: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message, ...(field ? { field } : {}) } }, headers);
}

export class FakeGateway {
  readonly requests: RecordedRequest[] = [];
  readonly streams: FakeStream[] = [];
  private readonly routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [];
  /** Answer of stream requests; default: 200 with a new FakeStream. */
  streamHandler: ((request: RecordedRequest) => Response | undefined) | null = null;

  on(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.unshift({ method, pattern, handler });
    return this;
  }

  requestsTo(pattern: RegExp, method = "GET"): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && pattern.test(r.url.pathname));
  }

  get lastStream(): FakeStream {
    const stream = this.streams[this.streams.length - 1];
    if (!stream) throw new Error("no stream opened yet");
    return stream;
  }

  readonly fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    const request: RecordedRequest = {
      method: init.method ?? "GET",
      url: new URL(input),
      headers,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      signal: init.signal ?? undefined,
    };
    this.requests.push(request);
    if (request.signal?.aborted) throw abortError();
    if (request.method === "GET" && /\/stream$/.test(request.url.pathname)) {
      const answer = this.streamHandler?.(request);
      if (answer) return answer;
      const stream = new FakeStream(request);
      this.streams.push(stream);
      return new Response(stream.body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    const route = this.routes.find((r) => r.method === request.method && r.pattern.test(request.url.pathname));
    if (!route) return errorBody(404, "not_found", `no fake route for ${request.method} ${request.url.pathname}`);
    const answer = Promise.resolve(route.handler(request));
    if (!request.signal) return answer;
    const signal = request.signal;
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => reject(abortError());
      signal.addEventListener("abort", onAbort, { once: true });
      answer.then(
        (response) => {
          signal.removeEventListener("abort", onAbort);
          resolve(response);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  };
}

/** A promise the test resolves when it wants (a request held in flight). */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let nextId = 1;

/** A feed item on the wire (int64 as strings), unread and unseen unless overridden. */
export function wireItem(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const id = `item-${nextId++}`;
  return {
    id,
    workflow: "new-comment",
    tenant: "",
    blocks: [{ name: "body", type: "markdown", content: "", rendered: `<p>${id}</p>`, markdown: "", buttons: [] }],
    actors: ["u1"],
    total_activities: "1",
    total_actors: "1",
    data_json: "{}",
    inserted_at_ms: String(Date.now()),
    seen_at_ms: "0",
    read_at_ms: "0",
    interacted_at_ms: "0",
    archived_at_ms: "0",
    ...overrides,
  };
}

export function wireCounts(unseen: number, unread: number, total: number): Record<string, string> {
  return { unseen_count: String(unseen), unread_count: String(unread), total_count: String(total) };
}
