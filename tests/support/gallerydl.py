"""gallery-dl, the reference client, in its own virtualenv (never a Vitrina dependency), and the
config that points it at the emulator. Used by tests/test_crawler_gallerydl.py and
benchmarks/crawl_vs_gallerydl.py.

Mastodon: gallery-dl takes any instance as `mastodon:http://host:port/@user`. Bluesky: gallery-dl
hard-codes https://api.bsky.app (AppView) and https://plc.directory (DID documents), so the
emulator is its HTTPS proxy: it answers CONNECT tunnels to those hosts with its own self-signed
certificate (`verify: false`); the blobs then come from the PDS named in the DID document — the
emulator's plain-HTTP base URL, fetched without the proxy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import sys
import venv
from pathlib import Path

VERSION = "1.32.0"  # pinned: its extractors' requests are what the tests and figures describe
ROOT = Path(__file__).resolve().parents[2]  # the repository
DEFAULT_HOME = ROOT / "var" / "cache" / f"gallery-dl-{VERSION}"


def ensure(home: Path = DEFAULT_HOME) -> Path:
    """The gallery-dl executable, installed from PyPI into home/venv on first use."""
    exe = home / "venv" / "bin" / "gallery-dl"
    if exe.exists():
        return exe
    home.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(home / "venv")
    py = home / "venv" / "bin" / "python"
    subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"gallery-dl=={VERSION}",
        ],
        check=True,
        timeout=600,
    )
    if not exe.exists():
        sys.exit(f"gallery-dl was not installed into {home / 'venv'}")
    return exe


def tls_context(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for the hosts gallery-dl calls."""
    from cryptography import x509  # Scrapy's own dependency (pyOpenSSL)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vitrina-emulator")])
    now = dt.datetime.now(dt.UTC)
    hosts = ["api.bsky.app", "public.api.bsky.app", "bsky.social", "plc.directory"]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    pem = folder / "emulator-cert.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    return ctx


def write_config(folder: Path, base_url: str, extra: dict | None = None) -> Path:
    """gallery-dl's config: files under folder/out, its cache in folder, the emulator as the
    HTTPS proxy (Bluesky), everything else at gallery-dl's defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    proxy = base_url.replace("http://", "")
    config = {
        "cache": {"file": str(folder / "cache.sqlite3")},
        "extractor": {
            "base-directory": str(folder / "out"),
            "proxy": {"https": f"http://{proxy}"},
            "verify": False,
            **(extra or {}),
        },
        "output": {"mode": "null", "log": "[{name}][{levelname}] {message}"},
    }
    path = folder / "gallery-dl.json"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return path


def urls(base_url: str, network: str, handles: list[str]) -> list[str]:
    """The URLs a gallery-dl user would give for these shops' profiles."""
    if network == "mastodon":
        return [f"mastodon:{base_url}/@{h}" for h in handles]
    if network == "bluesky":
        return [f"https://bsky.app/profile/{h}" for h in handles]
    raise ValueError(f"gallery-dl is not compared on {network!r} (mastodon or bluesky)")


def command(exe: Path, config: Path, targets: list[str]) -> list[str]:
    return [str(exe), "--config-ignore", "--config", str(config), *targets]


def environment() -> dict[str, str]:
    """No proxy or CA settings of the caller's leak into gallery-dl's requests."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("REQUESTS_CA_BUNDLE", None)
    env["PYTHONWARNINGS"] = "ignore"  # urllib3's InsecureRequestWarning for every tunnel
    return env
