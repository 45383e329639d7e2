"""Upload throughput: ``upload_dataset_from_folder`` against plain httpx PUTs to a bare endpoint.

Both sides move the same 500 JPEGs (~100 KB each) with 8 threads. The baseline endpoint is a
minimal Starlette app on uvicorn that streams each body to a file, i.e. the cost of moving
bytes over loopback HTTP and onto disk with nothing else; the ratio is what the three-step
signed-URL flow (URL, PUT, register with decode and database insert) costs on top.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from _server import start_server

BARE_APP = r'''
import sys, uuid, pathlib
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
import uvicorn
out = pathlib.Path(sys.argv[2])
async def put(request):
    with (out / uuid.uuid4().hex).open("wb") as fh:
        async for chunk in request.stream():
            fh.write(chunk)
    return Response(status_code=200)
async def health(request):
    return Response("ok")
app = Starlette(routes=[Route("/put", put, methods=["PUT"]), Route("/health", health)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''


def make_images(folder: Path, count: int) -> int:
    rng = np.random.default_rng(0)
    total = 0
    for index in range(count):
        sub = folder / f"class{index % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 255, (1, 1, 3))
        noise = rng.integers(0, 90, (360, 480, 3))
        pixels = np.clip(base + noise, 0, 255).astype("uint8")
        path = sub / f"img_{index:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=92)
        total += path.stat().st_size
    return total


def baseline(files: list[Path], workers: int, scratch: Path) -> float:
    from tests.live_server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(scratch)])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(limits=httpx.Limits(max_connections=workers)) as client:
            def put(path: Path) -> None:
                client.put(f"{url}/put", content=path.read_bytes(),
                           headers={"Content-Type": "image/jpeg"}).raise_for_status()

            start = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(put, files))
            return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    from pictograph import Client
    from pictograph.workflows import upload_dataset_from_folder

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        folder = tmp_path / "images"
        total_bytes = make_images(folder, args.images)
        files = sorted(folder.rglob("*.jpg"))
        print(f"{len(files)} JPEGs, mean {total_bytes / len(files) / 1024:.0f} KB")

        (tmp_path / "bare").mkdir()
        base_s = baseline(files, args.workers, tmp_path / "bare")

        (tmp_path / "server").mkdir()
        server = start_server(tmp_path / "server", os.environ.get("PICTOGRAPH_BENCH_DATABASE_URL"),
                              "sqlite", PICTOGRAPH_RATE_LIMIT_ENABLED="false")
        try:
            client = Client(api_key=server.api_key, base_url=server.base_url)
            start = time.perf_counter()
            report = upload_dataset_from_folder(client, "bench-upload", folder, max_workers=args.workers)
            ours_s = time.perf_counter() - start
            assert report.images_uploaded == len(files), report.failures[:3]
        finally:
            server.stop()

    n = len(files)
    print(f"baseline  plain httpx PUT, bare endpoint : {n / base_s:7.1f} images/s  ({base_s:.2f} s)")
    print(f"pictograph upload_dataset_from_folder     : {n / ours_s:7.1f} images/s  ({ours_s:.2f} s)")
    print(f"ratio (pictograph / baseline throughput)  : {base_s / ours_s:.2f}")


if __name__ == "__main__":
    main()
