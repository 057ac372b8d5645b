"""`vitrina predict` and the Predictor behind it, with the committed default model: real photos
and every kind of bad input, in one batch that must not crash."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from catalog.evidence import NO_EVIDENCE, PostText
from catalog.models import Photo, Post
from catalog.taxonomy import CATEGORIES, COLOURS, ReviewStatus
from classifier.images import UnreadableImage, load_rgb
from classifier.inference import Predictor
from classifier.labelling import classify_catalog
from classifier.model import InvalidModel, VitrinaModel, default_model_dir, load_model
from tests.support.classifier_support import dataset, photos, rows, store_photos
from tests.support.common import write_config
from vitrina_cli.main import app


@pytest.fixture(scope="module")
def model() -> VitrinaModel:
    return load_model(default_model_dir())


def make_bad_inputs(folder: Path) -> dict[str, Path]:
    """One file per kind of awkward input, made from a real photo where it matters."""
    folder.mkdir(parents=True, exist_ok=True)
    real = photos("T-Shirt", 1)[0]
    raw = real.read_bytes()
    img = Image.open(real).convert("RGB")
    files = {
        "corrupt": folder / "corrupt.jpg",
        "truncated": folder / "truncated.jpg",
        "not_an_image": folder / "notes.jpg",
        "empty": folder / "empty.png",
        "greyscale": folder / "grey.jpg",
        "cmyk": folder / "cmyk.jpg",
        "png_alpha": folder / "alpha.png",
        "animated_gif": folder / "anim.gif",
        "huge": folder / "huge.png",
        "missing": folder / "missing.jpg",
    }
    files["corrupt"].write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20)
    files["truncated"].write_bytes(raw[: len(raw) // 2])
    files["not_an_image"].write_text("price list: 12 EUR\n", encoding="utf-8")
    files["empty"].write_bytes(b"")
    img.convert("L").save(files["greyscale"])
    img.convert("CMYK").save(files["cmyk"])
    rgba = img.convert("RGBA")
    alpha = Image.new("L", img.size, 0)
    alpha.paste(255, (60, 60, img.size[0] - 60, img.size[1] - 60))
    rgba.putalpha(alpha)
    rgba.save(files["png_alpha"])
    frames = [img.resize((200, 266)), img.resize((200, 266)).rotate(90)]
    frames[0].save(files["animated_gif"], save_all=True, append_images=frames[1:], duration=100)
    Image.new("1", (9000, 5000)).save(files["huge"])  # 45 Mpx, a few kB on disk
    return files


def rows_of(categories: list[str], n: int) -> list[dict[str, str]]:
    return [r for c in categories for r in rows(c, n)]


READABLE = {"greyscale", "cmyk", "png_alpha", "animated_gif"}
REASONS = {
    "corrupt": "corrupt",
    "truncated": "truncated",
    "not_an_image": "not an image",
    "empty": "not an image",
    "huge": "too large",
    "missing": "not found",
}


def test_every_bad_input_is_a_row_with_a_reason(model: VitrinaModel, tmp_path: Path) -> None:
    bad = make_bad_inputs(tmp_path / "in")
    good = photos(None, 5)
    paths = [good[0], *bad.values(), *good[1:]]
    rows = list(Predictor(model, batch_size=4).predict_paths(paths))
    assert [r.path for r in rows] == [str(p) for p in paths]
    by_kind = dict(zip(bad, rows[1 : 1 + len(bad)], strict=True))
    for kind, row in by_kind.items():
        if kind in READABLE:
            assert row.decision in ("auto", "review"), (kind, row.error)
            assert row.category in CATEGORIES and row.colour in COLOURS
        else:
            assert row.decision == "error" and REASONS[kind] in row.error, (kind, row.error)
            assert row.category == "" and row.category_confidence is None
    for row in [rows[0], *rows[1 + len(bad) :]]:
        assert row.decision in ("auto", "review") and not row.error
        assert 0 < row.category_confidence <= 1 and 0 < row.colour_confidence <= 1


def test_transparency_is_flattened_on_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (200, 200), (0, 0, 0, 0)).save(path)
    assert load_rgb(path, 32).min() == 255
    with pytest.raises(UnreadableImage, match="too large"):
        load_rgb(path, 32, max_pixels=100)


def test_batched_and_one_by_one_agree(model: VitrinaModel) -> None:
    paths = photos(None, 6)
    predictor = Predictor(model, batch_size=4)
    batched = list(predictor.predict_paths(paths))
    single = [predictor.predict_one(p) for p in paths]
    for a, b in zip(batched, single, strict=True):
        assert (a.category, a.colour, a.decision) == (b.category, b.colour, b.decision)
        assert a.category_confidence == pytest.approx(b.category_confidence, abs=1e-4)
    probs = predictor.predict_arrays(np.stack([load_rgb(p, model.image_size) for p in paths]))
    assert np.allclose(probs["category"].sum(1), 1, atol=1e-4)
    assert np.allclose(probs["colour"].sum(1), 1, atol=1e-4)


def test_threshold_overrides_change_decisions(model: VitrinaModel) -> None:
    paths = photos(None, 8)
    everything = list(
        Predictor(model, thresholds={"category": 0.0, "colour": 0.0}).predict_paths(paths)
    )
    nothing = list(
        Predictor(model, thresholds={"category": 1.01, "colour": 0.0}).predict_paths(paths)
    )
    assert all(r.decision == "auto" for r in everything)
    assert all(r.decision == "review" for r in nothing)


def test_cli_predict_csv_and_json(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    bad = make_bad_inputs(tmp_path / "in")
    folder = tmp_path / "in"
    good = photos("Shoes", 3)
    runner = CliRunner()
    out_csv = tmp_path / "rows.csv"
    result = runner.invoke(
        app, ["--config", str(cfg), "predict", str(folder), *map(str, good), "--out", str(out_csv)]
    )
    assert result.exit_code == 0, result.output
    with out_csv.open(newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == [
        "path",
        "category",
        "category_confidence",
        "colour",
        "colour_confidence",
        "decision",
        "error",
    ]
    by_name = {Path(r["path"]).name: r for r in table}
    # the folder is expanded to its image files; the text file named .jpg is one of them
    assert by_name["notes.jpg"]["decision"] == "error"
    assert by_name["grey.jpg"]["decision"] in ("auto", "review")
    assert (
        sum(r["decision"] == "error" for r in table) == 5
    )  # corrupt, truncated, notes, empty, huge
    assert {Path(p).name for p in map(str, good)} <= set(by_name)
    assert "unreadable" in result.output

    out_json = tmp_path / "rows.json"
    result = runner.invoke(
        app, ["--config", str(cfg), "predict", str(bad["cmyk"]), "--out", str(out_json)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data[0]["category"] in CATEGORIES and len(data[0]["top"]["colour"]) == 3


def test_cli_predict_refuses_unknown_output_format(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    result = CliRunner().invoke(
        app, ["--config", str(cfg), "predict", str(tmp_path), "--out", str(tmp_path / "x.xlsx")]
    )
    assert result.exit_code == 2 and ".csv or .json" in result.output


def test_cli_evaluate_on_a_dataset_folder(tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    folder = tmp_path / "mini"
    folder.mkdir()
    picked = rows_of(["T-Shirt", "Shoes", "Pants", "Not sure"], 4)
    lines = ["image,category,colour,colour_alt"]
    lines += [
        f"{dataset() / r['image']},{r['category']},{r['colour']},{r['colour_alt']}" for r in picked
    ]
    lines.append(f"{folder / 'gone.jpg'},Dress,red,")  # a listed photo that is missing
    (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    json_out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(cfg),
            "evaluate",
            "--data",
            str(folder),
            "--split",
            "all",
            "--json",
            str(json_out),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(json_out.read_text(encoding="utf-8"))
    assert figures["n"] == 16 and len(figures["unreadable"]) == 1
    assert figures["category"]["n"] == 12 and figures["colour"]["n"] == 16
    assert figures["decision"]["unsure_photos"] == 4
    assert 0 <= figures["category"]["ece"] <= 1
    # Retraining reads this very file through the type that requires every compared figure.
    from catalog.records import EvaluationResult
    from pipeline.retrain import not_worse

    scores = EvaluationResult.from_file(json_out)
    assert scores.n == 16 and scores.category.accuracy == figures["category"]["accuracy"]
    ok, lines = not_worse(scores, scores)
    assert ok and len(lines) == len(EvaluationResult.COMPARED)
    text = " ".join(result.output.split())  # rich wraps at the runner's 80 columns
    assert "macro-F1" in text and "sent to review" in text
    # Issue 14's figures: the runner-up colour counts as right; photos without one apart.
    agreement = figures["agreement"]
    assert agreement["photos_without_alt"] == sum(not r["colour_alt"] for r in picked)
    assert agreement["colour_accuracy_with_alt"] >= figures["colour"]["accuracy"]
    assert "counting the labeller's runner-up colour" in text


# -- photo + words --------------------------------------------------------------------------


def model_copy(tmp_path: Path, *, fusion: str | None = None) -> Path:
    """The default model's folder without its fusion.json (or with `fusion` as its text)."""
    src, dst = default_model_dir(), tmp_path / "model-copy"
    dst.mkdir()
    (dst / "model.keras").symlink_to(src / "model.keras")
    shutil.copy(src / "metadata.json", dst / "metadata.json")
    if fusion is not None:
        (dst / "fusion.json").write_text(fusion, encoding="utf-8")
    return dst


def test_default_model_has_a_fitted_fusion(model: VitrinaModel) -> None:
    assert model.fusion is not None
    for head in ("category", "colour"):
        f = model.fusion.heads[head]
        assert f.fitted_on["converged"] and f.fitted_on["posts"] > 200
        assert 0 < f.threshold < 1 and f.labels == model.labels[head]
        assert set(f.thresholds) == {"agree", "disagree", "none"}
        assert all(0 < t <= 1 for t in f.thresholds.values())
        # the conflict rule's sure photo: the labeller's own label, so never below the image
        # threshold, which for colour also counts the runner-up
        assert f.conflict_threshold is not None
        assert model.thresholds()[head] <= f.conflict_threshold < 1
        # words the photo contradicts on the other head were found less reliable
        assert f.doubt_log_scale < 0
    assert model.fusion.heads["colour"].conflict_threshold > model.thresholds()["colour"] + 0.2
    report = model.fusion.metadata["report"]["photo_and_words"]
    assert report["label_precision"] >= 0.95


def test_rows_without_words_are_as_without_fusion(model: VitrinaModel, tmp_path: Path) -> None:
    """Without words a photo keeps the image's probabilities and is decided on the fusion's
    threshold for photos without words; with an operator's thresholds, on exactly those."""
    plain = load_model(model_copy(tmp_path))
    assert plain.fusion is None and model.fusion is not None
    paths = photos(None, 12)
    no_words = model.fusion.no_words_thresholds(model.thresholds())
    assert no_words != model.thresholds()  # fitted out-of-fold, not the image's own
    before = list(Predictor(plain, batch_size=5, thresholds=no_words).predict_paths(paths))
    for texts in (None, [None] * len(paths), [PostText()] * len(paths)):
        after = list(Predictor(model, batch_size=5).predict_paths(paths, texts))
        for a, b in zip(before, after, strict=True):
            assert a.as_dict(with_top=True) == b.as_dict(with_top=True)
            assert a.decisions == b.decisions and a.image_top == b.image_top == b.top
            assert not any(b.conflict.values()) and b.evidence == NO_EVIDENCE
    own = {"category": 0.7, "colour": 0.8}
    plain_rows = list(Predictor(plain, thresholds=own).predict_paths(paths))
    fused_rows = list(Predictor(model, thresholds=own).predict_paths(paths, [PostText()] * 12))
    assert [r.decisions for r in plain_rows] == [r.decisions for r in fused_rows]


def test_a_damaged_fusion_json_is_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    folder = model_copy(tmp_path, fusion='{"heads": {"colour": {}}}')
    with pytest.raises(InvalidModel, match="fusion.json: not a valid fusion file"):
        load_model(folder)
    cfg = write_config(tmp_path, sqlite_url)
    result = CliRunner().invoke(
        app, ["--config", str(cfg), "predict", str(photos(None, 1)[0]), "--model", str(folder)]
    )
    assert result.exit_code == 2 and "not a valid fusion file" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"file,caption\nx.jpg,red\n", "missing column(s) path, text"),
        (b"path,text\n,red dress\n", "line 2: empty path"),
        (b"path,text\na.jpg,red\na.jpg,blue\n", "line 3: a.jpg already has other words"),
        (b"path,text\na.jpg,\xff\xfe red\n", "not UTF-8"),
    ],
)
def test_cli_predict_refuses_a_bad_captions_file(
    tmp_path: Path, sqlite_url: str, content: bytes, message: str
) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    bad = tmp_path / "captions.csv"
    bad.write_bytes(content)
    photo = str(photos(None, 1)[0])
    runner = CliRunner()
    for path in (bad, tmp_path / "absent.csv"):
        result = runner.invoke(
            app, ["--config", str(cfg), "predict", photo, "--captions", str(path)]
        )
        expected = message if path == bad else "not found"
        assert result.exit_code == 2 and expected in " ".join(result.output.split()), result.output


WORDS = {"T-Shirt": "t-shirt", "Shoes": "shoes", "Pants": "trousers"}
Picked = tuple[list[Path], Path, str, str]  # sure photos, the unsure one, agreeing words, head


def sure_and_unsure(model: VitrinaModel) -> Picked:
    """Real photos the image alone publishes on both heads (of three kinds), and one whose
    labels are both the labeller's but only one head is sure without words: the photo, words
    that agree with it, and the unsure head."""
    predictor = Predictor(model)
    # sure enough to contradict words: from the conflict threshold (fusion.json's), which for
    # colour is above the one labels are published from
    fusion = model.fusion
    assert fusion is not None
    sure_from = {
        h: f.conflict_threshold or predictor.thresholds[h] for h, f in fusion.heads.items()
    }
    sure: dict[str, Path] = {}
    unsure: tuple[Path, str, str] | None = None
    for category in WORDS:
        picked = rows(category, 20)
        paths = [dataset() / r["image"] for r in picked]
        for r, row in zip(picked, predictor.predict_paths(paths), strict=True):
            right = row.category == r["category"] and row.colour == r["colour"]
            confident = all(
                (getattr(row, f"{h}_confidence") or 0.0) >= t for h, t in sure_from.items()
            )
            # sure photos are never red: the tests' other product is a red dress
            if (
                row.decision == "auto"
                and confident
                and right
                and r["colour"] != "red"
                and category not in sure
            ):
                sure[category] = dataset() / r["image"]
            elif unsure is None and right and sorted(row.decisions.values()) == ["auto", "review"]:
                head = next(h for h, v in row.decisions.items() if v == "review")
                unsure = (dataset() / r["image"], f"{r['colour']} {WORDS[category]}", head)
    assert len(sure) == 3 and unsure is not None
    return list(sure.values()), *unsure


@pytest.fixture(scope="module")
def sure_photos(model: VitrinaModel) -> Picked:
    """`sure_and_unsure` once for the module's tests (the same photos each time: one model)."""
    return sure_and_unsure(model)


def test_words_against_a_sure_photo_are_a_conflict(
    model: VitrinaModel, sure_photos: Picked
) -> None:
    sure, unsure, agreeing, head = sure_photos
    texts = [
        PostText(network="shopify", title="Red Dress"),  # plainly another product
        None,
        PostText(network="instagram", caption=""),
        PostText(network="instagram", caption=f"new in: {agreeing} 🔥"),
    ]
    before = list(Predictor(model).predict_paths([*sure, unsure]))
    after = list(Predictor(model).predict_paths([*sure, unsure], texts))
    clash = after[0]
    assert clash.conflict == {"category": True, "colour": True}
    assert clash.decisions == {"category": "review", "colour": "review"}
    assert clash.decision == "review" and clash.image_top == before[0].top
    assert clash.evidence.best("category")[0] == "Dress"
    # no words (None or empty): exactly as the photo alone
    for k in (1, 2):
        assert after[k].as_dict(with_top=True) == before[k].as_dict(with_top=True)
        assert after[k].decisions == before[k].decisions and not any(after[k].conflict.values())
    # agreeing words make the unsure label publishable
    helped = after[3]
    assert before[3].decisions[head] == "review" and helped.decisions[head] == "auto"
    assert getattr(helped, head) == getattr(before[3], head)
    assert getattr(helped, f"{head}_confidence") > getattr(before[3], f"{head}_confidence")
    assert helped.decision == "auto" and not any(helped.conflict.values())
    assert helped.image_top == before[3].top != helped.top


def test_without_fusion_json_words_do_not_change_decisions(
    sure_photos: Picked, tmp_path: Path
) -> None:
    plain = load_model(model_copy(tmp_path))
    sure, unsure, agreeing, head = sure_photos
    paths = [*sure, unsure]
    texts = [PostText(title="Red Dress")] * 3 + [PostText(caption=agreeing)]
    before = list(Predictor(plain).predict_paths(paths))
    after = list(Predictor(plain).predict_paths(paths, texts))
    for a, b in zip(before, after, strict=True):
        assert a.as_dict(with_top=True) == b.as_dict(with_top=True) and a.decisions == b.decisions
        assert not any(b.conflict.values())
    # the words are still read, for moderators to see
    assert after[0].evidence.summary("category").startswith("shop says: Dress")


def test_cli_predict_with_captions(sure_photos: Picked, tmp_path: Path, sqlite_url: str) -> None:
    cfg = write_config(tmp_path, sqlite_url)
    sure, unsure, agreeing, head = sure_photos
    captions = tmp_path / "captions.csv"
    with captions.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "text", "title", "network"])
        w.writerow([str(sure[0]), "", "Red Dress", "shopify"])
        w.writerow([str(unsure), f"new in: {agreeing}", "", "instagram"])
        w.writerow(["nowhere/else.jpg", "black boots", "", ""])  # names no photo given: fine
    out = tmp_path / "rows.csv"
    args = ["--config", str(cfg), "predict", *map(str, [*sure, unsure]), "--out", str(out)]
    runner = CliRunner()
    result = runner.invoke(app, [*args, "--captions", str(captions)])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        table = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    clash, helped = table[sure[0].name], table[unsure.name]
    assert clash["decision"] == "review" and clash["category_conflict"] == "True"
    assert clash["category_text"] == "shop says: Dress (title)"
    assert helped[f"{head}_decision"] == "auto" and helped[f"{head}_conflict"] == "False"
    assert table[sure[1].name]["category_text"] == "" and table[sure[1].name]["decision"] == "auto"
    text = " ".join(result.output.split())
    assert "2 with words, 1 with a photo/words conflict" in text
    assert "1 caption row(s) named no photo given" in text
    # the same photos without --captions: today's columns, and the words' effect is gone
    plain_out = tmp_path / "plain.csv"
    result = runner.invoke(app, [*args[:-1], str(plain_out)])
    assert result.exit_code == 0, result.output
    with plain_out.open(newline="", encoding="utf-8") as f:
        plain = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    assert list(next(iter(plain.values()))) == [
        "path",
        "category",
        "category_confidence",
        "colour",
        "colour_confidence",
        "decision",
        "error",
    ]
    assert plain[unsure.name]["decision"] == "review" and plain[sure[0].name]["decision"] == "auto"
    for name in (sure[1].name, sure[2].name):
        assert {k: table[name][k] for k in plain[name]} == plain[name]


def test_classify_catalog_reads_each_photos_post_words(
    model: VitrinaModel,
    sure_photos: Picked,
    engine: Engine,
    db_url: str,
    settings_for,  # type: ignore[no-untyped-def]
) -> None:
    settings, _ = settings_for(db_url)
    sure, unsure, agreeing, head = sure_photos
    ids = store_photos(engine, settings.media_dir, [sure[0], sure[1], unsure])
    with Session(engine) as session:
        photo_post = [session.get(Photo, i).post_id for i in ids]
        posts = {pid: session.get(Post, pid) for pid in photo_post}
        posts[photo_post[0]].title = "Red Dress"  # a storefront title naming another product
        posts[photo_post[2]].caption = f"new in: {agreeing} #sale"
        for post in posts.values():
            session.add(post)
        session.commit()
    summary = classify_catalog(settings, engine, model=model)
    assert summary.labelled == 3
    with Session(engine) as session:
        status = {i: session.get(Photo, i).status for i in ids}
    assert status[ids[0]] == ReviewStatus.needs_review  # words against a sure photo
    assert status[ids[1]] == ReviewStatus.auto_accepted  # no words: the photo alone, as before
    assert status[ids[2]] == ReviewStatus.auto_accepted  # agreeing words settle its unsure label
