"""`vitrina predict-text` as a subprocess: rows out, bad input refused clearly, no TensorFlow."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = (
        "import sys\n"
        "from vitrina_cli.main import app\n"
        "try:\n"
        "    app(prog_name='vitrina')\n"
        "finally:\n"
        "    heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "predict-text", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_labels_rows_and_keeps_going_past_bad_ones(tmp_path: Path) -> None:
    src = tmp_path / "posts.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerow(["p1", "<p>New: &quot;Mila&quot; blouse in beige</p>"])
        w.writerow(["p2", "Dress and jacket, both size M"])
        w.writerow(["", "no id here"])
        w.writerow(["p3", "Платье чёрное, размеры S–M"])
        w.writerow(["p4", "Titan Women Silver Watch"])
        w.writerow(["p5", ""])
        w.writerow(["p6", "Black buttons on a linen shirt"])
        w.writerow(["p7", "Beige blouse", "a stray cell"])
    out = tmp_path / "out" / "labels.csv"
    done = run("--in", str(src), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr  # started without TensorFlow
    got = {r["id"] or f"#{i}": r for i, r in enumerate(rows(out))}
    assert list(rows(out)[0]) == [
        "id",
        "category",
        "category_confidence",
        "colour",
        "colour_confidence",
        "decision",
        "error",
    ]
    assert (got["p1"]["category"], got["p1"]["colour"], got["p1"]["decision"]) == (
        "Blouse",
        "beige",
        "auto",
    )
    assert float(got["p1"]["category_confidence"]) == 0.9
    assert (got["p2"]["category"], got["p2"]["decision"]) == ("", "review")
    assert got["#2"]["decision"] == "error" and "line 4: empty id" in got["#2"]["error"]
    assert (got["p3"]["category"], got["p3"]["colour"]) == ("Dress", "black")
    assert (got["p4"]["category"], got["p4"]["decision"]) == ("", "review")
    assert (got["p5"]["category"], got["p5"]["colour"], got["p5"]["decision"]) == ("", "", "review")
    assert (got["p6"]["category"], got["p6"]["colour"]) == ("Shirt", "")
    assert got["p7"]["decision"] == "error" and "line 9: extra cells" in got["p7"]["error"]
    assert "8 row(s): 2 auto, 4 review, 2 unreadable" in done.stderr


def test_missing_file(tmp_path: Path) -> None:
    done = run("--in", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert done.returncode == 2
    assert "nope.csv: no such file" in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_missing_columns(tmp_path: Path) -> None:
    src = tmp_path / "posts.csv"
    src.write_text("id,caption\n1,Beige blouse\n", encoding="utf-8")
    done = run("--in", str(src), "--out", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert done.returncode == 2
    assert "missing column(s) text (found: id, caption)" in done.stderr


def test_not_utf8(tmp_path: Path) -> None:
    src = tmp_path / "posts.csv"
    src.write_bytes("id,text\n1,Платье чёрное\n".encode("cp1251"))
    done = run("--in", str(src), "--out", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert done.returncode == 2
    assert "not UTF-8 text" in done.stderr and "posts.csv" in done.stderr
    assert not (tmp_path / "o.csv").exists()


def test_out_must_be_csv(tmp_path: Path) -> None:
    src = tmp_path / "posts.csv"
    src.write_text("id,text\n1,Beige blouse\n", encoding="utf-8")
    done = run("--in", str(src), "--out", str(tmp_path / "o.json"), cwd=tmp_path)
    assert done.returncode == 2
    assert "--out must end in .csv" in done.stderr
