#!/usr/bin/python3
"""SMTP sink for bench/loadgen --smtp_sink: an aiosmtpd server on loopback
that accepts every message and counts them per Message-ID header (a
repeated id is a duplicate). A stats endpoint on a second loopback port
answers GET /stats with {count, unique, duplicates, first_ms, last_ms}
(wall-clock ms of the first and last message). Prints
{"port": N, "stats_port": M} on its first stdout line and exits when stdin
closes, so it never outlives the load generator.
  /usr/bin/python3 bench/smtp_sink.py
"""
import asyncio
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = set()
        self.count = 0
        self.duplicates = 0
        self.first_ms = 0
        self.last_ms = 0

    def add(self, message_id):
        now = int(time.time() * 1000)
        with self.lock:
            if self.count == 0:
                self.first_ms = now
            self.last_ms = now
            self.count += 1
            if message_id in self.seen:
                self.duplicates += 1
            else:
                self.seen.add(message_id)

    def stats(self):
        with self.lock:
            return {"count": self.count, "unique": len(self.seen), "duplicates": self.duplicates,
                    "first_ms": self.first_ms, "last_ms": self.last_ms}


COUNTER = Counter()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        headers = content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(headers)
        COUNTER.add(found.group(1) if found else b"")
        return "250 OK"


class Stats(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(COUNTER.stats()).encode()
        self.send_response(200 if self.path == "/stats" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="sink.local"), "127.0.0.1", 0)
    stats = ThreadingHTTPServer(("127.0.0.1", 0), Stats)
    threading.Thread(target=stats.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.sockets[0].getsockname()[1], "stats_port": stats.server_address[1]}),
          flush=True)
    # Stop when the load generator closes our stdin.
    await loop.run_in_executor(None, sys.stdin.buffer.read)


if __name__ == "__main__":
    asyncio.run(main())
