"""Benchmark `vitrina predict`: batched photos/s vs a naive one-photo-per-call loop, same run.

    .venv/bin/python benchmarks/predict_bench.py [--photos 1000] [--naive 300] [--model DIR]

Three measurements on the same photos of the shared dataset:
1. `vitrina predict FILES… --out rows.csv` as a subprocess: wall time including Python/TensorFlow
   start-up and model loading, and the subprocess's peak RSS;
2. the same batched pipeline in-process after loading (JPEG draft decode in threads, batches of
   [classifier] batch_size, one compiled model call per batch): the steady-state throughput;
3. one photo per call through the same Predictor (draft decode, compiled function, batch of 1);
4. the naive loop: Pillow full-size decode + resize + `model.predict` on one photo, repeat.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--naive", type=int, default=300, help="photos for the one-by-one loops")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument(
        "--record",
        action="store_true",
        help='write the batched figure into the model\'s metadata.json ("throughput")',
    )
    args = ap.parse_args()

    if not (DATASET / "images").is_dir():
        print(f"error: the shared dataset is missing at {DATASET}", file=sys.stderr)
        return 1  # a benchmark without its photos fails, in CI and elsewhere
    files = sorted((DATASET / "images").glob("*.jpg"))[: args.photos]

    from rich.console import Console
    from rich.table import Table

    console = Console()
    out_csv = Path("/tmp") / f"vitrina-bench-{os.getpid()}.csv"
    model_args = ["--model", str(args.model)] if args.model else []
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitrina_cli.main",
            "predict",
            *map(str, files),
            "--out",
            str(out_csv),
            "--batch-size",
            str(args.batch_size),
            *model_args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    cli_seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        return 1
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli_rss_mb = child.ru_maxrss / 1024
    cli_cpu = child.ru_utime + child.ru_stime
    rows = out_csv.read_text(encoding="utf-8").count("\n") - 1
    out_csv.unlink()

    from classifier.inference import Predictor
    from classifier.model import default_model_dir, load_model

    t_load = time.perf_counter()
    vm = load_model(args.model or default_model_dir())
    predictor = Predictor(vm, batch_size=args.batch_size)
    list(predictor.predict_paths(files[: args.batch_size]))  # trace the function once
    load_seconds = time.perf_counter() - t_load

    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    batched_rows = list(predictor.predict_paths(files))
    batched, batched_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert all(not r.error for r in batched_rows)

    naive_files = files[: args.naive]
    predictor.predict_one(naive_files[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for f in naive_files:
        predictor.predict_one(f)
    single, single_cpu = time.perf_counter() - t0, time.process_time() - c0

    # The naive loop a user would write: decode at full size, resize, model.predict per photo.
    import numpy as np
    from PIL import Image

    def naive_one(path: Path) -> dict:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB").resize((vm.image_size, vm.image_size)))
        return vm.keras_model.predict(arr[None], verbose=0)

    naive_one(naive_files[0])
    t0, c0 = time.perf_counter(), time.process_time()
    for f in naive_files:
        naive_one(f)
    naive, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    batched_rate = len(files) / batched
    naive_rate = len(naive_files) / naive
    # Photos per CPU-second do not depend on what else runs on a shared machine; wall-clock does.
    per_cpu = {
        "cli": rows / cli_cpu,
        "batched": len(files) / batched_cpu,
        "single": len(naive_files) / single_cpu,
        "naive": len(naive_files) / naive_cpu,
    }
    table = Table(
        "mode",
        "photos",
        "wall s",
        "photos/s (wall)",
        "vs naive (wall)",
        "CPU s",
        "photos/CPU-s",
        "vs naive (CPU)",
        "peak RSS",
        title=f"vitrina predict, model {vm.version} ({vm.image_size}px), "
        f"{os.cpu_count()} CPU cores",
    )
    for name, label, n, wall, cpu, rss in (
        (
            "cli",
            "vitrina predict --out rows.csv (subprocess: start-up, model load, 1000 photos)",
            rows,
            cli_seconds,
            cli_cpu,
            f"{cli_rss_mb:.0f} MB",
        ),
        (
            "batched",
            f"batched in-process (batch {args.batch_size}, after {load_seconds:.1f} s load)",
            len(files),
            batched,
            batched_cpu,
            f"{rss_mb:.0f} MB (whole benchmark)",
        ),
        (
            "single",
            "one photo per call via Predictor.predict_one",
            len(naive_files),
            single,
            single_cpu,
            "",
        ),
        (
            "naive",
            "naive loop: full decode + resize + model.predict per photo",
            len(naive_files),
            naive,
            naive_cpu,
            "",
        ),
    ):
        table.add_row(
            label,
            str(n),
            f"{wall:.1f}",
            f"{n / wall:.0f}",
            f"{n / wall / naive_rate:.1f}×",
            f"{cpu:.1f}",
            f"{per_cpu[name]:.0f}",
            f"{per_cpu[name] / per_cpu['naive']:.1f}×",
            rss,
        )
    console.print(table)
    cores = os.cpu_count() or 1
    console.print(
        f"load average {load_before:.1f} on {cores} cores while measuring (other jobs share the "
        f"machine). Batched: {batched_rate:.0f} photos/s wall-clock, "
        f"{per_cpu['batched']:.0f} photos per CPU-second, i.e. about "
        f"{per_cpu['batched'] * cores:.0f} photos/s with all {cores} cores to itself; "
        f"{per_cpu['batched'] / per_cpu['naive']:.1f}× the naive loop and "
        f"{per_cpu['batched'] / per_cpu['single']:.1f}× one-per-call in CPU time; "
        f"peak RSS {max(cli_rss_mb, rss_mb):.0f} MB"
    )
    if args.record:  # the same record `vitrina train` writes for a model it has just trained
        import json

        from classifier.train import device_description

        meta_path = (args.model or default_model_dir()) / "metadata.json"
        meta = json.loads(meta_path.read_text())
        meta["throughput"] = {
            "photos_per_second": round(batched_rate, 1),
            "photos": len(files),
            "batch_size": args.batch_size,
            "device": device_description(),
            "load_average": round(load_before, 1),
            "measured_by": "benchmarks/predict_bench.py --record",
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        console.print(f"recorded in {meta_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
