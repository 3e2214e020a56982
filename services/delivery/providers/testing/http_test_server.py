#!/usr/bin/python3
"""A scripted HTTP/1.1 server for provider tests (loopback, ephemeral port).

Prints "PORT <n>" on stdout once listening; exits when stdin closes (the
test process went away) or on SIGTERM.

Control endpoints:
  POST /_script  {"routes": {"/path": [response, ...]}, "signing_secret": "..."}
                 replaces the script and forgets recorded requests. A
                 response is {"status", "headers", "body", "delay_ms"}; each
                 request to the path takes the next one, the last repeats.
                 Unscripted paths answer 200 "{}".
  GET /_requests every other request so far: method, path, query, headers
                 (names lower-cased), body, client_port, in_flight and, when a signing
                 secret is set, signature_valid (PROVIDERS.md scheme).
"""
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
# in_flight counts per script generation: a request of an earlier script
# still sleeping (a timeout test's) does not count against the next test.
state = {"routes": {}, "secret": "", "requests": [], "generation": 0, "in_flight": {}}


def signature_valid(headers, body, secret):
    timestamp = headers.get("x-herald-timestamp", "")
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-herald-signature", ""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path == "/_script":
            script = json.loads(body)
            with lock:
                state["routes"] = {p: list(r) for p, r in (script.get("routes") or {}).items()}
                state["secret"] = script.get("signing_secret", "")
                state["requests"] = []
                state["generation"] += 1
            return self.answer(200, "{}")
        if path == "/_requests":
            with lock:
                return self.answer(200, json.dumps(state["requests"]), {"Content-Type": "application/json"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"method": self.command, "path": path, "query": query, "headers": headers,
                  "body": body.decode("utf-8", "replace"), "client_port": self.client_address[1],
                  "received_at": time.time()}
        with lock:
            generation = state["generation"]
            state["in_flight"][generation] = state["in_flight"].get(generation, 0) + 1
            record["in_flight"] = state["in_flight"][generation]  # Requests being answered, this one included.
            if state["secret"]:
                record["signature_valid"] = signature_valid(headers, body, state["secret"])
            state["requests"].append(record)
            queue = state["routes"].get(path, [])
            response = queue.pop(0) if len(queue) > 1 else (queue[0] if queue else {})
        if response.get("delay_ms"):
            time.sleep(response["delay_ms"] / 1000.0)
        # No longer in flight before the client can see the answer, so the
        # client's next request never overlaps this one here.
        with lock:
            state["in_flight"][generation] -= 1
        try:
            self.answer(response.get("status", 200), response.get("body", "{}"), response.get("headers"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # The client gave up (a timeout test).

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT", server.server_address[1], flush=True)
    sys.stdin.read()  # Until the test closes our stdin or exits.
    os._exit(0)


if __name__ == "__main__":
    main()
