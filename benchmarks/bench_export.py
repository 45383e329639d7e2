"""Export at scale: every format over a synthetic dataset, against a same-run in-memory COCO baseline.

The dataset (default 100,000 images with 10 annotations each — 5 boxes and 5 polygons, so
1,000,000 annotations) is inserted straight into a fresh SQLite database with executemany:
image rows without blobs, exported with ``include_images=False``. No HTTP is involved.

For every format, :func:`pictograph.server.jobs.export_job.write_export` (the export job's
core: keyset pages from the database → ExportImage items → the format's streaming writer →
a ZIP renamed into the blob store) runs over it. The baseline, in the same run, is the naive
way: read the same rows, build the whole COCO dictionary in memory, ``json.dump`` it into a
deflated ZIP entry.

Each measurement runs in a fresh subprocess: a plain run gives the time and the growth of the
resident set (the high-water mark during the run minus the resident set before it); a second
run under ``tracemalloc`` gives the peak of Python allocations (tracemalloc slows the export
about five times, so that run is not timed, and by default it is made at the small size
only). The whole matrix runs at two sizes, N/10 and N images, to show whether memory grows
with the dataset.

    python benchmarks/bench_export.py                  # 10,000 and 100,000 images (1,000,000 annotations)
    python benchmarks/bench_export.py --images 20000   # a quicker run
    python benchmarks/bench_export.py --formats coco --trace all --single-size
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

ANNOTATIONS_PER_IMAGE = 10
WIDTH, HEIGHT = 640, 480
CLASSES = [
    {"name": "car", "type": "bbox", "color": "#e6194b"},
    {"name": "person", "type": "bbox", "color": "#3cb44b"},
    {"name": "road", "type": "polygon", "color": "#4363d8"},
    {"name": "building", "type": "polygon", "color": "#f58231"},
]
INSERT_BATCH = 5000


# ───────────── the synthetic dataset ─────────────


def synthetic_annotations(rng: random.Random, index: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k in range(ANNOTATIONS_PER_IMAGE):
        x = round(rng.uniform(0, WIDTH - 80), 2)
        y = round(rng.uniform(0, HEIGHT - 60), 2)
        w = round(rng.uniform(5, 70), 2)
        h = round(rng.uniform(5, 50), 2)
        if k % 2 == 0:
            out.append({
                "id": f"a{index}-{k}", "name": "car" if k % 4 == 0 else "person",
                "type": "bbox", "bounding_box": {"x": x, "y": y, "w": w, "h": h},
                "confidence": 1.0, "attributes": [],
            })  # fmt: skip
        else:
            ring = [
                {"x": x, "y": y}, {"x": x + w / 2, "y": y - 4}, {"x": x + w, "y": y},
                {"x": x + w, "y": y + h}, {"x": x + w / 2, "y": y + h + 3}, {"x": x, "y": y + h},
            ]  # fmt: skip
            out.append({
                "id": f"a{index}-{k}", "name": "road" if k % 4 == 1 else "building", "type": "polygon",
                "polygon": {"paths": [ring]},
                "bounding_box": {"x": x, "y": y - 4, "w": w, "h": h + 7},
                "confidence": 1.0, "attributes": [],
            })  # fmt: skip
    return out


def build_database(directory: Path, images: int) -> dict[str, str]:
    """A migrated SQLite database holding one organization, one project and ``images`` rows."""
    from sqlalchemy import insert

    from pictograph.server.db.engine import Database
    from pictograph.server.db.migrate import upgrade
    from pictograph.server.db.tables import Export, Image, Organization, Project

    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    db = Database(url)
    org_id, project_id, export_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    rng = random.Random(1234)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with db.engine.begin() as conn:
        conn.execute(insert(Organization), [{"id": org_id, "name": "Bench", "slug": "bench"}])
        conn.execute(
            insert(Project),
            [{"id": project_id, "organization_id": org_id, "name": "bench",
              "annotation_types": ["bbox", "polygon"], "classes": CLASSES}],
        )  # fmt: skip
        for first in range(0, images, INSERT_BATCH):
            rows = []
            for index in range(first, min(first + INSERT_BATCH, images)):
                anns = synthetic_annotations(rng, index)
                rows.append({
                    "id": str(uuid.uuid4()), "project_id": project_id, "organization_id": org_id,
                    "filename": f"img_{index:07d}.jpg",
                    "virtual_folder_path": "/" if index % 3 else f"/part{index % 7}",
                    "storage_key": f"orgs/{org_id}/projects/{project_id}/{index:032x}/img.jpg",
                    "file_size": 100_000, "mime_type": "image/jpeg", "width": WIDTH, "height": HEIGHT,
                    "status": "complete", "annotations": anns, "annotation_count": len(anns),
                    "is_archived": False, "created_at": start + timedelta(milliseconds=index),
                    "updated_at": start,
                })  # fmt: skip
            conn.execute(insert(Image), rows)  # executemany
        conn.execute(
            insert(Export),
            [{"id": export_id, "organization_id": org_id, "project_id": project_id, "name": "bench",
              "format": "coco", "include_images": False, "class_filter": None,
              "status_filter": None, "status": "pending"}],
        )  # fmt: skip
    db.dispose()
    return {"url": url, "export_id": export_id, "blobs": str(directory / "blobs")}


# ───────────── one measured run (in its own process) ─────────────


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """VmHWM, the resident high-water mark of this process image (ru_maxrss would carry the
    parent's peak across fork + exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def reset_peak_rss() -> None:
    """Start the high-water mark afresh from the current resident set (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def polygon_area(ring: list[dict[str, float]]) -> float:
    total = 0.0
    for i, p in enumerate(ring):
        q = ring[(i + 1) % len(ring)]
        total += p["x"] * q["y"] - q["x"] * p["y"]
    return abs(total) / 2


def baseline(db: Any, spec: Any, target: Path) -> dict[str, int]:
    """The naive COCO export: the whole dictionary in memory, then one ``json.dump``."""
    from pictograph.server.jobs.export_job import iter_rows

    categories = [{"id": c.id, "name": c.name, "supercategory": ""} for c in spec.classes]
    category_ids = {c.name: c.id for c in spec.classes}
    coco: dict[str, Any] = {
        "info": {"description": spec.dataset_name}, "licenses": [],
        "images": [], "annotations": [], "categories": categories,
    }  # fmt: skip
    next_id = 1
    for image_id, row in enumerate(iter_rows(db, spec), start=1):
        folder = row.virtual_folder_path.strip("/")
        coco["images"].append({
            "id": image_id, "file_name": f"{folder}/{row.filename}" if folder else row.filename,
            "width": row.width, "height": row.height,
        })  # fmt: skip
        for ann in json.loads(row.annotations_json or "[]"):
            entry: dict[str, Any] = {
                "id": next_id, "image_id": image_id, "category_id": category_ids[ann["name"]],
                "iscrowd": 0,
            }  # fmt: skip
            if ann["type"] == "polygon":
                ring = ann["polygon"]["paths"][0]
                box = ann["bounding_box"]
                entry["segmentation"] = [[v for p in ring for v in (p["x"], p["y"])]]
                entry["area"] = polygon_area(ring)
            else:
                box = ann["bounding_box"]
                entry["segmentation"] = []
                entry["area"] = box["w"] * box["h"]
            entry["bbox"] = [box["x"], box["y"], box["w"], box["h"]]
            coco["annotations"].append(entry)
            next_id += 1
    with (
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
        archive.open("annotations.json", "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8") as text,
    ):
        json.dump(coco, text)
    return {
        "image_count": len(coco["images"]),
        "annotation_count": len(coco["annotations"]),
        "file_size": target.stat().st_size,
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
    from pictograph.formats import get_writer
    from pictograph.server.db.engine import Database
    from pictograph.server.jobs.export_job import load_spec, write_export
    from pictograph.server.storage.local import LocalBlobStore

    db = Database(args.url)
    blobs = LocalBlobStore(Path(args.blobs))
    spec = load_spec(db, args.export_id)
    assert spec is not None
    if args.run != "baseline":
        from dataclasses import replace

        spec = replace(spec, format=args.run)
        get_writer(args.run)  # imported before measuring
    import pictograph.server.jobs.export_job  # noqa: F401

    if args.trace:
        tracemalloc.start()
    reset_peak_rss()
    before = rss_bytes()
    started = time.perf_counter()
    if args.run == "baseline":
        counts = baseline(db, spec, Path(args.blobs) / "baseline.zip")
    else:
        result = write_export(db, blobs, spec)
        counts = {
            "image_count": result.image_count,
            "annotation_count": result.annotation_count,
            "file_size": result.file_size,
        }
    seconds = time.perf_counter() - started
    figures: dict[str, Any] = {"seconds": seconds, **counts}
    if args.trace:
        figures["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        figures["rss_growth"] = max(0, peak_rss_bytes() - before)
    db.dispose()
    return figures


def run_child(run: str, setup: dict[str, str], trace: bool) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--child", "--run", run, "--url", setup["url"],
        "--blobs", setup["blobs"], "--export-id", setup["export_id"],
    ]  # fmt: skip
    if trace:
        command.append("--traced")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ───────────── the report ─────────────


def mib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000, help="images in the large dataset (default 100000)")
    parser.add_argument("--formats", default=None, help="comma-separated formats (default: every export format)")
    parser.add_argument(
        "--trace",
        dest="trace_sizes",
        choices=("small", "all", "none"),
        default="small",
        help="where to add a tracemalloc run: at the small size only (default; tracemalloc slows "
        "the export about 5x), at both sizes, or nowhere",
    )
    parser.add_argument("--single-size", action="store_true", help="only the full size, not N/10 as well")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--blobs", help=argparse.SUPPRESS)
    parser.add_argument("--export-id", help=argparse.SUPPRESS)
    parser.add_argument("--traced", dest="trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args)))
        return

    sys.path.insert(0, str(ROOT / "src"))
    from pictograph.formats import EXPORT_FORMATS

    formats = args.formats.split(",") if args.formats else list(EXPORT_FORMATS)
    sizes = [args.images] if args.single_size else [max(1, args.images // 10), args.images]
    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for size in sizes:
            directory = Path(tmp) / str(size)
            directory.mkdir()
            t0 = time.perf_counter()
            setup = build_database(directory, size)
            print(f"{size:,} images / {size * ANNOTATIONS_PER_IMAGE:,} annotations inserted in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
            results[size] = {}
            for run in ["baseline", *formats]:
                figures = run_child(run, setup, trace=False)
                traced_here = args.trace_sizes == "all" or (
                    args.trace_sizes == "small" and size == sizes[0]
                )
                if traced_here and "error" not in figures:
                    traced = run_child(run, setup, trace=True)
                    figures["traced_peak"] = traced.get("traced_peak")
                results[size][run] = figures
                if "error" in figures:
                    print(f"  {run:<11} failed: {figures['error']}", flush=True)
                else:
                    print(f"  {run:<11} {figures['seconds']:7.1f} s  rss +{mib(figures.get('rss_growth')).strip()} MiB"
                          f"  traced peak {mib(figures.get('traced_peak')).strip()} MiB", flush=True)  # fmt: skip

    large = results[sizes[-1]]
    base = large["baseline"]
    print()
    print(f"Export of {sizes[-1]:,} images / {sizes[-1] * ANNOTATIONS_PER_IMAGE:,} annotations "
          f"(include_images=False), SQLite, one process per run")  # fmt: skip
    header = f"{'run':<12}{'seconds':>9}{'× base':>8}{'ZIP MiB':>9}{'RSS+ MiB':>10}{'traced MiB':>11}"
    if len(sizes) > 1:
        header += f"{'RSS+ @' + format(sizes[0], ','):>14}{'traced @' + format(sizes[0], ','):>16}"
    print(header)
    for run, figures in large.items():
        if "error" in figures:
            print(f"{run:<12} failed: {figures['error']}")
            continue
        line = (f"{run:<12}{figures['seconds']:9.1f}{figures['seconds'] / base['seconds']:8.2f}"
                f"{mib(figures['file_size']):>9}{mib(figures.get('rss_growth')):>10}{mib(figures.get('traced_peak')):>11}")  # fmt: skip
        if len(sizes) > 1:
            small = results[sizes[0]].get(run, {})
            line += f"{mib(small.get('rss_growth')):>14}{mib(small.get('traced_peak')):>16}"
        print(line)
    if "coco" in large and "error" not in large["coco"]:
        coco = large["coco"]
        print()
        print(f"COCO time / baseline time: {coco['seconds'] / base['seconds']:.2f} (goal ≤ 2.0)")
        if coco.get("traced_peak") and base.get("traced_peak"):
            print(f"COCO traced peak / baseline traced peak: {coco['traced_peak'] / base['traced_peak']:.3f}")
        if len(sizes) > 1:
            small = results[sizes[0]].get("coco", {})
            if small.get("traced_peak") and coco.get("traced_peak"):
                print(f"COCO traced peak at {sizes[-1]:,} / at {sizes[0]:,} images: "
                      f"{coco['traced_peak'] / small['traced_peak']:.2f} (dataset ×{sizes[-1] / sizes[0]:.0f})")  # fmt: skip
            small_base = results[sizes[0]]["baseline"]
            if small_base.get("traced_peak") and base.get("traced_peak"):
                print(f"baseline traced peak at {sizes[-1]:,} / at {sizes[0]:,} images: "
                      f"{base['traced_peak'] / small_base['traced_peak']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
