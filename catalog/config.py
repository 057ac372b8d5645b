"""Vitrina's settings: `config.toml`, validated, with environment overrides.

Order of precedence (last wins): built-in defaults → the TOML file → environment variables
named `VITRINA_<SECTION>__<KEY>` (e.g. `VITRINA_DATABASE__URL`). Relative paths in the file
are resolved against the file's own folder, so the nightly job does not depend on its cwd.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.taxonomy import CATEGORIES, COLOURS, NETWORKS

ENV_PREFIX = "VITRINA_"
DEFAULT_CONFIG_NAME = "config.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/vitrina.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v


class StorageSettings(_Section):
    media_dir: str = "var/media"
    thumbnail_size: int = Field(320, ge=64, le=2048)
    max_image_pixels: int = Field(40_000_000, ge=10_000)
    min_image_side: int = Field(120, ge=1)
    near_duplicate_distance: int = Field(6, ge=0, le=64)


class _NetworkSection(_Section):
    # Parallel API requests to this network and a ceiling on their rate (0 = AutoThrottle only).
    concurrency: int = Field(4, ge=1, le=64)
    requests_per_second: float = Field(0.0, ge=0)


class InstagramSettings(_NetworkSection):
    base_url: str = "https://graph.facebook.com"
    api_version: str = "v25.0"
    access_token: str = ""
    ig_user_id: str = ""
    page_size: int = Field(25, ge=1, le=100)


# The server software behind a Mastodon-API instance: they differ in auth, account lookup and
# paging (docs/crawling.md). "auto" asks the instance's nodeinfo when it matters.
MastodonKind = Literal["auto", "mastodon", "pixelfed", "gotosocial"]


class MastodonInstance(_Section):
    """One instance's settings, under [networks.mastodon.instances.NAME] (NAME: any label)."""

    url: str = Field(min_length=1)
    kind: MastodonKind = "auto"
    # Sent as `Authorization: Bearer …` to this instance only (Pixelfed and GoToSocial refuse
    # anonymous reads). Better: VITRINA_NETWORKS__MASTODON__INSTANCES__NAME__ACCESS_TOKEN.
    access_token: str = ""

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")) or not v.split("://", 1)[1].strip("/"):
            raise ValueError("must be the instance's base URL, e.g. https://pixelfed.social")
        return v

    @property
    def host(self) -> str:
        return instance_host(self.url)


def instance_host(url: str) -> str:
    """host[:port] of a base URL, lower-cased: what shops and instances are matched on."""
    return url.split("://", 1)[-1].split("/", 1)[0].lower()


class MastodonSettings(_NetworkSection):
    page_size: int = Field(40, ge=1, le=40)
    # The kind of instances not listed under `instances` (or listed with kind "auto").
    kind: MastodonKind = "auto"
    instances: dict[str, MastodonInstance] = {}

    def instance(self, base_url: str) -> MastodonInstance | None:
        """The [networks.mastodon.instances.*] entry for a shop's base URL, if any."""
        host = instance_host(base_url)
        return next((i for i in self.instances.values() if i.host == host), None)

    def kind_of(self, base_url: str) -> str:
        found = self.instance(base_url)
        return found.kind if found is not None and found.kind != "auto" else self.kind


class BlueskySettings(_NetworkSection):
    base_url: str = "https://public.api.bsky.app"
    page_size: int = Field(50, ge=1, le=100)


class ShopifySettings(_NetworkSection):
    page_size: int = Field(250, ge=1, le=250)
    # Shopify rate-limits unidentified bots hard: about one request per second per store.
    concurrency: int = Field(2, ge=1, le=64)
    requests_per_second: float = Field(1.0, ge=0)


class NetworkSettings(_Section):
    instagram: InstagramSettings = InstagramSettings()
    mastodon: MastodonSettings = MastodonSettings()
    bluesky: BlueskySettings = BlueskySettings()
    shopify: ShopifySettings = ShopifySettings()


class CrawlerSettings(_Section):
    contact_url: str = "https://example.org/vitrina-contact"
    user_agent: str = "Vitrina/0.1 (+{contact_url})"
    max_posts_per_shop: int = Field(200, ge=1)
    # Enough connections for 100 ms latencies (see config.toml); API calls have their own limit.
    concurrent_requests: int = Field(32, ge=1, le=256)
    concurrent_requests_per_domain: int = Field(16, ge=1, le=256)
    download_delay: float = Field(0.0, ge=0)
    autothrottle: bool = True
    autothrottle_target_concurrency: float = Field(16.0, gt=0)
    request_timeout: float = Field(30.0, gt=0)
    retry_times: int = Field(4, ge=0, le=20)
    max_retry_after: float = Field(300.0, ge=0)
    # First wait (seconds) before retrying a 5xx, timeout or unexplained 429; doubles each time.
    retry_backoff: float = Field(1.0, ge=0)
    # Threads that validate, hash and thumbnail photos beside the crawl (0 = one per core).
    image_workers: int = Field(0, ge=0, le=64)
    # "" = in-process frontier; "redis://host:6379/0" shares it between crawl processes.
    frontier: str = ""
    # Hosts allowed even though they resolve to loopback/private addresses (SSRF guard).
    allowed_private_hosts: list[str] = []
    # Later crawls fetch a photo whose download failed for a passing reason (5xx, timeout,
    # truncated) again, until it has failed this many more times (0 = never).
    photo_retry_crawls: int = Field(5, ge=0, le=100)

    @field_validator("frontier")
    @classmethod
    def _redis_url(cls, v: str) -> str:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be empty or a redis:// URL")
        return v


class ShopConfig(_Section):
    network: Literal["instagram", "mastodon", "bluesky", "shopify"]
    handle: str = Field(min_length=1)
    # Mastodon: the instance's base URL; Shopify: the store's base URL. Optional elsewhere.
    url: str = ""
    name: str = ""
    active: bool = True


class ClassifierSettings(_Section):
    # Empty: the default model committed under classifier/models/.
    model_dir: str = ""
    target_precision: float = Field(0.95, gt=0, le=1)
    batch_size: int = Field(64, ge=1, le=4096)
    # What runs the model: "tflite" (exported once per model version, ~2.5x faster on a CPU),
    # "keras" (TensorFlow; mixed precision on a GPU), "auto" (tflite on a CPU, keras on a GPU).
    runtime: Literal["auto", "tflite", "keras"] = "auto"
    # Optional per-head overrides of the thresholds stored with the model.
    category_threshold: float | None = Field(None, ge=0, le=1)
    colour_threshold: float | None = Field(None, ge=0, le=1)


# Public, so fit for nothing: `vitrina serve` and the ASGI factory refuse to start with it (anyone
# knowing it could forge a moderator's signed cookie); `vitrina demo` writes a random key.
DEFAULT_SECRET_KEY = "change-me-in-production"
DEFAULT_SECRET_REFUSAL = (
    "refusing to serve with the default web.secret_key: anyone who knows it can forge a "
    "moderator's session. Set a long random value as [web] secret_key in config.toml or in "
    "VITRINA_WEB__SECRET_KEY, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` (`vitrina demo` sets its own)"
)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    secret_key: str = DEFAULT_SECRET_KEY
    base_url: str = ""
    page_size: int = Field(48, ge=1, le=500)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_seconds: int = Field(300, ge=1)
    facet_cache_seconds: int = Field(30, ge=0, le=86400)
    # After a moderator's decision, a cached page it touches is still served for up to this
    # long while it is recomputed in the background (counts are corrected at once); 0: the
    # next request recomputes it.
    stale_seconds: float = Field(1.0, ge=0, le=10)
    # "global": any change empties every cache, as before targeted invalidation (the web
    # benchmark's baseline).
    invalidation: Literal["targeted", "global"] = "targeted"
    session_hours: int = Field(12, ge=1, le=24 * 30)
    api_token_days: int = Field(30, ge=1, le=3650)
    # Proxies whose X-Forwarded-For/-Proto are believed (addresses or "*"); none by default.
    trusted_proxies: list[str] = []


class ScheduleSettings(_Section):
    enabled: bool = True
    cron: str = "0 3 * * *"
    timezone: str = "UTC"
    misfire_grace_seconds: int = Field(3600, ge=1)
    retrain_enabled: bool = False
    retrain_cron: str = "0 4 * * sun"
    retrain_min_decisions: int = Field(200, ge=1)
    # Dataset folders (labels.csv + images) the model was first trained on, added to retraining.
    retrain_data: list[str] = []
    # With [crawler] frontier set: crawl processes the nightly run starts side by side, sharing
    # the Redis frontier (more machines: run `vitrina crawl` there too).
    crawl_processes: int = Field(1, ge=1, le=64)
    # Each step's child process (crawl, classify, train) is stopped after this many seconds.
    step_timeout_seconds: int = Field(4 * 3600, ge=10)
    # One folder per pipeline run with each step's output (crawl.log, classify.log, ...).
    log_dir: str = "var/logs"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("cron", "retrain_cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"bad cron expression {v!r}: {exc}") from exc
        return v


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    crawler: CrawlerSettings = CrawlerSettings()
    networks: NetworkSettings = NetworkSettings()
    shops: list[ShopConfig] = []
    classifier: ClassifierSettings = ClassifierSettings()
    web: WebSettings = WebSettings()
    schedule: ScheduleSettings = ScheduleSettings()

    # Where the settings came from; relative paths resolve against `base_dir`.
    source: str = Field("<defaults>", exclude=True)
    base_dir: str = Field(".", exclude=True)

    def path(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (Path(self.base_dir) / p).resolve()

    @property
    def media_dir(self) -> Path:
        return self.path(self.storage.media_dir)

    @property
    def database_url(self) -> str:
        """The URL with relative SQLite paths made absolute and PostgreSQL bound to psycopg 3."""
        url = self.database.url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url.removeprefix("sqlite:///")
            if rel and rel != ":memory:":
                return "sqlite:///" + str(self.path(rel))
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @property
    def user_agent(self) -> str:
        return self.crawler.user_agent.format(contact_url=self.crawler.contact_url)


# Settings that are TOML tables; used to split environment variable names.
_TABLES = {name for name, f in Settings.model_fields.items() if isinstance(f.default, BaseModel)}


@dataclass(frozen=True)
class ConfigProblem:
    where: str  # key path like "schedule.cron", or "line 4"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(Exception):
    """The configuration is unusable; carries one problem per mistake found."""

    def __init__(self, source: str, problems: list[ConfigProblem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names valid at `loc` (used to suggest a fix for an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        current = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _key_line(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the last key of `loc` in the TOML text."""
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    for i, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(f"{keys[-1]} ") or stripped.startswith(f"{keys[-1]}="):
            return i
    return None


def _problems_from(exc: ValidationError, text: str) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "<root>"
        line = _key_line(text, loc)
        if line:
            where = f"{where} (line {line})"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r}"
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(Settings, loc[:-1]), n=1)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        elif err["type"] != "value_error" and "input" in err and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
        problems.append(ConfigProblem(where, msg))
    return problems


def _env_value(raw: str) -> Any:
    """Environment values are TOML literals when they parse as one, else plain strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = name.removeprefix(ENV_PREFIX).lower().split("__")
        if parts[0] not in _TABLES:
            continue
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = _env_value(raw)


def find_config(path: str | os.PathLike[str] | None = None) -> Path | None:
    """`--config PATH`, else $VITRINA_CONFIG, else ./config.toml if present."""
    if path:
        return Path(path)
    if os.environ.get("VITRINA_CONFIG"):
        return Path(os.environ["VITRINA_CONFIG"])
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.exists() else None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Load and validate the settings; raise ConfigError listing every problem."""
    environ = dict(os.environ) if environ is None else environ
    cfg = find_config(path)
    data: dict[str, Any] = {}
    text = ""
    source = "<defaults>"
    base_dir = Path.cwd()
    if cfg is not None:
        source = str(cfg)
        try:
            text = cfg.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                source, [ConfigProblem("file", f"cannot read: {exc.strerror}")]
            ) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [ConfigProblem("syntax", str(exc))]) from exc
        base_dir = cfg.resolve().parent
    _apply_env(data, environ)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems_from(exc, text)) from exc
    settings.source = source
    settings.base_dir = str(base_dir)
    return settings


def shop_problems(settings: Settings) -> list[ConfigProblem]:
    """Cross-field checks the schema cannot express, reported like validation errors."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for i, shop in enumerate(settings.shops):
        key = (shop.network, shop.handle.lower())
        if key in seen:
            problems.append(
                ConfigProblem(f"shops.{i}", f"duplicate shop {shop.network}:{shop.handle}")
            )
        seen.add(key)
        if shop.network in ("mastodon", "shopify") and not shop.url:
            problems.append(
                ConfigProblem(
                    f"shops.{i}.url", f"a {shop.network} shop needs the base URL of its site"
                )
            )
    hosts: dict[str, str] = {}
    for name, inst in settings.networks.mastodon.instances.items():
        if inst.host in hosts:
            problems.append(
                ConfigProblem(
                    f"networks.mastodon.instances.{name}.url",
                    f"{inst.host} is already [networks.mastodon.instances.{hosts[inst.host]}]",
                )
            )
        hosts.setdefault(inst.host, name)
    if any(s.network == "instagram" for s in settings.shops) and not (
        settings.networks.instagram.access_token and settings.networks.instagram.ig_user_id
    ):
        problems.append(
            ConfigProblem(
                "networks.instagram",
                "instagram shops need access_token and ig_user_id "
                "(or VITRINA_NETWORKS__INSTAGRAM__ACCESS_TOKEN)",
            )
        )
    return problems


__all__ = [
    "CATEGORIES",
    "COLOURS",
    "NETWORKS",
    "ConfigError",
    "ConfigProblem",
    "Settings",
    "ShopConfig",
    "find_config",
    "load_settings",
    "shop_problems",
]
