"""`vitrina predict-text`: label posts from their words alone (no model, no TensorFlow)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from vitrina_cli.common import LABEL_FIELDS, err_console, fail

FIELDS = ["id", *LABEL_FIELDS]
# Both labels at least this strong: the words alone are enough to publish ("auto").
AUTO_STRENGTH = 0.8
# Weaker clues are not labels here (a colour of a part, one of several products).
LABEL_FLOOR = 0.5


def predict_text(
    src: Path = typer.Option(..., "--in", help="CSV with columns id,text (text may be HTML)."),
    out: Path = typer.Option(..., "--out", help="Write one row per input row to FILE.csv."),
) -> None:
    """Label posts from their text: category and colour with the strength of the words' clue;
    decision auto when both are named at least 0.8 strong, else review.

    A row that cannot be read becomes a row with decision=error and the reason."""
    from catalog.evidence import PostText
    from classifier.text import extract

    if not src.is_file():
        fail(f"--in {src}: no such file")
    if out.suffix.lower() != ".csv":
        fail("--out must end in .csv")
    try:
        with src.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in ("id", "text") if c not in columns]
            if missing:
                found = ", ".join(columns) or "none"
                fail(f"--in {src}: missing column(s) {', '.join(missing)} (found: {found})")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        fail(f"--in {src}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except csv.Error as exc:
        fail(f"--in {src}: not a readable CSV ({exc})")
    written = {"auto": 0, "review": 0, "error": 0}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        for n, row in enumerate(rows, start=2):
            result = _label(row, n, PostText, extract)
            written[result["decision"]] += 1
            writer.writerow(result)
    err_console.print(
        f"{len(rows)} row(s): {written['auto']} auto, {written['review']} review, "
        f"{written['error']} unreadable; rows written to {out}",
        highlight=False,
    )


def _label(row: dict, line: int, post_text, extract) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rid = (row.get("id") or "").strip()
    text = row.get("text")
    empty = {k: "" for k in FIELDS}
    if None in row:  # more cells than columns
        return {**empty, "id": rid, "decision": "error", "error": f"line {line}: extra cells"}
    if not rid:
        return {**empty, "decision": "error", "error": f"line {line}: empty id"}
    if text is None:
        return {**empty, "id": rid, "decision": "error", "error": f"line {line}: no text cell"}
    ev = extract(post_text.caption_only(text))
    out = {**empty, "id": rid}
    auto = True
    for head, col in (("category", "category"), ("colour", "colour")):
        best = ev.best(head)
        if best and best[1] >= LABEL_FLOOR:
            out[col], out[f"{col}_confidence"] = best[0], f"{best[1]:.3f}"
            auto = auto and best[1] >= AUTO_STRENGTH
        else:
            auto = False
    out["decision"] = "auto" if auto else "review"
    return out
