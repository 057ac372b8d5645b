"""The operator's commands run in this process (typer's runner) on a fresh SQLite catalogue:
config check and show, init, shops, moderators and runs. tests/integration/cli/ runs the
same `vitrina` as child processes, as an operator does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.common import write_config
from vitrina_cli.main import app

SECRET = "s3cret-value-123"


@pytest.fixture
def vitrina(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'catalogue.db'}",
                          f'[web]\nsecret_key = "{SECRET}"\n')  # fmt: skip
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Result:
        env = {"COLUMNS": "200", "NO_COLOR": "1"}
        return runner.invoke(app, ["--config", str(config), *args], input=stdin, env=env)

    return run


def test_config_show_masks_secrets_and_check_says_what_it_read(vitrina) -> None:  # type: ignore[no-untyped-def]
    shown = vitrina("config", "show")
    assert shown.exit_code == 0 and SECRET not in shown.output
    assert json.loads(shown.output)["web"]["secret_key"] == "***"
    checked = vitrina("config", "check")
    assert checked.exit_code == 0 and "configuration is valid (0 shop(s)" in checked.output


def test_shops_and_moderators_on_a_new_catalogue(vitrina) -> None:  # type: ignore[no-untyped-def]
    assert vitrina("shops", "list").exit_code != 0  # not initialised yet: refused
    assert "catalogue ready" in vitrina("init").output
    added = vitrina("shops", "add", "mastodon", "lina", "--url", "https://mastodon.example")
    assert added.exit_code == 0 and "mastodon:lina added" in added.output
    assert vitrina("shops", "add", "myspace", "x").exit_code != 0
    listed = vitrina("shops", "list").output
    assert "lina" in listed and "1 shop(s)" in listed
    assert "removed mastodon:lina" in vitrina("shops", "remove", "mastodon", "lina").output
    assert vitrina("shops", "remove", "mastodon", "lina").exit_code == 1
    assert "0 shop(s)" in vitrina("shops", "list").output

    assert vitrina("moderators", "add", "ann", stdin="a long enough password\n").exit_code == 0
    moderators = vitrina("moderators", "list").output
    assert "ann" in moderators and "never" in moderators and "1 moderator(s)" in moderators
    assert "0 run(s)" in vitrina("runs").output
