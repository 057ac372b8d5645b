"""`make run` / `vitrina demo`: the whole product on one machine, offline, in a few minutes.

1. writes var/demo/config.toml: a SQLite catalogue, the emulator's demo shops (two per network)
   and a schedule every few minutes so the scheduler visibly works;
2. starts the API emulator (a thread here) with the committed real photos (demo/photos: 150
   CC0 photos the default model never trained on, captioned from their labels in ten
   languages), or the photos of VITRINA_DEMO_IMAGES=DIR (labels from VITRINA_DEMO_LABELS or
   DIR/labels.csv), or drawn garments with --synthetic;
3. `vitrina init`, a demo moderator with a fresh random password, `vitrina run-nightly`;
4. starts `vitrina serve` and `vitrina schedule` as child processes and prints where to look;
5. Ctrl-C stops the children (scheduler first, so a run in progress is recorded as interrupted),
   then the emulator.

While it runs the emulator's shops keep posting (one new post every --new-post-every seconds),
so each scheduled run has something new to fetch.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

from rich.console import Console

from pipeline.steps import child_setup

console = Console()

DEMO_USER = "demo"
# The committed default model(s); looked up by path so the demo never loads TensorFlow itself.
DEFAULT_MODELS = Path(__file__).resolve().parents[1] / "classifier" / "models"


@dataclass
class DemoOptions:
    workdir: Path
    posts_per_shop: int = 12
    photos_per_post: int = 2
    emulator_port: int = 8765
    web_port: int = 8000
    cron: str = "*/10 * * * *"
    new_post_every: float = 120.0
    scheduler: bool = True
    fresh: bool = False
    images: str = ""  # "" = the committed demo photos; a folder; SYNTHETIC = drawn garments
    model: str = ""  # a model folder; "" = the committed default model
    labels: str = ""
    # Stop after the first run and the web start (tests); 0 = run until Ctrl-C.
    exit_after: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)


SYNTHETIC = "synthetic"


class DemoError(Exception):
    pass


def free_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else any free port (the demo should just work)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise DemoError("no free TCP port on 127.0.0.1")


def _real_photos(opts: DemoOptions):  # type: ignore[no-untyped-def]
    from crawler.emulator.catalogue import demo_photos, load_real_photos

    if opts.images == SYNTHETIC:
        return None
    if not opts.images:
        try:
            return demo_photos()
        except (OSError, ValueError) as exc:
            raise DemoError(f"cannot use the demo photos: {exc}") from exc

    folder = Path(opts.images).expanduser()
    labels = Path(opts.labels).expanduser() if opts.labels else folder / "labels.csv"
    if not folder.is_dir():
        raise DemoError(f"VITRINA_DEMO_IMAGES={opts.images}: not a folder")
    if not labels.is_file():
        raise DemoError(f"no labels CSV at {labels} (set VITRINA_DEMO_LABELS)")
    try:
        return load_real_photos(folder, labels)
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot use the photos in {folder}: {exc}") from exc


class Demo:
    def __init__(self, opts: DemoOptions) -> None:
        self.opts = opts
        self.work = opts.workdir.resolve()
        self.cfg = self.work / "config.toml"
        self.logs = self.work / "logs"
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.emulator = None
        self.stop_event = threading.Event()

    # ---- helpers ----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
        env.update(self.opts.extra_env)
        env["VITRINA_CONFIG"] = str(self.cfg)
        return env

    def vitrina(self, *args: str, stdin: str | None = None, quiet: bool = False) -> int:
        argv = [sys.executable, "-m", "vitrina_cli.main", "--config", str(self.cfg), *args]
        out = subprocess.run(
            argv,
            input=stdin.encode() if stdin is not None else None,
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            env=self.env(),
            preexec_fn=child_setup,  # own session (Ctrl-C is ours to handle), dies with us
        )
        return out.returncode

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        argv = [sys.executable, "-m", "vitrina_cli.main", "--config", str(self.cfg), *args]
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=self.env(), preexec_fn=child_setup
        )
        log.close()
        self.children.append((name, proc))
        return proc

    # ---- steps ------------------------------------------------------------------------------
    def demo_model(self) -> Path:
        """A model for the emulator's synthetic garments, trained once and then reused."""
        from demo.synthetic import train_tiny_model, write_dataset

        out = self.work / "models" / "synthetic-lite0-128"
        if (out / "model.keras").is_file():
            return out
        with console.status(
            "training the demo's model for the emulator's synthetic garments "
            "(about a minute, once; real photos use the committed model)…"
        ):
            data = self.work / "models" / "synthetic-garments"
            write_dataset(data, per_category=40)
            log = self.logs / "train-demo-model.log"
            train_tiny_model(out, data, epochs=60, pretrained=True, image_size=128, log=log)
        console.print(f"[green]✓[/] demo model trained: {out}", highlight=False)
        return out

    def write_config(self) -> None:
        assert self.emulator is not None
        db = self.work / "vitrina.db"
        self.cfg.write_text(
            "# Written by `vitrina demo` (`make run`) on every start; edits last until the next.\n"
            f'[database]\nurl = "sqlite:///{db}"\n\n'
            f'[storage]\nmedia_dir = "{self.work / "media"}"\n\n'
            + (f'[classifier]\nmodel_dir = "{self.opts.model}"\n\n' if self.opts.model else "")
            + f'[web]\nport = {self.web_port}\nsecret_key = "{secrets.token_urlsafe(32)}"\n\n'
            f'[schedule]\ncron = "{self.opts.cron}"\nlog_dir = "{self.logs}"\n'
            "misfire_grace_seconds = 300\n\n" + self.emulator.config_toml() + "\n",
            encoding="utf-8",
        )

    def start_emulator(self) -> None:
        from crawler.emulator.catalogue import Catalogue
        from crawler.emulator.server import EmulatorServer

        catalogue = Catalogue.demo(
            posts_per_shop=self.opts.posts_per_shop,
            photos_per_post=self.opts.photos_per_post,
            real_photos=_real_photos(self.opts),
        )
        port = free_port(self.opts.emulator_port)
        self.emulator = EmulatorServer(catalogue, port=port).start()
        shops = len(catalogue.shops)
        photos = {SYNTHETIC: "drawn garments", "": "real photos from demo/photos"}.get(
            self.opts.images, f"real photos from {self.opts.images}"
        )
        console.print(
            f"[green]✓[/] emulator on {self.emulator.base_url}: {shops} shops, "
            f"{catalogue.post_count()} posts ({photos})",
            highlight=False,
        )

    def keep_posting(self) -> None:
        """The shops post something new now and then, for the scheduled runs to find."""
        assert self.emulator is not None
        shops = cycle(sorted(self.emulator.catalogue.shops))
        while not self.stop_event.wait(self.opts.new_post_every):
            network, handle = next(shops)
            per_post = 1 if network == "shopify" else self.opts.photos_per_post
            self.emulator.add_posts(network, handle, 1, per_post)

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.children:
                if proc.poll() is not None:
                    raise DemoError(
                        f"{name} exited with status {proc.returncode}; see {self.logs / name}.log"
                    )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our URL
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise DemoError(f"{url} did not answer within {timeout:.0f} s; see {self.logs}/web.log")

    def stop(self) -> None:
        self.stop_event.set()
        # Scheduler first: a run in progress stops its step and is recorded as interrupted.
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                console.print(f"  stopping {name}…", highlight=False)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(self.children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                console.print(f"  [yellow]{name} did not stop in 20 s; killing it[/]")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    # ---- the whole thing --------------------------------------------------------------------
    def run(self) -> int:
        if (
            self.opts.model not in ("", "default")
            and not (Path(self.opts.model) / "model.keras").is_file()
        ):
            console.print(f"[bold red]error:[/] --model {self.opts.model}: no model.keras there")
            return 2
        if self.opts.fresh and self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        committed = sorted(DEFAULT_MODELS.glob("*/model.keras"))
        if self.opts.model == "default":
            if not committed:
                console.print(
                    f"[bold red]error:[/] --model default: no model under {DEFAULT_MODELS}"
                )
                return 2
            self.opts.model = ""  # [classifier] model_dir empty: the committed model
        elif not self.opts.model and (self.opts.images == SYNTHETIC or not committed):
            # Synthetic garments: a model trained on the same renderer (see demo/synthetic.py).
            try:
                self.opts.model = str(self.demo_model())
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                console.print(f"[bold red]error:[/] {exc}", highlight=False)
                return 1
        self.web_port = free_port(self.opts.web_port)
        interrupted = threading.Event()

        def on_signal(_sig, _frame):  # type: ignore[no-untyped-def]
            interrupted.set()
            raise KeyboardInterrupt

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        t0 = time.monotonic()
        try:
            self.start_emulator()
            self.write_config()
            if self.vitrina("init") != 0:
                raise DemoError("vitrina init failed (see above)")
            password = secrets.token_urlsafe(9)
            self.vitrina("moderators", "remove", DEMO_USER, quiet=True)  # demo-only catalogue
            if self.vitrina("moderators", "add", DEMO_USER, stdin=password + "\n") != 0:
                raise DemoError("could not create the demo moderator (see above)")
            console.rule("first pipeline run: crawl → classify → publish")
            rc = self.vitrina("run-nightly")
            if rc not in (0, 1):  # 1 = partial: still worth showing
                raise DemoError(f"the pipeline run failed (exit status {rc}); see `vitrina runs`")
            self.spawn("web", "serve")
            if self.opts.scheduler:
                self.spawn("scheduler", "schedule")
            base = f"http://127.0.0.1:{self.web_port}"
            self.wait_http(f"{base}/healthz")
            threading.Thread(target=self.keep_posting, daemon=True, name="posting").start()
            console.rule("Vitrina is running")
            console.print(
                f"  catalogue   {base}/\n"
                f"  moderators  {base}/moderate   login: [bold]{DEMO_USER}[/] / "
                f"[bold]{password}[/]\n"
                f"  runs        {base}/admin/runs   metrics {base}/metrics\n"
                f"  scheduler   every run of '{self.opts.cron}' (logs: {self.logs})\n"
                f"  config      {self.cfg}   (try: VITRINA_CONFIG={self.cfg} vitrina runs)\n"
                f"ready in {time.monotonic() - t0:.0f} s; Ctrl-C stops everything",
                highlight=False,
            )
            deadline = time.monotonic() + self.opts.exit_after if self.opts.exit_after else None
            while deadline is None or time.monotonic() < deadline:
                for name, proc in self.children:
                    if proc.poll() is not None:
                        raise DemoError(
                            f"{name} stopped unexpectedly (status {proc.returncode}); "
                            f"see {self.logs / name}.log"
                        )
                time.sleep(0.5)
            return 0
        except KeyboardInterrupt:
            console.print("\n[yellow]stopping…[/]")
            return 0
        except DemoError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
            console.print(
                "[green]✓[/] demo stopped" + (" (Ctrl-C)" if interrupted.is_set() else "")
            )
