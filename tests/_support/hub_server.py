"""A small Hugging Face Hub-protocol server for tests: the classic (non-Xet) upload protocol and downloads.

No installable server accepts uploads, so the tests push to this one with the real `huggingface_hub`
client (HF_HUB_DISABLE_XET=1) and download from it with `transformers` / `hf_hub_download`.

Upload routes (as `HfApi.create_repo` / `create_commit` call them):
    POST /api/repos/create                              {"name", "organization", "type", "visibility"}
    POST /api/validate-yaml                             README front matter must parse as YAML
    POST /api/models/{repo}/preupload/{rev}             -> uploadMode "lfs" | "regular", remote oid
    POST /{repo}.git/info/lfs/objects/batch             LFS batch API, "basic" transfer
    PUT  /lfs-upload/{sha256}                           the LFS object (sha256 checked)
    POST /api/models/{repo}/commit/{rev}                NDJSON: header, file (base64), lfsFile, deletedFile/Folder
Download routes:
    GET  /api/models/{repo}[/revision/{rev}]            model info: sha, siblings
    GET  /api/models/{repo}/tree/{rev}[/{path}]         listing (recursive)
    POST /api/models/{repo}/paths-info/{rev}            file metadata
    GET  /api/models/{repo}/refs, /commits/{rev}
    HEAD|GET /{repo}/resolve/{rev}/{path}               X-Repo-Commit, ETag (git blob oid or sha256),
                                                        X-Linked-Etag / X-Linked-Size for LFS files, Range
Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound) as the Hub's do.
Test helpers: GET /_test/log (every request line), GET /_test/commits/{repo}.

Run: `python tests/_support/hub_server.py --port-file PATH [--token TOKEN]`; it writes its port to PATH once it
listens and stops on SIGTERM / SIGINT. Stdlib only (plus PyYAML when present, for validate-yaml).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

GITATTRIBUTES = (
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
)
LFS_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".npy",
    ".npz",
    ".h5",
    ".msgpack",
    ".onnx",
    ".gz",
    ".xz",
)
LFS_MIN_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Blob:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def git_oid(self) -> str:
        """The git blob id of what git stores: the file, or for an LFS file its pointer."""
        stored = self.pointer() if self.lfs else self.data
        return hashlib.sha1(b"blob %d\0" % len(stored) + stored).hexdigest()

    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()


@dataclass
class Commit:
    oid: str
    files: dict[str, Blob]
    title: str
    parent: str | None
    date: str


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)


class State:
    def __init__(self, token: str | None):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.log: list[str] = []
        self.lock = threading.Lock()

    def commit(
        self, repo: Repo, files: dict[str, Blob], title: str, parent: str | None, branch: str
    ) -> Commit:
        digest = hashlib.sha1()
        digest.update((parent or "").encode() + title.encode() + str(time.time_ns()).encode())
        for path in sorted(files):
            digest.update(path.encode() + files[path].git_oid.encode())
        commit = Commit(
            digest.hexdigest(),
            dict(files),
            title,
            parent,
            time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        )
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def is_lfs(path: str, size: int, sample: bytes) -> bool:
    return path.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE or b"\0" in sample


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hf-embeddings-test-hub/1"

    @property
    def state(self) -> State:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, fmt, *args):  # quiet; requests are kept in state.log
        pass

    # ------------------------------------------------------------------ plumbing
    def _base(self) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        return f"http://{host}"

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, data, status: int = 200, head: bool = False) -> None:
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"}, head)

    def _error(self, err: HubError, head: bool = False) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": err.message}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send(err.status, json.dumps({"error": err.message}).encode(), headers, head)

    def _auth(self) -> None:
        token = self.state.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            raise HubError(401, "Invalid credentials in Authorization header")

    def _repo(self, repo_id: str) -> Repo:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            raise HubError(404, f"Repository not found: {repo_id}", "RepoNotFound")
        return repo

    def _commit(self, repo: Repo, rev: str) -> Commit:
        rev = unquote(rev)
        oid = repo.branches.get(rev, rev)
        if oid not in repo.commits:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return repo.commits[oid]

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        with self.state.lock:
            self.state.log.append(f"{method} {self.path}")
        routes = [
            ("POST", r"/api/repos/create", self.create_repo),
            ("POST", r"/api/validate-yaml", self.validate_yaml),
            ("GET", r"/_test/log", self.test_log),
            ("GET", r"/_test/commits/(?P<repo>[^/]+/[^/]+)", self.test_commits),
            (
                "POST",
                r"/api/(?:models|spaces)/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)",
                self.preupload,
            ),
            ("POST", r"/api/(?:models|spaces)/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", self.commit),
            ("POST", r"/(?:spaces/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", self.lfs_batch),
            ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", self.lfs_upload),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", self.tree),
            ("POST", r"/api/models/(?P<repo>[^/]+/[^/]+)/paths-info/(?P<rev>[^/]+)", self.paths_info),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/refs", self.refs),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)/commits/(?P<rev>[^/]+)", self.commits),
            ("GET", r"/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?", self.model_info),
            ("HEAD", r"/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?", self.model_info),
            ("GET", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self.resolve),
            ("HEAD", r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)", self.resolve),
        ]
        head = method == "HEAD"
        try:
            for verb, pattern, fn in routes:
                m = re.fullmatch(pattern, path)
                if verb == method and m:
                    fn(query=query, head=head, **{k: v for k, v in m.groupdict().items() if v is not None})
                    return
            raise HubError(404, f"no route for {method} {path}")
        except HubError as err:
            self._error(err, head)

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    # ------------------------------------------------------------------ uploads
    def create_repo(self, query, head):
        self._auth()
        payload = json.loads(self._body() or b"{}")
        if payload.get("type", "model") not in (None, "model", "space"):
            raise HubError(400, "this test server only hosts model and Space repos")
        if payload.get("type") == "space" and not payload.get("sdk"):
            raise HubError(400, "a Space needs an sdk")
        name, org = payload.get("name"), payload.get("organization")
        if not name or not org:
            raise HubError(400, "name and organization are required")
        repo_id = f"{org}/{name}"
        with self.state.lock:
            if repo_id in self.state.repos:
                self._json(
                    {"error": "You already created this model repo", "url": f"{self._base()}/{repo_id}"}, 409
                )
                return
            repo = Repo(repo_id, payload.get("visibility") == "private" or bool(payload.get("private")))
            self.state.repos[repo_id] = repo
            self.state.commit(
                repo, {".gitattributes": Blob(GITATTRIBUTES, False)}, "initial commit", None, "main"
            )
        self._json({"url": f"{self._base()}/{repo_id}", "name": repo_id, "id": repo_id})

    def validate_yaml(self, query, head):
        content = json.loads(self._body() or b"{}").get("content", "")
        m = re.match(r"^---\n(.*?)\n---\n", content, flags=re.S)
        if m:
            try:
                import yaml

                yaml.safe_load(m.group(1))
            except ImportError:
                pass
            except Exception as e:  # yaml.YAMLError
                self._json({"errors": [{"message": f"invalid YAML: {e}"}]}, 400)
                return
        self._json({"errors": [], "warnings": []})

    def preupload(self, query, head, repo, rev):
        self._auth()
        r = self._repo(repo)
        commit = self._commit(r, rev)
        payload = json.loads(self._body())
        files = []
        for f in payload["files"]:
            sample = base64.b64decode(f.get("sample", ""))
            lfs = is_lfs(f["path"], int(f["size"]), sample)
            existing = commit.files.get(f["path"])
            oid = None if existing is None else (existing.sha256 if existing.lfs else existing.git_oid)
            files.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        self._json({"files": files, "commitOid": commit.oid})

    def lfs_batch(self, query, head, repo):
        self._auth()
        self._repo(repo)
        payload = json.loads(self._body())
        if payload.get("operation") != "upload":
            raise HubError(400, "only uploads are supported")
        objects = []
        for obj in payload["objects"]:
            item = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.state.lfs:
                item["actions"] = {
                    "upload": {"href": f"{self._base()}/lfs-upload/{obj['oid']}", "header": {}}
                }
            objects.append(item)
        self._json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    def lfs_upload(self, query, head, oid):
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "sha256 of the uploaded object does not match its oid")
        with self.state.lock:
            self.state.lfs[oid] = data
        self._send(200)

    def commit(self, query, head, repo, rev):
        self._auth()
        r = self._repo(repo)
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the commit payload must start with a header line")
        header = lines[0]["value"]
        with self.state.lock:
            base = self._commit(r, rev)
            if header.get("parentCommit") and header["parentCommit"] != base.oid:
                raise HubError(412, "parent commit is not the head of the branch")
            files = dict(base.files)
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                if key == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise HubError(400, "only base64 file contents are supported")
                    files[value["path"]] = Blob(base64.b64decode(value["content"]), False)
                elif key == "lfsFile":
                    data = self.state.lfs.get(value["oid"])
                    if data is None:
                        raise HubError(
                            422, f"LFS object {value['oid']} of {value['path']} was never uploaded"
                        )
                    files[value["path"]] = Blob(data, True)
                elif key == "deletedFile":
                    if value["path"] not in files:
                        raise HubError(
                            404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound"
                        )
                    del files[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: b for p, b in files.items() if not p.startswith(prefix)}
                else:
                    raise HubError(400, f"unknown commit operation {key!r}")
            branch = unquote(rev) if unquote(rev) in r.branches else "main"
            new = self.state.commit(r, files, header.get("summary", ""), base.oid, branch)
        self._json(
            {
                "success": True,
                "commitOid": new.oid,
                "commitUrl": f"{self._base()}/{repo}/commit/{new.oid}",
                "pullRequestUrl": None,
            }
        )

    # ------------------------------------------------------------------ downloads
    def _entry(self, path: str, blob: Blob, expand: bool = False) -> dict:
        entry = {"type": "file", "oid": blob.git_oid, "size": len(blob.data), "path": path}
        if blob.lfs:
            entry["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": len(blob.pointer())}
        if expand:
            entry["lastCommit"] = None
        return entry

    def model_info(self, query, head, repo, rev=None):
        r = self._repo(repo)
        commit = self._commit(r, rev or "main")
        info = {
            "_id": hashlib.sha1(repo.encode()).hexdigest()[:24],
            "id": repo,
            "modelId": repo,
            "author": repo.split("/")[0],
            "sha": commit.oid,
            "lastModified": commit.date,
            "createdAt": commit.date,
            "private": r.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "library_name": None,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        }
        self._json(info, head=head)

    def tree(self, query, head, repo, rev, sub=None):
        r = self._repo(repo)
        commit = self._commit(r, rev)
        prefix = unquote(sub).strip("/") + "/" if sub else ""
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        entries, dirs = [], set()
        for path in sorted(commit.files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not recursive:
                dirs.add(prefix + rest.split("/", 1)[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for i in range(len(parts)):
                    dirs.add(prefix + "/".join(parts[: i + 1]))
            entries.append(self._entry(path, commit.files[path]))
        if prefix and not entries and not dirs:
            raise HubError(404, f"{sub} does not exist at {rev}", "EntryNotFound")
        listing = [
            {"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in sorted(dirs)
        ] + entries
        self._json(listing)

    def paths_info(self, query, head, repo, rev):
        r = self._repo(repo)
        commit = self._commit(r, rev)
        body = self._body()
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            payload = json.loads(body or b"{}")
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(body.decode())
            paths, expand = form.get("paths", []), form.get("expand", ["false"])[0] in ("1", "true", "True")
        if isinstance(paths, str):
            paths = [paths]
        out = []
        for p in paths:
            p = p.strip("/")
            if p in commit.files:
                out.append(self._entry(p, commit.files[p], expand))
            elif any(f.startswith(p + "/") for f in commit.files):
                out.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": p})
        self._json(out)

    def refs(self, query, head, repo):
        r = self._repo(repo)
        branches = [
            {"name": b, "ref": f"refs/heads/{b}", "targetCommit": oid} for b, oid in r.branches.items()
        ]
        self._json({"branches": branches, "tags": [], "converts": []})

    def commits(self, query, head, repo, rev):
        r = self._repo(repo)
        commit = self._commit(r, rev)
        out = []
        while commit is not None:
            out.append(
                {"id": commit.oid, "title": commit.title, "message": "", "authors": [], "date": commit.date}
            )
            commit = r.commits.get(commit.parent) if commit.parent else None
        self._json(out)

    def resolve(self, query, head, repo, rev, file):
        r = self._repo(repo)
        commit = self._commit(r, rev)
        path = unquote(file)
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        headers = {
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "ETag": f'"{blob.git_oid}"',
        }
        if blob.lfs:
            headers["X-Linked-Etag"] = f'"{blob.sha256}"'
            headers["X-Linked-Size"] = str(len(blob.data))
        data = blob.data
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else len(data) - 1
                if start >= len(data) and len(data):
                    raise HubError(416, "range not satisfiable")
                headers["Content-Range"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
                data = data[start : end + 1]
                status = 206
        self._send(status, data, headers, head)

    # ------------------------------------------------------------------ test helpers
    def test_log(self, query, head):
        with self.state.lock:
            self._json(list(self.state.log))

    def test_commits(self, query, head, repo):
        r = self._repo(repo)
        self._json([{"oid": c.oid, "title": c.title, "files": sorted(c.files)} for c in r.commits.values()])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--port-file", required=True, help="where to write the port once listening")
    parser.add_argument("--token", help="bearer token required for writes")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.token)  # type: ignore[attr-defined]

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
