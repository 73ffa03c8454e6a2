"""Mech Reader: serves the text and metadata of a small document library.

Listens on 127.0.0.1:$PORT as the release named in MECH_VERSION: 1.0.0 and
1.1.0 are good (1.1.0 adds word counts), 1.2.0 starts but fails its health
check, and any other version refuses to start. READER_LIBRARY names the
library the documents are served from.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

RELEASES = {"1.0.0": True, "1.1.0": True, "1.2.0": False}
DOCUMENTS = {
    "1": ("Runbook", "Deploy the new version, watch its health, roll back."),
    "2": ("Glossary", "A release is a version of a service; a target runs it."),
    "3": ("Changelog", "1.1.0 counts words; 1.2.0 was withdrawn."),
}


class Handler(BaseHTTPRequestHandler):
    version = "1.0.0"
    library = ""

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _document(self, doc_id):
        title, text = DOCUMENTS[doc_id]
        body = {"id": doc_id, "title": title, "library": self.library}
        if self.version != "1.0.0":
            body["words"] = len(text.split())
        return body, text

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/health":
            healthy = RELEASES[self.version]
            body = {"status": "ok" if healthy else "broken", "version": self.version}
            self._send(200 if healthy else 503, body)
        elif path == "/api/documents":
            items = [self._document(doc_id)[0] for doc_id in DOCUMENTS]
            self._send(200, {"version": self.version, "documents": items})
        elif path.startswith("/api/documents/") and path[15:] in DOCUMENTS:
            metadata, text = self._document(path[15:])
            self._send(200, {"version": self.version, **metadata, "text": text})
        else:
            self._send(404, {"error": "not found", "version": self.version})

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main():
    version = os.environ.get("MECH_VERSION", "1.0.0")
    if version not in RELEASES:
        known = ", ".join(RELEASES)
        sys.exit(f"mech-reader has no release {version} (known: {known})")
    if not os.environ.get("READER_LIBRARY"):
        sys.exit("READER_LIBRARY is not set")
    Handler.version = version
    Handler.library = os.environ["READER_LIBRARY"]
    port = int(os.environ.get("PORT", "3103"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"mech-reader {version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
