"""``pull_model`` against a real HTTP server on 127.0.0.1 speaking the Hub's two endpoints."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pictograph.vision import registry
from pictograph.vision.pull import PullError, pull_model
from pictograph.vision.registry import ModelLocation, get_spec

REPO = get_spec("owlv2").repo_id
FILES = {
    "config.json": b'{"model_type": "owlv2"}',
    "preprocessor_config.json": b"{}",
    "tokenizer.json": b'{"version": "1.0"}',
    "vocab.json": b"{}",
    "merges.txt": b"#version: 0.2\n",
    "model.safetensors": bytes(range(256)) * 40,
    "pytorch_model.bin": b"pickled weights",
    "flax_model.msgpack": b"flax weights",
    "tf_model.h5": b"keras weights",
    "onnx/model.onnx": b"onnx graph",
    "README.md": b"# OWLv2",
    ".gitattributes": b"*.safetensors filter=lfs",
}
NEEDED = {
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "model.safetensors",
}
LFS = (".safetensors", ".bin", ".msgpack", ".h5", ".onnx")


@dataclass
class FakeHub:
    """What the fake Hub serves, and every request it saw as (path, Authorization header)."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def listing(self) -> dict[str, object]:
        siblings = []
        for path, content in self.files.items():
            sibling: dict[str, object] = {"rfilename": path, "size": len(content)}
            if path.endswith(LFS):
                digest = hashlib.sha256(content).hexdigest()
                sibling["lfs"] = {"sha256": digest, "size": len(content), "pointerSize": 130}
            siblings.append(sibling)
        return {"id": REPO, "sha": "0" * 40, "siblings": siblings}

    def downloads(self) -> list[str]:
        return [path.removeprefix("/cdn/") for path, _ in self.requests if path.startswith("/cdn/")]


def handler_for(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    listing_path = f"/api/models/{REPO}/revision/main"
    resolve_prefix = f"/{REPO}/resolve/main/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            hub.requests.append((path, self.headers.get("Authorization")))
            if path == listing_path:
                self.reply(200, json.dumps(hub.listing()).encode(), "application/json")
            elif path.startswith(resolve_prefix) and path[len(resolve_prefix) :] in hub.files:
                self.send_response(302)  # the Hub redirects LFS files to its CDN
                self.send_header("Location", "/cdn/" + path[len(resolve_prefix) :])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path.startswith("/cdn/") and path[5:] in hub.files:
                content = hub.files[path[5:]]
                if path[5:] in hub.corrupt:
                    content = bytes(reversed(content))
                self.reply(200, content, "application/octet-stream")
            else:
                self.reply(404, b'{"error": "Repository not found"}', "application/json")

        def reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ThreadingHTTPServer, FakeHub]]:
    hub = FakeHub()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(hub))
    hub.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, hub
    httpd.shutdown()
    thread.join()
    httpd.server_close()


@pytest.fixture()
def hub(server: tuple[ThreadingHTTPServer, FakeHub], monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """A fresh repository on the fake Hub; no token or endpoint leaks in from the environment."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    fake = server[1]
    fake.files = dict(FILES)
    fake.corrupt = set()
    fake.requests.clear()
    return fake


def present(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def test_pull_downloads_what_transformers_needs(hub: FakeHub, tmp_path: Path) -> None:
    seen: dict[str, tuple[int, int | None]] = {}
    target = pull_model(
        "owlv2",
        tmp_path,
        endpoint=hub.url,
        progress=lambda name, done, total: seen.__setitem__(name, (done, total)),
    )
    assert target == tmp_path / "owlv2"
    assert present(target) == NEEDED
    for name in NEEDED:
        assert (target / name).read_bytes() == FILES[name]
        assert seen[name] == (len(FILES[name]), len(FILES[name]))
    assert sorted(hub.downloads()) == sorted(NEEDED)
    location, reason = registry.locate(get_spec("owlv2"), tmp_path)
    assert location == ModelLocation(target, "models_dir") and reason is None


def test_second_pull_skips_complete_files(hub: FakeHub, tmp_path: Path) -> None:
    pull_model("owlv2", tmp_path, endpoint=hub.url)
    (tmp_path / "owlv2" / "tokenizer.json").unlink()
    (tmp_path / "owlv2" / "model.safetensors").write_bytes(b"truncated")
    hub.requests.clear()
    pull_model("owlv2", tmp_path, endpoint=hub.url)
    assert sorted(hub.downloads()) == ["model.safetensors", "tokenizer.json"]
    assert (tmp_path / "owlv2" / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    hub.requests.clear()
    pull_model("owlv2", tmp_path, endpoint=hub.url)
    assert hub.downloads() == []


def test_corrupt_download_is_rejected_and_removed(hub: FakeHub, tmp_path: Path) -> None:
    hub.corrupt = {"model.safetensors"}
    with pytest.raises(PullError, match="sha256"):
        pull_model("owlv2", tmp_path, endpoint=hub.url)
    left = present(tmp_path / "owlv2")
    assert "model.safetensors" not in left
    assert not [name for name in left if name.endswith(".part")]
    assert not registry.is_weights_dir(tmp_path / "owlv2")


def test_bin_weights_only_without_safetensors(hub: FakeHub, tmp_path: Path) -> None:
    del hub.files["model.safetensors"]
    target = pull_model("owlv2", tmp_path, endpoint=hub.url)
    assert present(target) == NEEDED - {"model.safetensors"} | {"pytorch_model.bin"}


def test_endpoint_and_token_from_the_environment(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url + "/")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    pull_model("owlv2", tmp_path)
    assert hub.requests and all(auth == "Bearer hf_secret" for _, auth in hub.requests)
    hub.requests.clear()
    pull_model("owlv2", tmp_path / "other", token="hf_given")
    assert all(auth == "Bearer hf_given" for _, auth in hub.requests)


def test_http_errors_are_pull_errors(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(PullError, match="404"):
        pull_model("owlv2", tmp_path, endpoint=hub.url, revision="no-such-branch")
    with pytest.raises(PullError):
        pull_model("owlv2", tmp_path, endpoint="http://127.0.0.1:9")  # nothing listens


def test_unknown_and_bundled_names_are_refused(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(PullError, match="unknown model 'nope'"):
        pull_model("nope", tmp_path, endpoint=hub.url)
    with pytest.raises(PullError, match="bundled"):
        pull_model("litemedsam", tmp_path, endpoint=hub.url)
    assert hub.requests == []
    assert not any(tmp_path.iterdir())
