#!/usr/bin/env python3
"""A small look-alike of the Hugging Face hub for loam's store tests.

Standard library only. Serves repos made of fixture files with the routes
huggingface_hub uses and the headers it reads:

  GET  /api/models/{repo}[/revision/{rev}][?blobs=true]  siblings (rfilename, blobId, size, lfs.sha256)
  GET  /api/models/{repo}/tree/{rev}[/{path}]            tree entries
  HEAD|GET /{repo}/resolve/{rev}/{path}                  LFS files: 302 to /cdn/{sha256} with
                                                         X-Repo-Commit, X-Linked-Etag, X-Linked-Size;
                                                         others: 200 with ETag (git blob sha1)
  GET  /cdn/{sha256}                                     the bytes (Range requests: 206 / 416)

Repos: loam-test/stories260k (safetensors, with original/ and other
frameworks' decoy files loam must skip), loam-test/llama31 (sharded),
bartowski/Llama-3.2-1B-Instruct-GGUF (two GGUF files named by their
quantization), loam-test/gated (needs `Authorization: Bearer hf_loam_test`),
loam-test/corrupt (lists a wrong sha256 for model.safetensors), loam-test/huge
(lists model.safetensors as 1 PiB).

  hub_lookalike.py --fixtures DIR --port-file F [--log F] [--cut NAME:BYTES]
  hub_lookalike.py --fixtures DIR --make-cache CACHE REPO   (writes the cache as huggingface_hub does, then exits)
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse

TOKEN = "hf_loam_test"
LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pth", ".msgpack", ".model", ".h5")


def repo_files(fixtures):
    """{repo: {"files": {path: bytes}, "gated": bool, "bad_sha": set(paths)}}"""
    def folder(rel, skip=("golden", "tokenizer_cases")):
        d = os.path.join(fixtures, rel)
        out = {}
        for name in sorted(os.listdir(d)):
            if not name.startswith(skip):
                with open(os.path.join(d, name), "rb") as f:
                    out[name] = f.read()
        return out

    stories = folder("llm/stories260k")
    decoys = dict(stories)
    decoys.update({
        "README.md": b"---\nlicense: mit\n---\n# stories260k\n",
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        "original/params.json": b'{"dim": 64}\n',
        "original/consolidated.00.pth": b"\7" * 70000,
        "pytorch_model.bin": b"\0" * 50000,
        "flax_model.msgpack": b"\1" * 30000,
        "onnx/model.onnx": b"\2" * 20000,
    })
    with open(os.path.join(fixtures, "gguf/stories260k/model-f32.gguf"), "rb") as f:
        gguf_a = f.read()
    with open(os.path.join(fixtures, "gguf/llama31/model-bf16.gguf"), "rb") as f:
        gguf_b = f.read()
    return {
        "loam-test/stories260k": {"files": decoys},
        "loam-test/llama31": {"files": folder("llm/llama31")},
        "bartowski/Llama-3.2-1B-Instruct-GGUF": {"files": {
            "README.md": b"# GGUF\n",
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf": gguf_a,
            "Llama-3.2-1B-Instruct-Q8_0.gguf": gguf_b,
        }},
        "loam-test/gated": {"files": stories, "gated": True},
        "loam-test/corrupt": {"files": stories, "bad_sha": {"model.safetensors"}},
        "loam-test/huge": {"files": stories, "fake_size": {"model.safetensors": 1 << 50}},
    }


def describe(repos):
    """Digests, sizes and a commit id per repo."""
    for name, r in repos.items():
        r.setdefault("gated", False)
        r.setdefault("bad_sha", set())
        r.setdefault("fake_size", {})
        meta = {}
        for path, data in r["files"].items():
            lfs = path.endswith(LFS_SUFFIXES) or len(data) > 10 * 1024 * 1024
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            sha = hashlib.sha256(data).hexdigest()
            if path in r["bad_sha"]:
                sha = hashlib.sha256(b"not the file").hexdigest()
            meta[path] = {"lfs": lfs, "blob": blob, "sha256": sha, "size": r["fake_size"].get(path, len(data))}
        r["meta"] = meta
        r["commit"] = hashlib.sha1((name + json.dumps(sorted((p, m["blob"]) for p, m in meta.items()))).encode()).hexdigest()
        r["by_sha"] = {m["sha256"]: r["files"][p] for p, m in meta.items()}


def sibling(path, m, blobs):
    s = {"rfilename": path}
    if blobs:
        s["blobId"] = m["blob"]
        s["size"] = m["size"]
        if m["lfs"]:
            s["lfs"] = {"sha256": m["sha256"], "size": m["size"], "pointerSize": 134}
    return s


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    repos = {}
    log_path = None
    cut = {}  # file name -> bytes, cut once each
    no_blobs = False  # answer model info with bare file names, as some mirrors do
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def record(self, status):
        if not self.log_path:
            return
        line = json.dumps({"method": self.command, "path": self.path, "status": status,
                           "range": self.headers.get("Range"), "auth": self.headers.get("Authorization")})
        with self.lock, open(self.log_path, "a") as f:
            f.write(line + "\n")

    def send(self, status, body=b"", ctype="application/json", headers=None):
        self.record(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, message, code=None):
        headers = {"X-Error-Code": code} if code else {}
        self.send(status, json.dumps({"error": message}).encode(), headers=headers)

    def find_repo(self, parts):
        for n in (2, 1):
            name = "/".join(parts[:n])
            if name in self.repos:
                return name, parts[n:]
        return None, parts

    def authorized(self, name):
        r = self.repos[name]
        if not r["gated"]:
            return True
        auth = self.headers.get("Authorization")
        if auth is None:
            self.error(401, "Access to model %s is restricted. You must have access to it and be authenticated to access it. Please log in." % name, "GatedRepo")
            return False
        if auth != "Bearer " + TOKEN:
            self.error(403, "Access to model %s is restricted and you are not in the authorized list. Visit https://huggingface.co/%s to ask for access." % (name, name), "GatedRepo")
            return False
        return True

    def revision_ok(self, r, rev):
        return urllib.parse.unquote(rev) in ("main", r["commit"])

    def api(self, parts, query):
        name, rest = self.find_repo(parts)
        if not name:
            return self.error(404, "Repository not found", "RepoNotFound")
        if not self.authorized(name):
            return
        r = self.repos[name]
        blobs = query.get("blobs", [""])[0].lower() in ("1", "true") and not self.no_blobs
        if rest and rest[0] == "tree":
            if len(rest) < 2 or not self.revision_ok(r, rest[1]):
                return self.error(404, "Revision Not Found", "RevisionNotFound")
            prefix = "/".join(rest[2:])
            entries = []
            for p, m in sorted(r["meta"].items()):
                if prefix and not p.startswith(prefix + "/"):
                    continue
                e = {"type": "file", "oid": m["blob"], "size": m["size"], "path": p}
                if m["lfs"]:
                    e["lfs"] = {"oid": m["sha256"], "size": m["size"], "pointerSize": 134}
                entries.append(e)
            return self.send(200, json.dumps(entries).encode())
        if rest and (rest[0] != "revision" or len(rest) < 2 or not self.revision_ok(r, rest[1])):
            return self.error(404, "Revision Not Found", "RevisionNotFound")
        info = {"_id": r["commit"][:24], "id": name, "modelId": name, "sha": r["commit"], "private": False,
                "gated": "manual" if r["gated"] else False, "tags": [],
                "siblings": [sibling(p, m, blobs) for p, m in sorted(r["meta"].items())]}
        self.send(200, json.dumps(info).encode())

    def resolve(self, name, rest):
        if not self.authorized(name):
            return
        r = self.repos[name]
        if len(rest) < 3 or rest[0] != "resolve" or not self.revision_ok(r, rest[1]):
            return self.error(404, "Revision Not Found", "RevisionNotFound")
        path = urllib.parse.unquote("/".join(rest[2:]))
        m = r["meta"].get(path)
        if not m:
            return self.error(404, "Entry not found", "EntryNotFound")
        common = {"X-Repo-Commit": r["commit"]}
        if m["lfs"]:
            common.update({"X-Linked-Etag": '"%s"' % m["sha256"], "X-Linked-Size": str(m["size"]),
                           "ETag": '"%s"' % m["blob"],
                           # another host name, as the hub's CDN is: clients must not send the token there
                           "Location": "http://localhost:%d/cdn/%s?file=%s" % (self.server.server_address[1], m["sha256"], urllib.parse.quote(path))})
            return self.send(302, b"", "text/plain", common)
        common["ETag"] = '"%s"' % m["blob"]
        self.body(r["files"][path], path, common)

    def body(self, data, path, headers):
        size = len(data)
        start = 0
        rng = self.headers.get("Range")
        status = 200
        if rng:
            mt = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not mt or int(mt.group(1)) >= size:
                return self.send(416, b"", "text/plain", {"Content-Range": "bytes */%d" % size})
            start = int(mt.group(1))
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, size - 1, size)
        headers["Accept-Ranges"] = "bytes"
        part = data[start:]
        base = os.path.basename(path)
        with self.lock:
            cut_at = self.cut.pop(base, None) if self.command == "GET" else None
        self.record(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut_at is not None and cut_at < len(part):
            self.wfile.write(part[:cut_at])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(part)

    def cdn(self, sha, query):
        for r in self.repos.values():
            if sha in r["by_sha"]:
                path = query.get("file", [sha])[0]
                return self.body(r["by_sha"][sha], path, {"ETag": '"%s"' % sha})
        # a repo whose listed sha256 is wrong still serves its real bytes
        for r in self.repos.values():
            for p, m in r["meta"].items():
                if m["sha256"] == sha:
                    return self.body(r["files"][p], p, {"ETag": '"%s"' % sha})
        self.error(404, "Not found")

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "models":
            return self.api(parts[2:], query)
        if len(parts) == 2 and parts[0] == "cdn":
            return self.cdn(parts[1], query)
        name, rest = self.find_repo(parts)
        if name:
            return self.resolve(name, rest)
        self.error(404, "Not found")

    do_GET = handle_any
    do_HEAD = handle_any


def make_cache(repos, cache, name):
    """The cache layout huggingface_hub's snapshot_download writes."""
    r = repos[name]
    root = os.path.join(cache, "models--" + name.replace("/", "--"))
    for path, data in r["files"].items():
        m = r["meta"][path]
        etag = m["sha256"] if m["lfs"] else m["blob"]
        blob = os.path.join(root, "blobs", etag)
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        with open(blob, "wb") as f:
            f.write(data)
        link = os.path.join(root, "snapshots", r["commit"], path)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    os.makedirs(os.path.join(root, "refs"), exist_ok=True)
    with open(os.path.join(root, "refs", "main"), "w") as f:
        f.write(r["commit"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--cut", action="append", default=[], help="FILE:BYTES, the first GET of FILE is cut after BYTES")
    ap.add_argument("--make-cache", nargs=2, metavar=("CACHE", "REPO"))
    ap.add_argument("--no-blobs", action="store_true", help="ignore ?blobs=true (bare file names)")
    a = ap.parse_args()
    repos = repo_files(a.fixtures)
    describe(repos)
    if a.make_cache:
        make_cache(repos, *a.make_cache)
        return
    Hub.repos = repos
    Hub.log_path = a.log
    Hub.no_blobs = a.no_blobs
    Hub.cut = {c.rsplit(":", 1)[0]: int(c.rsplit(":", 1)[1]) for c in a.cut}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(tmp, a.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
