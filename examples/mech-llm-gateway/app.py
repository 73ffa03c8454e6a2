"""Mech LLM Gateway: a stand-in for a gateway in front of language models.

It answers completions without calling any model: the completion is derived
from the prompt alone, so the same request always gets the same answer.
Listens on 127.0.0.1:$PORT as the release named in MECH_VERSION: 1.0.0 and
1.1.0 are good (1.1.0 adds token usage), 1.2.0 starts but fails its health
check, and any other version refuses to start. UPSTREAM_API_KEY must be set;
its value is never shown.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

RELEASES = {"1.0.0": True, "1.1.0": True, "1.2.0": False}
MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_TOKENS = 16


def complete(prompt, max_tokens):
    """Echo the prompt's words back in reverse order, up to ``max_tokens``."""
    words = prompt.split()
    reply = list(reversed(words))[:max_tokens]
    return " ".join(reply), len(words), len(reply)


class Handler(BaseHTTPRequestHandler):
    version = "1.0.0"
    model = "echo-small"

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/health":
            healthy = RELEASES[self.version]
            body = {"status": "ok" if healthy else "broken", "version": self.version}
            self._send(200 if healthy else 503, body)
        elif path == "/v1/models":
            self._send(200, {"version": self.version, "models": [self.model]})
        else:
            self._send(404, {"error": "not found", "version": self.version})

    def do_POST(self):
        if urlparse(self.path).path != "/v1/completions":
            self._send(404, {"error": "not found", "version": self.version})
            return
        request = self._read_json()
        if request is None:
            return
        prompt = request.get("prompt")
        max_tokens = request.get("maxTokens", DEFAULT_MAX_TOKENS)
        if not isinstance(prompt, str) or not isinstance(max_tokens, int):
            self._send(400, {"error": "prompt (string) is required; maxTokens is int"})
            return
        text, prompt_tokens, completion_tokens = complete(prompt, max_tokens)
        body = {"version": self.version, "model": self.model, "completion": text}
        if self.version != "1.0.0":
            body["usage"] = {
                "promptTokens": prompt_tokens,
                "completionTokens": completion_tokens,
            }
        self._send(200, body)

    def _read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return None
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return None
        if not isinstance(data, dict):
            self._send(400, {"error": "body must be a JSON object"})
            return None
        return data

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def main():
    version = os.environ.get("MECH_VERSION", "1.0.0")
    if version not in RELEASES:
        known = ", ".join(RELEASES)
        sys.exit(f"mech-llm-gateway has no release {version} (known: {known})")
    if not os.environ.get("UPSTREAM_API_KEY"):
        sys.exit("UPSTREAM_API_KEY is not set")
    Handler.version = version
    Handler.model = os.environ.get("DEFAULT_MODEL") or "echo-small"
    port = int(os.environ.get("PORT", "3102"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"mech-llm-gateway {version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
