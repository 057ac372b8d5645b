"""The model's report: pictures (confusion matrices, reliability diagrams, coverage–precision
curves) and `report.md` with the per-head figures, written next to `model.keras`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from catalog.taxonomy import CATEGORIES, COLOURS  # noqa: E402
from classifier import calibration  # noqa: E402
from classifier.data import Sample  # noqa: E402

BASELINE_FILE = "baseline.json"


def _head_arrays(
    probs: dict[str, np.ndarray], samples: Sequence[Sample], head: str
) -> tuple[np.ndarray, np.ndarray]:
    if head == "category":
        mask = np.array([s.has_category for s in samples])
        y = np.array([CATEGORIES.index(s.category) for s in samples if s.has_category])
        return probs[head][mask], y
    return probs[head], np.array([COLOURS.index(s.colour) for s in samples])


def confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), int)
    np.add.at(m, (y, pred), 1)
    return m


def plot_confusion(path: Path, m: np.ndarray, labels: Sequence[str], title: str) -> None:
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8, 7), dpi=80)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                color = "white" if norm[i, j] > 0.5 else "black"
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_reliability(path: Path, heads: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    fig, axes = plt.subplots(1, len(heads), figsize=(5 * len(heads), 4.5), dpi=80)
    for ax, (head, (conf, correct)) in zip(np.atleast_1d(axes), heads.items(), strict=True):
        bins = calibration.reliability(conf, correct, bins=10)
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        ax.bar(centres, [b["accuracy"] for b in bins], width=0.09, alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.plot(
            [b["confidence"] for b in bins if b["n"]],
            [b["accuracy"] for b in bins if b["n"]],
            "o-",
            color="C1",
            label="accuracy vs mean confidence",
        )
        ece = calibration.expected_calibration_error(conf, correct)
        ax.set_title(f"{head}: ECE {ece:.3f}")
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_coverage(
    path: Path,
    heads: dict[str, tuple[np.ndarray, np.ndarray]],
    thresholds: dict[str, float],
    target: float,
) -> None:
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=80)
    for i, (head, (conf, correct)) in enumerate(heads.items()):
        thr, cov, prec = calibration.coverage_precision(conf, correct)
        ax.plot(cov, prec, color=f"C{i}", label=head)
        accepted = conf >= thresholds[head]
        if accepted.any():
            ax.plot(accepted.mean(), correct[accepted].mean(), "o", color=f"C{i}")
            ax.annotate(
                f"threshold {thresholds[head]:.2f}: {accepted.mean():.0%} auto",
                (accepted.mean(), correct[accepted].mean()),
                textcoords="offset points",
                xytext=(-140, -18 - 14 * i),
                fontsize=8,
            )
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"target precision {target:.0%}")
    ax.axvline(0.65, color="grey", ls=":", lw=1, label="target coverage 65%")
    ax.set_xlabel("coverage (share of photos auto-accepted)")
    ax.set_ylabel("precision of auto-accepted labels")
    ax.set_ylim(0.5, 1.005)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("coverage vs precision (validation split)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(metadata: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    m = metadata["metrics"]
    lines = [
        f"# Report: {metadata['version']}",
        "",
        f"Backbone {metadata['backbone']} ({metadata['pretrained']}), input "
        f"{metadata['image_size']}×{metadata['image_size']}; validation split: "
        f"{metadata['data']['validation']} photos "
        f"(fingerprint `{metadata['data']['fingerprint'][:16]}…`).",
        "",
        "| head | top-1 | top-3 | macro-F1 | ECE (before → after scaling) | T | threshold "
        "| coverage | precision of auto-accepted |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for head in ("category", "colour"):
        h = m[head]
        lines.append(
            f"| {head} | {_pct(h['accuracy'])} | {_pct(h.get('top3_accuracy', 0))} | "
            f"{h['macro_f1']:.3f} | {h.get('ece_before_scaling', 0):.3f} → {h['ece']:.3f} | "
            f"{metadata['temperatures'][head]:.2f} | {h['threshold']:.3f} | "
            f"{_pct(h['coverage'])} | "
            f"{_pct(h['precision_at_threshold'])} |"
        )
    if "precision_as_published" in m["colour"]:
        lines += [
            "",
            "Thresholds chosen as published labels are judged (issue 14): a colour right when it "
            'is the labeller\'s or their runner-up, a "Not sure"/"Other" photo\'s category '
            f"never; on all {m['colour']['n']} photos the published labels are "
            f"{_pct(m['category']['precision_as_published'])} (category, "
            f"{_pct(m['category']['coverage_all_photos'])} published) and "
            f"{_pct(m['colour']['precision_as_published'])} (colour, "
            f"{_pct(m['colour']['coverage_all_photos'])}) right; the table's precision counts "
            "the labeller's label only.",
        ]
    if "accuracy_incl_runner_up" in m["colour"]:
        lines += [
            "",
            f"Colour top-1 counting the labeller's runner-up colour (`colour_alt`) as right too: "
            f"{_pct(m['colour']['accuracy_incl_runner_up'])}.",
        ]
    d = m["decision"]
    lines += [
        "",
        f"Both heads together: {_pct(d['auto_accepted'])} of the labelled validation photos are "
        f"auto-accepted, and {_pct(d['auto_precision_both_heads'])} of those have both labels "
        f'right. {_pct(d["unsure_sent_to_review"])} of the {d["unsure_photos"]} "Not sure"/'
        '"Other" photos go to review.',
    ]
    study = metadata.get("colour_stats_study") or {}
    if "with_colour_stats" in study:
        lines += [
            "",
            f"Garment colour statistics as a second input of the colour head: "
            f"{_pct(study['with_colour_stats'])} with vs {_pct(study['without_colour_stats'])} "
            f"without ({study['note']}).",
        ]
    if baseline:
        lines += [
            "",
            "## Baseline: Korobko et al. 2021, Model 2",
            "",
            baseline.get("description", ""),
            "",
            "| head | baseline top-1 | baseline macro-F1 | baseline ECE | Vitrina top-1 "
            "| Vitrina macro-F1 |",
            "|---|---|---|---|---|---|",
        ]
        for head in ("category", "colour"):
            b = baseline["metrics"][head]
            lines.append(
                f"| {head} | {_pct(b['accuracy'])} | {b['macro_f1']:.3f} | {b['ece']:.3f} | "
                f"{_pct(m[head]['accuracy'])} | {m[head]['macro_f1']:.3f} |"
            )
        lines.append(
            f"\nBaseline training: {baseline.get('seconds', 0):.0f} s, "
            f"{baseline.get('epochs', 0)} epochs, {baseline.get('parameters', 0):,} parameters."
        )
    lines += ["", "## Per class", ""]
    for head in ("category", "colour"):
        lines += [
            f"### {head}",
            "",
            "| label | support | precision | recall | F1 |",
            "|---|---|---|---|---|",
        ]
        for name, row in m[head]["per_class"].items():
            lines.append(
                f"| {name} | {row['support']} | {row['precision']:.3f} | {row['recall']:.3f} | "
                f"{row['f1']:.3f} |"
            )
        lines.append("")
    lines += [
        "## Pictures",
        "",
        "![category confusion](confusion_category.png)",
        "![colour confusion](confusion_colour.png)",
        "![reliability](reliability.png)",
        "![coverage vs precision](coverage_precision.png)",
        "",
    ]
    return "\n".join(lines)


def write_report(
    model_dir: Path,
    metadata: dict[str, Any],
    probs: dict[str, np.ndarray],
    samples: Sequence[Sample],
) -> None:
    """Pictures + report.md for calibrated validation predictions `probs`."""
    model_dir = Path(model_dir)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for head, labels in (("category", CATEGORIES), ("colour", COLOURS)):
        p, y = _head_arrays(probs, samples, head)
        pred = p.argmax(1)
        plot_confusion(
            model_dir / f"confusion_{head}.png",
            confusion(y, pred, len(labels)),
            labels,
            f"{head} (validation, top-1 {np.mean(pred == y):.1%})",
        )
        curves[head] = (p.max(1), pred == y)
    plot_reliability(model_dir / "reliability.png", curves)
    plot_coverage(
        model_dir / "coverage_precision.png",
        curves,
        metadata["thresholds"],
        metadata["target_precision"],
    )
    baseline = None
    if (model_dir / BASELINE_FILE).is_file():
        baseline = json.loads((model_dir / BASELINE_FILE).read_text(encoding="utf-8"))
    (model_dir / "report.md").write_text(markdown(metadata, baseline), encoding="utf-8")


def refresh_markdown(model_dir: Path) -> None:
    """Re-render report.md from metadata.json (e.g. after the baseline was added)."""
    model_dir = Path(model_dir)
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    baseline = None
    if (model_dir / BASELINE_FILE).is_file():
        baseline = json.loads((model_dir / BASELINE_FILE).read_text(encoding="utf-8"))
    (model_dir / "report.md").write_text(markdown(metadata, baseline), encoding="utf-8")
