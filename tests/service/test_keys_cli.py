"""`spamfilter keys`: a key is printed once, stored only as a hash, listed and revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from spamfilter.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'not-yet' / 'keys.db'}"}  # the directory is made on demand


def test_create_list_revoke(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--site", "https://news.example/"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sf_") and len(key) > 40
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("select site, key_hash, key_prefix from api_keys")).one()
    engine.dispose()
    assert stored[0] == "https://news.example" and key not in stored[1] and stored[2] == key[:10]
    listed = runner.invoke(main, ["keys", "list"], env=env)
    assert key[:10] in listed.stdout and key not in listed.stdout and "revoked: -" in listed.stdout
    revoked = runner.invoke(main, ["keys", "revoke", key[:10]], env=env)
    assert revoked.exit_code == 0 and "revoked key 1" in revoked.output
    assert "revoked: 20" in runner.invoke(main, ["keys", "list"], env=env).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--site", "news.example"], "site must be a URL"),
        (["keys", "revoke", "sf_unknown"], "no key with id or prefix 'sf_unknown'"),
        (["keys", "create"], "Missing option '--site'"),
        (["keys", "revoke", "\u00b2"], "no key with id or prefix"),
        (["keys", "revoke", "99999999999999999999"], "no key with id or prefix"),
    ],
)
def test_key_errors_are_one_line(env: dict[str, str], args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_unreachable_database_is_a_clear_error() -> None:
    result = CliRunner().invoke(
        main, ["keys", "list"], env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"}
    )
    assert (
        result.exit_code != 0 and "cannot reach the database postgresql+psycopg://nobody@127.0.0.1:1/x" in result.output
    )
