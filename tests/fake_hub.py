"""A small local HTTP server speaking the Hugging Face Hub endpoints that ``HfApi.create_repo`` and
``HfApi.upload_folder`` call, so the push stage runs its real huggingface_hub code path without a network
(pointed at with ``HF_ENDPOINT``).

Endpoints: ``POST /api/repos/create``, ``POST /api/validate-yaml``, ``POST /api/models/<repo>/preupload/<rev>``
(every file "regular": its bytes travel base64 in the commit, no LFS/Xet upload), ``POST
/api/models/<repo>/commit/<rev>`` (application/x-ndjson). Every request must carry the expected bearer token.
What it does not speak: LFS/Xet uploads of large files (the real Hub asks for them above ~10 MB and for
binaries); a test that needs them cannot use this server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeHub:
    token: str
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # repo id → {"private", "files": {path: bytes}}
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, authorization)
    url: str = ""


def start(token: str) -> tuple[FakeHub, ThreadingHTTPServer]:
    hub = FakeHub(token=token)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            hub.requests.append(("POST", path, self.headers.get("Authorization", "")))
            if self.headers.get("Authorization") != f"Bearer {hub.token}":
                return self._reply(401, {"error": "Invalid credentials"})
            if path == "/api/repos/create":
                req = json.loads(body)
                repo = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                if repo in hub.repos:
                    return self._reply(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo}"})
                hub.repos[repo] = {"private": req.get("visibility") == "private" or req.get("private") is True,
                                   "files": {}}
                return self._reply(200, {"url": f"{hub.url}/{repo}", "name": repo})
            if path == "/api/validate-yaml":
                return self._reply(200, {"errors": [], "warnings": []})
            parts = path.split("/")  # /api/models/<org>/<name>/<op>/<rev>
            if len(parts) == 7 and parts[:3] == ["", "api", "models"]:
                repo, op = f"{parts[3]}/{parts[4]}", parts[5]
                if repo not in hub.repos:
                    return self._reply(404, {"error": "Repository not found"})
                if op == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False} for f in files]})
                if op == "commit":
                    lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                    for line in lines:
                        if line["key"] == "file":
                            value = line["value"]
                            hub.repos[repo]["files"][value["path"]] = base64.b64decode(value["content"])
                    oid = hashlib.sha1(body).hexdigest()
                    return self._reply(200, {"commitUrl": f"{hub.url}/{repo}/commit/{oid}", "commitOid": oid})
            return self._reply(404, {"error": f"not served by the fake hub: {path}"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hub, server
