"""A local fake model hub over real HTTP on 127.0.0.1, serving files the way the hubs do.

One FakeHub speaks both protocols the entrypoint uses:
- Hugging Face: GET /api/models/<org>/<name>/revision/<rev>?blobs=true (siblings with size and
  lfs.sha256) and GET /<org>/<name>/resolve/<rev>/<path>; large ("lfs") files answer 302 to
  /cdn/<sha> on the host name "localhost" (a different host, as the real storage CDN is);
- ModelScope: GET /api/v1/models/<org>/<name>/repo/files?Revision=..&Recursive=true and
  GET /api/v1/models/<org>/<name>/repo?Revision=..&FilePath=<path>.
Both honour Range requests (206). Knobs make it fail the ways real downloads fail.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    host: str
    path: str
    headers: dict


@dataclass
class FakeHub:
    repo: str = "acme/tiny-model"
    files: dict[str, bytes] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)  # paths served through the CDN redirect
    token: str | None = None  # when set, API and resolve need "Bearer <token>" (401 otherwise)
    echo_token_in_errors: bool = False  # a careless server that repeats the credential
    down: bool = False  # every request answers 503
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops (once)
    fail_status: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    ignore_range: bool = False
    wrong_sha: set[str] = field(default_factory=set)  # paths whose listed SHA-256 is wrong
    listing_paths: list[str] | None = None  # list these paths instead of the real ones
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sha(self, path: str) -> str:
        digest = hashlib.sha256(self.files[path]).hexdigest()
        return "0" * 64 if path in self.wrong_sha else digest

    def file_requests(self, path_fragment: str) -> list[Request]:
        return [r for r in self.requests if path_fragment in unquote(r.path) and "/api/" not in r.path
                or (r.path.startswith("/api/v1/") and "FilePath=" in r.path and path_fragment in unquote(r.path))]


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):  # noqa: N802 (http.server naming)
            parts = urlsplit(self.path)
            hub.requests.append(Request("GET", self.headers.get("Host", ""), self.path,
                                        {k.lower(): v for k, v in self.headers.items()}))
            if hub.down:
                return self._send(503, b"hub is down")
            if parts.path.startswith("/cdn/"):
                return self._serve_blob(parts.path[len("/cdn/"):])
            auth_required = hub.token is not None
            if auth_required and self.headers.get("Authorization") != f"Bearer {hub.token}":
                body = b"unauthorized"
                if hub.echo_token_in_errors:
                    body = f"bad credentials: {self.headers.get('Authorization')} token={hub.token}".encode()
                return self._send(401, body)
            prefix = f"/api/models/{hub.repo}/revision/"
            if parts.path.startswith(prefix):
                return self._json(self._hf_listing())
            ms_prefix = f"/api/v1/models/{hub.repo}/repo"
            if parts.path == ms_prefix + "/files":
                return self._json(self._ms_listing())
            if parts.path == ms_prefix:
                path = parse_qs(parts.query).get("FilePath", [""])[0]
                return self._serve_file(path)
            resolve = f"/{hub.repo}/resolve/"
            if parts.path.startswith(resolve):
                path = unquote(parts.path[len(resolve):].split("/", 1)[1])
                if path in hub.lfs and path in hub.files:
                    return self._redirect(f"http://localhost:{hub.port}/cdn/{hashlib.sha256(path.encode()).hexdigest()}")
                return self._serve_file(path)
            return self._send(404, b"not found")

        def _listed(self) -> list[str]:
            return hub.listing_paths if hub.listing_paths is not None else list(hub.files)

        def _hf_listing(self) -> dict:
            siblings = []
            for path in self._listed():
                entry = {"rfilename": path, "size": len(hub.files.get(path, b""))}
                if path in hub.lfs:
                    entry["lfs"] = {"sha256": hub.sha(path), "size": len(hub.files[path]), "pointerSize": 134}
                siblings.append(entry)
            return {"id": hub.repo, "sha": "0123abcd", "siblings": siblings}

        def _ms_listing(self) -> dict:
            files = [{"Name": p.rsplit("/", 1)[-1], "Path": p, "Type": "blob", "Size": len(hub.files.get(p, b"")),
                      "Sha256": hub.sha(p)} for p in self._listed()]
            files.append({"Name": "sub", "Path": "sub", "Type": "tree", "Size": 0})
            return {"Code": 200, "Data": {"Files": files}, "Success": True}

        def _serve_blob(self, key: str):
            for path in hub.lfs:
                if hashlib.sha256(path.encode()).hexdigest() == key:
                    return self._serve_file(path)
            return self._send(404, b"no blob")

        def _serve_file(self, path: str):
            statuses = hub.fail_status.get(path)
            if statuses:
                return self._send(statuses.pop(0), b"temporary failure")
            if path not in hub.files:
                return self._send(404, b"no such file")
            data = hub.files[path]
            start = 0
            header = self.headers.get("Range")
            status = 200
            if header and not hub.ignore_range:
                start = int(header.split("=", 1)[1].split("-", 1)[0])
                if start >= len(data):
                    return self._send(416, b"")
                status = 206
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            cut = hub.drop_after.pop(path, None)
            if cut is not None and cut < len(body):
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def _redirect(self, location: str):
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, value) -> None:
            self._send(200, json.dumps(value).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def model_files(shards: int = 2, shard_bytes: int = 300_000) -> tuple[dict[str, bytes], set[str]]:
    """A small repository: config, tokenizer, safetensors shards (LFS) and a torch duplicate."""
    files = {
        "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
        "tokenizer.json": b'{"version": "1.0"}' * 50,
        "model.safetensors.index.json": b'{"weight_map": {}}',
        "pytorch_model.bin": b"duplicate" * 100,
    }
    lfs = set()
    for i in range(1, shards + 1):
        name = f"model-{i:05d}-of-{shards:05d}.safetensors"
        files[name] = bytes((i * 7 + j) % 251 for j in range(shard_bytes))
        lfs.add(name)
    return files, lfs


def start_hub(**kwargs):
    """A started FakeHub and its server (call server.shutdown() and server.server_close())."""
    hub = FakeHub(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return hub, server
