"""Mech Search: a tiny full-text search service used as a registry example.

Listens on 127.0.0.1:$PORT and behaves as the release named in MECH_VERSION:
1.0.0 and 1.1.0 are good releases (1.1.0 also ranks its hits), 1.2.0 is the
known-bad release that starts but answers 503 on its health check, and any
other version refuses to start.
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
    4: "rolling back a bad release",
}


def search(query, ranked):
    words = query.lower().split()
    hits = []
    for doc_id, text in DOCUMENTS.items():
        score = sum(text.count(word) for word in words)
        if score:
            hits.append({"id": doc_id, "text": text, "score": score})
    if ranked:
        hits.sort(key=lambda hit: (-hit["score"], hit["id"]))
    return hits


class Handler(BaseHTTPRequestHandler):
    version = "1.0.0"
    index = ""

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
            body = {"status": "ok" if healthy else "broken", "version": self.version}
            self._send(200 if healthy else 503, body)
        elif url.path == "/api/search":
            query = parse_qs(url.query).get("q", [""])[0]
            hits = search(query, ranked=self.version != "1.0.0")
            body = {"version": self.version, "index": self.index, "query": query}
            self._send(200, {**body, "hits": hits})
        else:
            self._send(404, {"error": "not found", "version": self.version})

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main():
    version = os.environ.get("MECH_VERSION", "1.0.0")
    if version not in RELEASES:
        known = ", ".join(RELEASES)
        sys.exit(f"mech-search has no release {version} (known: {known})")
    if not os.environ.get("SEARCH_INDEX"):
        sys.exit("SEARCH_INDEX is not set")
    Handler.version = version
    Handler.index = os.environ["SEARCH_INDEX"]
    port = int(os.environ.get("PORT", "3101"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"mech-search {version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
