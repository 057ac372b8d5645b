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
    cli_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = out_csv.read_text(encoding="utf-8").count("\n") - 1
    out_csv.unlink()

    from classifier.inference import Predictor
    from classifier.model import default_model_dir, load_model

    t_load = time.perf_counter()
    vm = load_model(args.model or default_model_dir())
    predictor = Predictor(vm, batch_size=args.batch_size)
    list(predictor.predict_paths(files[: args.batch_size]))  # trace the function once
    load_seconds = time.perf_counter() - t_load

    t0 = time.perf_counter()
    batched_rows = list(predictor.predict_paths(files))
    batched = time.perf_counter() - t0
    assert all(not r.error for r in batched_rows)

    naive_files = files[: args.naive]
    predictor.predict_one(naive_files[0])
    t0 = time.perf_counter()
    for f in naive_files:
        predictor.predict_one(f)
    single = time.perf_counter() - t0

    # The naive loop a user would write: decode at full size, resize, model.predict per photo.
    import numpy as np
    from PIL import Image

    def naive_one(path: Path) -> dict:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB").resize((vm.image_size, vm.image_size)))
        return vm.keras_model.predict(arr[None], verbose=0)

    naive_one(naive_files[0])
    t0 = time.perf_counter()
    for f in naive_files:
        naive_one(f)
    naive = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    single_rate = len(naive_files) / single

    batched_rate = len(files) / batched
    naive_rate = len(naive_files) / naive
    table = Table(
        "mode",
        "photos",
        "seconds",
        "photos/s",
        "vs naive",
        "peak RSS",
        title=f"vitrina predict, model {vm.version} ({vm.image_size}px), "
        f"{os.cpu_count()} CPU cores",
    )
    table.add_row(
        "vitrina predict (CLI, incl. start-up + model load)",
        str(rows),
        f"{cli_seconds:.1f}",
        f"{rows / cli_seconds:.0f}",
        f"{rows / cli_seconds / naive_rate:.1f}×",
        f"{cli_rss_mb:.0f} MB",
    )
    table.add_row(
        f"batched in-process (batch {args.batch_size}, after {load_seconds:.1f} s load)",
        str(len(files)),
        f"{batched:.1f}",
        f"{batched_rate:.0f}",
        f"{batched_rate / naive_rate:.1f}×",
        f"{rss_mb:.0f} MB (this process)",
    )
    table.add_row(
        "one photo per call via Predictor.predict_one (draft decode, compiled)",
        str(len(naive_files)),
        f"{single:.1f}",
        f"{single_rate:.0f}",
        f"{single_rate / naive_rate:.1f}×",
        "",
    )
    table.add_row(
        "naive loop: full decode + resize + model.predict, one photo per call",
        str(len(naive_files)),
        f"{naive:.1f}",
        f"{naive_rate:.0f}",
        "1.0×",
        "",
    )
    console.print(table)
    console.print(
        f"batched {batched_rate:.0f} photos/s = {batched_rate / naive_rate:.1f}× the naive loop "
        f"and {batched_rate / single_rate:.1f}× one-per-call via the Predictor; "
        f"CLI end to end {rows / cli_seconds:.0f} photos/s; "
        f"peak RSS {max(cli_rss_mb, rss_mb):.0f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
