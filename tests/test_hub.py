"""The Hugging Face Hub route, against a loopback HTTP server posing as the Hub
(HF_ENDPOINT=http://127.0.0.1:PORT): download, digest check, offline cache."""
import hashlib
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading

import pytest

import standins
from conftest import ROOT

TESTS = os.path.dirname(os.path.abspath(__file__))


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves files[name] at /<org>/<repo>/resolve/<revision>/<name>, like the Hub.
    revisions: {revision: files} to serve other files at other revisions (then only those)."""

    def __init__(self, files: dict[str, bytes], revisions: dict[str, dict[str, bytes]] | None = None):
        self.files = files
        self.revisions = revisions
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def lookup(self, revision: str, name: str) -> bytes | None:
        files = self.files if self.revisions is None else self.revisions.get(revision, {})
        return files.get(name)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _reply(self, body: bool):
        self.server.requests.append(f"{self.command} {self.path}")
        parts = self.path.split("?")[0].split("/")
        data = self.server.lookup(parts[4], "/".join(parts[5:])) if len(parts) > 5 and parts[3] == "resolve" else None
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", self.path.split("/")[4] if self.server.revisions else "0" * 40)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):
        self._reply(False)

    def do_GET(self):
        self._reply(True)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Tiny checkpoints in the authors' layout, converted by scripts/convert_weights.py."""
    src, out = tmp_path_factory.mktemp("orig"), tmp_path_factory.mktemp("converted")
    standins.write_tiny(str(src), classifiers=2)
    spec = importlib.util.spec_from_file_location("convert_weights", os.path.join(ROOT, "scripts", "convert_weights.py"))
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    written = conv.convert(str(src), str(out), generator_kwargs=standins.TINY_GENERATOR,
                           encoder_kwargs=standins.TINY_ENCODER, classifier_dim=standins.TINY_CLASSIFIER_DIM,
                           flow_kwargs=standins.TINY_FLOW)
    assert "generator.safetensors" in written and "encoder.safetensors" in written
    return {name: (out / name).read_bytes() for name in os.listdir(out)}


def load_in_subprocess(env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    code = ("import json, sys; sys.path.insert(0, %r)\n"
            "import standins\n"
            "from cinegan_core import CineGANError\n"
            "try:\n"
            "    nets = standins.tiny_networks(None)\n"
            "    print(json.dumps(nets.digests))\n"
            "    print(json.dumps(sorted(nets.sources)))\n"
            "except CineGANError as e:\n"
            "    print('ERROR', e); sys.exit(2)\n") % TESTS
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "CINEGAN_"))}
    env.update(PYTHONPATH=ROOT, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1", **env_extra)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)


def serve(files, revisions=None):
    hub = FakeHub(files, revisions)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    return hub


def hub_env(hub, repo="cinegan/weights", **more):
    """The environment that points the loader at the fake hub."""
    return {"CINEGAN_HUB_REPO": repo, "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_port}", **more}


def test_download_from_the_hub_then_offline(converted, tmp_path):
    hub = serve(converted)
    try:
        env = hub_env(hub)
        res = load_in_subprocess(env, tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert {"generator", "encoder", "flow_sky", "classifier_1"} <= set(json.loads(res.stdout.splitlines()[-1]))
        assert any("/cinegan/weights/resolve/main/encoder.safetensors" in r for r in hub.requests)
        assert all("/resolve/main/" in r for r in hub.requests if "/resolve/" in r)  # the default revision
    finally:
        hub.shutdown()
    # the hub is gone; offline mode serves the same files from the local hub cache
    res = load_in_subprocess(dict(env, HF_HUB_OFFLINE="1"), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_corrupted_download_is_caught_by_the_digest(converted, tmp_path):
    files = dict(converted)
    data = bytearray(files["encoder.safetensors"])
    data[-64:] = bytes(64)  # damaged tensor data, same size
    files["encoder.safetensors"] = bytes(data)
    hub = serve(files)
    try:
        env = hub_env(hub)
        res = load_in_subprocess(env, tmp_path)
    finally:
        hub.shutdown()
    assert res.returncode == 2
    assert "sha256 mismatch for encoder.safetensors" in res.stdout


def test_missing_repository_files_are_reported(tmp_path):
    hub = serve({})
    try:
        env = hub_env(hub, "cinegan/empty")
        res = load_in_subprocess(env, tmp_path)
    finally:
        hub.shutdown()
    assert res.returncode == 2 and "sg2-lhq-1024.pt" in res.stdout and "Hub repo cinegan/empty" in res.stdout


def test_lookup_order_prefers_the_named_folder(tmp_path, monkeypatch):
    from cinegan_core import weights as W
    a, b = tmp_path / "a", tmp_path / "b"
    standins.write_tiny(str(a), classifiers=0, flows=False)
    standins.write_tiny(str(b), classifiers=0, flows=False)
    monkeypatch.setenv("CINEGAN_WEIGHTS", str(b))
    monkeypatch.delenv("CINEGAN_HUB_REPO", raising=False)
    assert W.folders(str(a))[:2] == [str(a), str(b)] and W.folders(None)[0] == str(b)
    assert W.locate(W.ENCODER, str(a))[0].startswith(str(a))
    assert W.locate(W.ENCODER, None)[0].startswith(str(b))
    assert W.missing(str(a)) == []
    monkeypatch.delenv("CINEGAN_WEIGHTS")
    assert W.missing(str(tmp_path / "nothing")) == [W.GENERATOR.original, W.ENCODER.original]


def test_downloads_are_pinned_to_the_revision_the_user_sets(converted, tmp_path):
    pinned, later = "1" * 40, "2" * 40
    changed = dict(converted)
    changed.pop("SHA256SUMS")   # the repository moved on: other files, no digests
    hub = serve(converted, revisions={pinned: converted, later: changed, "main": changed})
    try:
        env = hub_env(hub, CINEGAN_HUB_REVISION=pinned)
        res = load_in_subprocess(env, tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        digests = json.loads(res.stdout.splitlines()[-2])
        assert digests["encoder"] == hashlib.sha256(converted["encoder.safetensors"]).hexdigest()
        resolved = [r for r in hub.requests if "/resolve/" in r]
        assert resolved and all(f"/resolve/{pinned}/" in r for r in resolved), resolved
    finally:
        hub.shutdown()
