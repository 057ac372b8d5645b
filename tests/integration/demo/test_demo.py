"""`vitrina demo` (what `make run` runs): a filled catalogue and a review queue, then a clean
stop on Ctrl-C. Everything real: emulator over HTTP, pipeline, web app and scheduler processes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx

from crawler.emulator.catalogue import DEMO_PHOTOS
from tests.support.pipeline_support import read_until, rows, scalar

pytest_plugins = ["tests.support.pipeline_fixtures"]


def _vitrina_processes(marker: str) -> list[str]:
    """Command lines of running `vitrina_cli` processes that mention `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "vitrina_cli" in args and marker in args:
            found.append(args)
    return found


def test_demo_fills_the_catalogue_and_stops_cleanly(tmp_path: Path, model_dir: str) -> None:
    work = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    argv = [sys.executable, "-m", "vitrina_cli.main", "demo", "--workdir", str(work)]
    argv += ["--posts-per-shop", "2", "--emulator-port", "0", "--web-port", "0"]
    argv += ["--model", model_dir, "--new-post-every", "3600"]
    demo = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
    )
    try:
        out = read_until(demo, "Ctrl-C stops everything", timeout=240)
        base = re.search(r"catalogue\s+(http://127\.0\.0\.1:\d+)/", out).group(1)  # type: ignore[union-attr]
        login = re.search(r"login: (\S+) / (\S+)", out)
        assert login, out
        assert f"moderators  {base}/moderate" in out
        db = f"sqlite:///{work / 'vitrina.db'}"
        # A filled catalogue: every emulator post stored, every photo labelled or queued.
        assert scalar(db, "SELECT count(*) FROM posts") >= 16
        assert scalar(db, "SELECT count(*) FROM photos WHERE status = 'pending'") == 0
        queue = scalar(
            db, "SELECT count(*) FROM photos WHERE status IN ('needs_review', 'partly_accepted')"
        )
        assert queue > 0
        # The committed real photos (not drawings, not ../shared); besides them only the
        # quirk shop's EXIF-rotated, resized and icon versions of one.
        assert "real photos from demo/photos" in out
        committed = {hashlib.sha256(f.read_bytes()).hexdigest() for f in DEMO_PHOTOS.glob("*.jpg")}
        stored = {r[0] for r in rows(db, "SELECT sha256 FROM photos")}
        assert len(stored & committed) >= 16 and len(stored - committed) <= 3
        # The shops' words reached the catalogue: captions in several languages.
        captions = " ".join(r[0] for r in rows(db, "SELECT caption FROM posts"))
        assert re.search(r"[а-яіїє]", captions) and re.search(r"[a-z]", captions)
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as web:
            assert web.get("/").status_code == 200
            assert web.get("/healthz").json()["database"] == "ok"
            page = web.get("/moderate/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = web.post(
                "/moderate/login",
                data={"name": login.group(1), "password": login.group(2), "csrf_token": token},
            )
            assert r.status_code == 200 and login.group(1) in r.text
            assert web.get("/admin/runs").status_code == 200
        children = _vitrina_processes(str(work))
        assert any(" serve" in c for c in children) and any(" schedule" in c for c in children)
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, rest
    assert "demo stopped" in rest
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
        raise AssertionError("the web app still answers after Ctrl-C")
    except OSError:
        pass
    assert _vitrina_processes(str(work)) == []


def test_demo_photos_are_the_default_models_validation_photos(tmp_path: Path) -> None:
    """demo/photos is what `python -m demo.make_photos` makes: validation photos only (the
    default model never trained on them), with the dataset's own labels."""
    from classifier.data import read_labels, split
    from demo.make_photos import DEFAULT_MODEL, build

    DEFAULT_DATA = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "clothing"

    if not (DEFAULT_DATA / "labels.csv").is_file():
        raise AssertionError(f"{DEFAULT_DATA} is missing: this test needs ../shared")
    meta = json.loads((DEFAULT_MODEL / "metadata.json").read_text(encoding="utf-8"))
    _, val = split(read_labels(DEFAULT_DATA), meta["data"]["val_fraction"])
    truth = {s.key: (s.category, s.colour) for s in val}
    with (DEMO_PHOTOS / "labels.csv").open(newline="", encoding="utf-8") as fh:
        committed = list(csv.DictReader(fh))
    assert len(committed) == 150
    for row in committed:
        assert truth[row["source"]] == (row["category"], row["colour"]), row
    assert {r["category"] for r in committed} >= {"Not sure", "Other"}
    made = build(DEFAULT_DATA, DEFAULT_MODEL, tmp_path / "photos", 150)
    assert made["photos"] == 150 and made["bytes"] <= 4 * 1024 * 1024
    again = (tmp_path / "photos" / "labels.csv").read_text(encoding="utf-8")
    assert again == (DEMO_PHOTOS / "labels.csv").read_text(encoding="utf-8")
