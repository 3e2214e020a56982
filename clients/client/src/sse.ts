import { createParser, type EventSourceMessage } from "eventsource-parser";

export type { EventSourceMessage };

export interface EventStreamHandlers {
  onEvent(event: EventSourceMessage): void;
  /** Comment lines (`: ping`), without the colon. */
  onComment?(comment: string): void;
}

/**
 * Reads a text/event-stream body to its end, parsing with eventsource-parser
 * (field lines, multi-line data, CR/LF/CRLF, comments) and decoding UTF-8
 * across chunk boundaries. Resolves when the server closes the stream;
 * rejects when the read fails or `signal` aborts it. An event still missing
 * its blank line when the stream ends is dropped, as the SSE spec says.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: EventStreamHandlers,
  signal?: AbortSignal,
): Promise<void> {
  const parser = createParser({
    onEvent: (event) => handlers.onEvent(event),
    onComment: (comment) => handlers.onComment?.(comment),
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // A fetch aborted by its signal errors its body too; cancelling here also
  // covers bodies that do not watch the signal.
  const onAbort = () => {
    reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener("abort", onAbort);
  try {
    if (signal?.aborted) throw abortError();
    for (;;) {
      const { done, value } = await reader.read();
      if (signal?.aborted) throw abortError();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    const tail = decoder.decode();
    if (tail) parser.feed(tail);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    try {
      reader.releaseLock();
    } catch {
      // A read still pending on an aborted body: the lock goes with the body.
    }
  }
}

export function abortError(): Error {
  const error = new Error("aborted");
  error.name = "AbortError";
  return error;
}
