"""Annotation save + get under load: 16 concurrent SDK clients against one server.

Each client repeatedly saves a 10-annotation list (boxes and polygons) to its own image and
reads it back. Prints p50 / p99 latency of each call and requests per second overall,
next to a same-run baseline: GET /health on the same server by the same 16 clients (the
floor that HTTP, uvicorn and the middleware impose before any database work).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from _server import percentile, start_server


def annotations(seed: int) -> list[dict]:
    out = []
    for i in range(10):
        x, y = 5 + i * 3 + seed % 7, 4 + i * 2
        if i % 2:
            out.append({"name": "car", "type": "bbox", "bounding_box": {"x": x, "y": y, "w": 10, "h": 8}})
        else:
            ring = [{"x": x, "y": y}, {"x": x + 12, "y": y}, {"x": x + 12, "y": y + 9}, {"x": x, "y": y + 9}]
            out.append({"name": "road", "type": "polygon", "polygon": {"paths": [ring]}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    from pictograph import Client

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = start_server(tmp_path, os.environ.get("PICTOGRAPH_BENCH_DATABASE_URL"), "bench",
                              PICTOGRAPH_RATE_LIMIT_ENABLED="false")
        try:
            setup = Client(api_key=server.api_key, base_url=server.base_url)
            project = setup.projects.create("bench-annotations", annotation_types=["bbox", "polygon"],
                                            classes=[{"name": "car", "type": "bbox"}, {"name": "road", "type": "polygon"}])
            image_ids = []
            for index in range(args.clients):
                path = tmp_path / f"img{index}.png"
                Image.new("RGB", (128, 96), (index, 50, 90)).save(path)
                image_ids.append(setup.images.upload(project.id, path).id)

            def run(worker, stop_at: float, call) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
                timings = []
                while time.perf_counter() < stop_at:
                    timings.extend(call(worker))
                return timings

            # Baseline: the health endpoint through the same HTTP stack.
            health_clients = [httpx.Client(base_url=server.base_url) for _ in range(args.clients)]

            def health_call(worker: int) -> list[tuple[str, float]]:
                t0 = time.perf_counter()
                health_clients[worker].get("/health").raise_for_status()
                return [("health", time.perf_counter() - t0)]

            clients = [Client(api_key=server.api_key, base_url=server.base_url) for _ in range(args.clients)]

            def sdk_call(worker: int) -> list[tuple[str, float]]:
                client, image_id = clients[worker], image_ids[worker]
                t0 = time.perf_counter()
                client.annotations.save(image_id, annotations(worker))
                t1 = time.perf_counter()
                got = client.annotations.get(image_id)
                t2 = time.perf_counter()
                assert len(got) == 10
                return [("save", t1 - t0), ("get", t2 - t1)]

            results = {}
            for label, call in (("baseline", health_call), ("annotations", sdk_call)):
                stop_at = time.perf_counter() + args.seconds
                start = time.perf_counter()
                with ThreadPoolExecutor(args.clients) as pool:
                    futures = [pool.submit(run, w, stop_at, call) for w in range(args.clients)]
                    timings = [t for f in futures for t in f.result()]
                results[label] = (timings, time.perf_counter() - start)
        finally:
            server.stop()

    base_timings, base_elapsed = results["baseline"]
    timings, elapsed = results["annotations"]
    base_rps = len(base_timings) / base_elapsed
    rps = len(timings) / elapsed
    print(f"{args.clients} concurrent clients, {args.seconds:.0f} s per phase")
    for kind in ("save", "get"):
        values = [t for k, t in timings if k == kind]
        print(f"annotations.{kind:4s}: p50 {percentile(values, 50) * 1000:6.1f} ms   "
              f"p99 {percentile(values, 99) * 1000:6.1f} ms   n={len(values)}")
    health = [t for _, t in base_timings]
    print(f"baseline GET /health: p50 {percentile(health, 50) * 1000:6.1f} ms   "
          f"p99 {percentile(health, 99) * 1000:6.1f} ms")
    print(f"requests/s: annotations {rps:.0f}, baseline {base_rps:.0f}, ratio {rps / base_rps:.2f}")


if __name__ == "__main__":
    main()
