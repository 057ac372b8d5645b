"""config.toml: defaults, validation messages, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.config import ConfigError, load_settings, shop_problems

REPO = Path(__file__).resolve().parents[3]


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    return [str(p) for p in info.value.problems]


def test_repo_config_is_valid_and_matches_defaults() -> None:
    settings = load_settings(REPO / "config.toml", environ={})
    assert settings.database.url == "sqlite:///var/vitrina.db"
    assert settings.database_url == f"sqlite:///{REPO / 'var' / 'vitrina.db'}"
    assert settings.schedule.cron == "0 3 * * *"
    assert settings.classifier.target_precision == 0.95
    assert shop_problems(settings) == []


def test_every_setting_in_repo_config_is_commented() -> None:
    """Each key in config.toml has a comment on the line before or on the same line."""
    lines = (REPO / "config.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            before = lines[i - 1].lstrip()
            assert before.startswith("#") or "#" in line or "=" in before, f"uncommented: {line}"


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "[database\nurl = 1\n")
    assert problem.startswith("syntax:") and "line 1" in problem


def test_wrong_type_unknown_key_and_bad_cron_all_reported(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        '[web]\nport = "eighty"\n\n[storage]\nmedia_dri = "x"\n\n'
        '[schedule]\ncron = "61 * * * *"\ntimezone = "Mars/Base"\n',
    )
    text = "\n".join(problems)
    assert len(problems) == 4, text
    assert "web.port (line 2)" in text and "eighty" in text
    assert "unknown key 'media_dri' (did you mean 'media_dir'?)" in text
    assert "schedule.cron (line 8): bad cron expression '61 * * * *'" in text
    assert "unknown time zone 'Mars/Base'" in text


def test_unknown_section_is_named(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "[databse]\nurl = 'sqlite:///x.db'\n")
    assert "unknown key 'databse'" in problem and "database" in problem


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[web]\nport = 9000\n")
    settings = load_settings(
        path,
        environ={
            "VITRINA_WEB__PORT": "9100",
            "VITRINA_DATABASE__URL": "postgresql://u:pw@db/vitrina",
            "VITRINA_NETWORKS__INSTAGRAM__ACCESS_TOKEN": "tok",
            "VITRINA_UNRELATED": "ignored",
        },
    )
    assert settings.web.port == 9100
    assert settings.database_url == "postgresql+psycopg://u:pw@db/vitrina"
    assert settings.networks.instagram.access_token == "tok"


def test_bad_environment_override_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"VITRINA_WEB__PORT": "99999"})
    assert "web.port" in str(info.value)


def test_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    (sub / "config.toml").write_text('[storage]\nmedia_dir = "media"\n')
    settings = load_settings(sub / "config.toml", environ={})
    assert settings.media_dir == sub / "media"


def test_shop_cross_checks(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[shops]]\nnetwork = "mastodon"\nhandle = "a"\n\n'
        '[[shops]]\nnetwork = "mastodon"\nhandle = "A"\nurl = "https://m.example"\n\n'
        '[[shops]]\nnetwork = "instagram"\nhandle = "b"\n'
    )
    problems = [str(p) for p in shop_problems(load_settings(path, environ={}))]
    assert any("shops.0.url" in p for p in problems)
    assert any("duplicate shop mastodon:A" in p for p in problems)
    assert any("access_token" in p for p in problems)


def test_unknown_network_rejected(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, '[[shops]]\nnetwork = "myspace"\nhandle = "x"\n')
    assert problem.startswith("shops.0.network") and "myspace" in problem
