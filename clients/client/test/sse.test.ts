import { describe, expect, it } from "vitest";
import { readEventStream, type EventSourceMessage } from "../src/index.js";

function streamOf(chunks: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(chunks: Array<string | Uint8Array>) {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  await readEventStream(streamOf(chunks), { onEvent: (e) => events.push(e), onComment: (c) => comments.push(c) });
  return { events, comments };
}

describe("readEventStream", () => {
  it("parses id, event and data split at every byte", async () => {
    const text = 'id: c1\nevent: item\ndata: {"a":1}\n\n: ping\n\nid: c2\nevent: counts\ndata: {"b":2}\n\n';
    const bytes = new TextEncoder().encode(text);
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    const { events, comments } = await collect(chunks);
    expect(events).toEqual([
      { id: "c1", event: "item", data: '{"a":1}' },
      { id: "c2", event: "counts", data: '{"b":2}' },
    ]);
    expect(comments.map((c) => c.trim())).toEqual(["ping"]);
  });

  it("decodes a multi-byte character split across chunks", async () => {
    const bytes = new TextEncoder().encode('event: item\ndata: {"t":"héllo 🔔"}\n\n');
    const cut = bytes.indexOf(0xf0) + 2; // inside the bell's four bytes
    const { events } = await collect([bytes.slice(0, 5), bytes.slice(5, cut), bytes.slice(cut)]);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data)).toEqual({ t: "héllo 🔔" });
  });

  it("joins multi-line data, accepts CRLF and a line end split between CR and LF", async () => {
    const { events } = await collect(["event: item\r", "\ndata: line one\r\ndata: line two\r", "\n\r\n"]);
    expect(events).toEqual([{ id: undefined, event: "item", data: "line one\nline two" }]);
  });

  it("drops an event whose blank line never came", async () => {
    const { events } = await collect(['event: item\ndata: {"ok":1}\n\n', 'event: item\ndata: {"cut":1}\n']);
    expect(events.map((e) => e.data)).toEqual(['{"ok":1}']);
  });
});
