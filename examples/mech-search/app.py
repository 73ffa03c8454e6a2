"""Mech Search: a tiny full-text search service used as a registry example.

Reads PORT and MECH_VERSION from the environment. Version 1.2.0 is the
known-bad release: it starts, but its health check answers 503.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RELEASES = {"1.0.0": True, "1.1.0": True, "1.2.0": False}
DOCUMENTS = {
    1: "deploying services with one call",
    2: "health checks and incidents",
    3: "search over documents",
}


class Handler(BaseHTTPRequestHandler):
    version = "1.0.0"

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            healthy = RELEASES[self.version]
            status = 200 if healthy else 503
            self._send(status, {"status": "ok" if healthy else "broken"})
        elif url.path == "/api/search":
            query = parse_qs(url.query).get("q", [""])[0].lower()
            hits = [i for i, text in DOCUMENTS.items() if query in text]
            self._send(200, {"version": self.version, "query": query, "hits": hits})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main():
    version = os.environ.get("MECH_VERSION", "1.0.0")
    if version not in RELEASES:
        sys.exit(f"mech-search has no release {version}")
    if not os.environ.get("SEARCH_INDEX"):
        sys.exit("SEARCH_INDEX is not set")
    Handler.version = version
    port = int(os.environ.get("PORT", "3101"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"mech-search {version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
