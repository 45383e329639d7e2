"""``pictograph models pull NAME``: fetch a foundation model's transformers-format weights.

This is the only code in Pictograph that reaches a network, and it runs only when called. It speaks
the Hugging Face Hub's two public endpoints (so any compatible mirror works through
``HF_ENDPOINT``): the revision listing ``/api/models/{repo}/revision/{rev}?blobs=true`` and the
file download ``/{repo}/resolve/{rev}/{path}``. Files go to ``<models_dir>/<name>/``, where
:func:`pictograph.vision.registry.locate` looks first.

Only what transformers needs is fetched: top-level config, processor and tokenizer files and the
safetensors weights (``*.bin`` only when a repository has no safetensors). Each file is written to
a temporary name and renamed once its size and sha256 (when the listing gives them) check out, so
an interrupted or corrupted download never leaves a file that looks complete; files already
complete are skipped, so pulling again fetches only what is missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from pictograph.vision.registry import get_spec, is_weights_dir

DEFAULT_ENDPOINT = "https://huggingface.co"
CONFIG_SUFFIXES = (".json", ".txt", ".model")
"""Configs, processor settings, tokenizer vocabularies and merges, sentencepiece models."""
CHUNK = 1 << 20

Progress = Callable[[str, int, int | None], None]
"""``progress(filename, bytes_done, bytes_total)``; the total is None when the listing lacks it."""


class PullError(Exception):
    """The model cannot be pulled: unknown or bundled name, HTTP failure, or a corrupt file."""


@dataclass(frozen=True)
class _RemoteFile:
    path: str
    size: int | None
    sha256: str | None


def pull_model(
    name: str,
    models_dir: Path,
    *,
    endpoint: str | None = None,
    revision: str = "main",
    token: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download model ``name`` into ``models_dir/<name>/`` and return that directory.

    ``endpoint`` defaults to ``$HF_ENDPOINT`` or the Hugging Face Hub; ``token`` to ``$HF_TOKEN``
    (gated repositories such as ``facebook/sam3`` need one).
    """
    try:
        spec = get_spec(name)
    except KeyError:
        raise PullError(f"unknown model {name!r}") from None
    if spec.repo_id is None:
        raise PullError(f"{name!r} is bundled with its Python package: there is nothing to pull")
    base = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    token = token or os.environ.get("HF_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    target = models_dir / name
    resolve_url = f"{base}/{spec.repo_id}/resolve/{quote(revision, safe='')}"
    timeout = httpx.Timeout(30.0, read=120.0)
    with httpx.Client(headers=headers, timeout=timeout, follow_redirects=True) as client:
        files = _wanted(_list_files(client, base, spec.repo_id, revision))
        target.mkdir(parents=True, exist_ok=True)
        for remote in files:
            _download(client, resolve_url, remote, target, progress)
    if not is_weights_dir(target):
        raise PullError(f"{spec.repo_id}@{revision} has no transformers-format weights")
    return target


def _list_files(client: httpx.Client, base: str, repo_id: str, revision: str) -> list[_RemoteFile]:
    """The repository's files at ``revision``, with sizes and LFS hashes where the Hub has them."""
    url = f"{base}/api/models/{repo_id}/revision/{quote(revision, safe='')}"
    try:
        response = client.get(url, params={"blobs": "true"})
    except httpx.HTTPError as error:
        raise PullError(f"{url}: {error}") from error
    _raise_for_status(response)
    try:
        siblings = response.json()["siblings"]
    except (ValueError, KeyError, TypeError):
        raise PullError(f"{url}: not a model listing") from None
    files = []
    for sibling in siblings:
        lfs = sibling.get("lfs") or {}
        files.append(
            _RemoteFile(
                path=sibling["rfilename"],
                size=lfs.get("size", sibling.get("size")),
                sha256=lfs.get("sha256"),
            )
        )
    return files


def _wanted(files: list[_RemoteFile]) -> list[_RemoteFile]:
    """The files transformers loads: top-level configs, tokenizers and weights, nothing else.

    Sub-folders (ONNX exports, original checkpoints), other frameworks' weights and the README
    are left out; ``*.bin`` weights only count when the repository has no safetensors.
    """
    top = [file for file in files if "/" not in file.path]
    has_safetensors = any(file.path.endswith(".safetensors") for file in top)
    weights = ".safetensors" if has_safetensors else ".bin"
    return [file for file in top if file.path.endswith((*CONFIG_SUFFIXES, weights))]


def _download(
    client: httpx.Client,
    resolve_url: str,
    remote: _RemoteFile,
    target: Path,
    progress: Progress | None,
) -> None:
    """Fetch one file unless it is already complete, verifying it before it takes its name."""
    final = target / remote.path
    if _complete(final, remote):
        if progress:
            progress(remote.path, final.stat().st_size, remote.size)
        return
    partial = target / f".{remote.path}.part"
    digest = hashlib.sha256()
    done = 0
    try:
        with client.stream("GET", f"{resolve_url}/{quote(remote.path)}") as response:
            _raise_for_status(response)
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(remote.path, done, remote.size)
        if remote.size is not None and done != remote.size:
            raise PullError(f"{remote.path}: got {done} bytes, expected {remote.size}")
        if remote.sha256 is not None and digest.hexdigest() != remote.sha256:
            raise PullError(f"{remote.path}: sha256 mismatch (corrupt download)")
        os.replace(partial, final)
    except httpx.HTTPError as error:
        raise PullError(f"{remote.path}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)


def _complete(path: Path, remote: _RemoteFile) -> bool:
    """Already downloaded: present with the listed size and hash (unknown size: fetch again)."""
    if remote.size is None or not path.is_file() or path.stat().st_size != remote.size:
        return False
    return remote.sha256 is None or _sha256(path) == remote.sha256


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    hint = {401: " (a token is needed)", 403: " (accept the model's licence on its page)"}
    raise PullError(
        f"{response.request.url}: HTTP {response.status_code}{hint.get(response.status_code, '')}"
    )
