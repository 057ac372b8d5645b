"""Benchmark `vitrina predict`'s runtimes side by side: Keras/TensorFlow vs TFLite, same photos.

    .venv/bin/python benchmarks/predict_bench.py [--runtimes keras,tflite] [--cli] [--model DIR]

The photos are the validation split of ../shared/datasets/clothing (960 photos). Each runtime
runs in a fresh child process (so that each has its own peak RSS and thread pools) that loads the
model, builds the Predictor (for tflite: the export, or its cached copy), labels one batch to
warm up, then labels every photo through `Predictor.predict_paths` (JPEG draft decode in threads
one batch ahead of the model). Printed per runtime: load seconds, photos/s (wall), photos per
CPU-second (user + system of the whole process, less sensitive to a busy machine than wall
time), peak RSS, the ratio to the keras runtime (today's TensorFlow path) and the share of
labels identical to it. `--cli` adds `vitrina predict FILES --out rows.csv` end to end.
Also printed: the CPU model (lscpu) and the 1/5/15-minute load averages before and after.
`--profile` adds, per runtime, where a batch's CPU time goes (decode, colour statistics, the
model, the region head, the embedding, the rows), each stage timed alone on the same batches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "clothing"
VAR = REPO / "var" / "predict_bench"
sys.path.insert(0, str(REPO))
from benchmarks.machine import machine  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def validation_files(limit: int | None) -> list[Path]:
    from classifier import data

    _, val = data.split(data.read_labels(DATASET), 0.2)
    files = sorted(s.path for s in val)
    return files[:limit] if limit else files


def worker(args: argparse.Namespace) -> int:
    """One runtime in this process: timings as JSON on stdout, labels into var/."""
    import numpy as np

    from classifier.inference import Predictor
    from classifier.model import default_model_dir, load_model
    from classifier.runtime import configure_tf_threads

    files = validation_files(args.photos)
    configure_tf_threads()
    t0 = time.perf_counter()
    vm = load_model(args.model or default_model_dir())
    t_model = time.perf_counter() - t0
    predictor = Predictor(vm, batch_size=args.batch_size, runtime=args.worker)
    list(predictor.predict_paths(files[: args.batch_size]))  # trace / plan once
    load = time.perf_counter() - t0
    load_avg = os.getloadavg()[0]
    t1, c1 = time.perf_counter(), time.process_time()
    rows = list(predictor.predict_paths(files))
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    assert all(not r.error for r in rows), [r.error for r in rows if r.error][:3]
    profile = stage_profile(predictor, files) if args.profile else {}
    VAR.mkdir(parents=True, exist_ok=True)
    np.savez(
        VAR / f"{args.worker}.npz",
        paths=np.array([r.path for r in rows]),
        **{h: np.stack([r.probs[h] for r in rows]) for h in ("category", "colour")},
    )
    print(
        json.dumps(
            {
                "runtime": predictor.runtime.name,
                "threads": getattr(predictor.runtime, "threads", None),
                "profile": profile,
                "version": vm.version,
                "photos": len(rows),
                "model_load_s": t_model,
                "load_s": load,
                "wall_s": wall,
                "cpu_s": cpu,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "load_average": load_avg,
            }
        )
    )
    return 0


def stage_profile(predictor, files: list[Path]) -> dict[str, float]:  # noqa: ANN001
    """CPU milliseconds a photo per stage, each stage run alone (no overlap) on every batch:
    where the time goes, not how the overlapped pipeline adds it up."""
    import numpy as np

    from classifier.layers import GarmentColourStats, garment_colour_stats_np

    vm = predictor.model
    layer = next(x for x in vm.keras_model.layers if isinstance(x, GarmentColourStats))
    cpu: dict[str, float] = {}

    def timed(stage: str, f, *a):  # noqa: ANN001, ANN002, ANN202
        c0 = time.process_time()
        out = f(*a)
        cpu[stage] = cpu.get(stage, 0.0) + time.process_time() - c0
        return out

    def decode(batch: list[Path]) -> np.ndarray:
        return np.stack([predictor._decode(f) for f in batch])

    def colour_stats(pixels: np.ndarray) -> np.ndarray:
        return garment_colour_stats_np(pixels, threshold=layer.threshold, softness=layer.softness)

    lite = predictor.runtime.name == "tflite"
    size = predictor.batch_size
    for k in range(0, len(files), size):
        batch = files[k : k + size]
        pixels = timed("decode (JPEG draft, resize)", decode, batch)
        out = timed("runtime.run (the model, its colour statistics)", predictor.runtime.run, pixels)
        if lite:  # keras computes them inside its graph
            timed("  of which colour statistics (NumPy)", colour_stats, pixels)
        maps = {m: out[m] for m in ("spatial", "spatial16") if m in out}
        if predictor.region_head is not None and len(maps) == 2:
            timed("region head (NumPy)", predictor.region_head.regions, maps)
        timed("embedding", vm.embed, out["features"], out["category"], out["colour"])
        probs = {h: out[h] for h in ("category", "colour")}
        timed("rows", predictor.rows_from_probs, [str(f) for f in batch], probs)
    return {stage: 1000 * c / len(files) for stage, c in cpu.items()}


def cli_run(files: list[Path], args: argparse.Namespace) -> dict[str, float]:
    """`vitrina predict` end to end: start-up, model load (cached export), every photo."""
    out_csv = Path("/tmp") / f"vitrina-bench-{os.getpid()}.csv"
    model_args = ["--model", str(args.model)] if args.model else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "vitrina_cli.main", "predict", *map(str, files)]
    cmd += ["--out", str(out_csv), "--batch-size", str(args.batch_size), *model_args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"vitrina predict failed:\n{proc.stdout}\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = out_csv.read_text(encoding="utf-8").count("\n") - 1
    out_csv.unlink()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"photos": rows, "wall_s": wall, "cpu_s": cpu, "rss_mb": after.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photos", type=int, default=None, help="at most N validation photos")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--runtimes", default="keras,tflite")
    ap.add_argument("--cli", action="store_true", help="also time `vitrina predict` end to end")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--profile", action="store_true", help="also time each stage of a batch alone")
    ap.add_argument("--worker", choices=["keras", "tflite"], help=argparse.SUPPRESS)
    ap.add_argument(
        "--record",
        action="store_true",
        help='write the fastest batched figure into the model\'s metadata.json ("throughput")',
    )
    args = ap.parse_args()

    if not (DATASET / "labels.csv").is_file():
        print(f"error: the shared dataset is missing at {DATASET}", file=sys.stderr)
        return 1  # a benchmark without its photos fails, in CI and elsewhere
    if args.worker:
        return worker(args)

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    console = Console(width=180)  # the table is wide; a log file has no terminal width
    console.print(f"before: {machine()}")
    results = {}
    for name in args.runtimes.split(","):
        cmd = [sys.executable, __file__, "--worker", name, "--batch-size", str(args.batch_size)]
        cmd += ["--photos", str(args.photos)] if args.photos else []
        cmd += ["--model", str(args.model)] if args.model else []
        cmd += ["--profile"] if args.profile else []
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    labels = {n: np.load(VAR / f"{n}.npz") for n in results}
    ref_name = "keras" if "keras" in results else next(iter(results))
    ref = results[ref_name]
    table = Table(
        "runtime",
        "photos",
        "load s",
        "photos/s (wall)",
        f"× {ref_name} (wall)",
        "photos/CPU-s",
        f"× {ref_name} (CPU)",
        "peak RSS",
        "load avg",
        "same category",
        "same colour",
        title=f"vitrina predict, model {ref['version']}, batch {args.batch_size}, "
        f"validation photos of {DATASET.name}",
    )
    for name, r in results.items():
        same = {
            h: float(np.mean(labels[name][h].argmax(1) == labels[ref_name][h].argmax(1)))
            for h in ("category", "colour")
        }
        rate, per_cpu = r["photos"] / r["wall_s"], r["photos"] / r["cpu_s"]
        r.update(rate=rate, per_cpu=per_cpu, same=same)
        threads = f" ({r['threads']} × 1 thread)" if r.get("threads") else ""
        table.add_row(
            name + threads,
            str(r["photos"]),
            f"{r['load_s']:.1f}",
            f"{rate:.0f}",
            f"{rate / (ref['photos'] / ref['wall_s']):.2f}×",
            f"{per_cpu:.0f}",
            f"{per_cpu / (ref['photos'] / ref['cpu_s']):.2f}×",
            f"{r['rss_mb']:.0f} MB",
            f"{r['load_average']:.1f}",
            f"{same['category']:.2%}",
            f"{same['colour']:.2%}",
        )
    console.print(table)
    cores = os.cpu_count() or 1
    for name, r in results.items():
        console.print(
            f"{name}: {r['rate']:.0f} photos/s wall-clock at load {r['load_average']:.1f}, "
            f"{r['per_cpu']:.0f} photos per CPU-second (≈ {r['per_cpu'] * cores:.0f} photos/s "
            f"with all {cores} cores to itself)"
        )
    if args.profile:
        stages = Table("CPU ms a photo, each stage alone", *results, title="where the time goes")
        for stage in dict.fromkeys(k for r in results.values() for k in r["profile"]):
            cells = [
                f"{r['profile'][stage]:.2f}" if stage in r["profile"] else ""
                for r in results.values()
            ]
            stages.add_row(stage, *cells)
        console.print(stages)
    console.print(f"after: {machine()}")
    if args.cli:
        c = cli_run(validation_files(args.photos), args)
        console.print(
            f"vitrina predict --out rows.csv (subprocess: start-up, model load, {c['photos']} "
            f"photos): {c['wall_s']:.1f} s, {c['photos'] / c['wall_s']:.0f} photos/s, "
            f"{c['photos'] / c['cpu_s']:.0f} photos per CPU-second, peak RSS {c['rss_mb']:.0f} MB"
        )
    if args.record:  # the same record `vitrina train` writes for a model it has just trained
        from classifier.model import default_model_dir
        from classifier.train import device_description

        best_name = max(results, key=lambda n: results[n]["rate"])
        best = results[best_name]
        meta_path = (args.model or default_model_dir()) / "metadata.json"
        meta = json.loads(meta_path.read_text())
        meta["throughput"] = {
            "photos_per_second": round(best["rate"], 1),
            "photos_per_cpu_second": round(best["per_cpu"], 1),
            "runtime": best_name,
            "photos": best["photos"],
            "batch_size": args.batch_size,
            "device": device_description(),
            "load_average": round(best["load_average"], 1),
            "measured_by": "benchmarks/predict_bench.py --record",
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        console.print(f"recorded in {meta_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
