"""The `[database]` section: local tools by default, the RDS API with `kind = "rds"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.database_settings import DatabaseSettings, restored_name
from drills.core.errors import ConfigError
from drills.core.profile import load_profile

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"
BASE = '[services.shop]\nrto = "15m"\n'
RDS = 'kind = "rds"\ninstance_id = "shop-db"\nregion = "eu-west-1"\n'


def _load(tmp_path: Path, database: str) -> DatabaseSettings:
    path = tmp_path / "p.toml"
    path.write_text(f"{BASE}\n[database]\n{database}\n", encoding="utf-8")
    return load_profile(path).database


def test_without_the_section_the_drills_restore_locally(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_profile(path).database == DatabaseSettings()
    assert not load_profile(ENVIRONMENTS / "sandbox.toml").database.rds


def test_the_sandbox_rds_profile_selects_the_rds_path() -> None:
    database = load_profile(ENVIRONMENTS / "sandbox-rds.toml").database
    assert database.rds
    assert (database.instance_id, database.restored_dsn_env) == (
        "shop-primary",
        "DRILLS_RESTORED_DSN",
    )
    assert database.sandbox_creating_s is not None
    assert database.sandbox_creating_s < database.wait_timeout_s


def test_every_rds_key_is_read(tmp_path: Path) -> None:
    database = _load(
        tmp_path,
        RDS + 'restored_prefix = "dr"\nrestored_dsn_env = "RESTORED_DSN"\n'
        'wait_timeout = "20m"\nwait_poll = "10s"\nsandbox_creating = "5s"',
    )
    assert database == DatabaseSettings(
        kind="rds",
        instance_id="shop-db",
        region="eu-west-1",
        restored_prefix="dr",
        restored_dsn_env="RESTORED_DSN",
        wait_timeout_s=1200.0,
        wait_poll_s=10.0,
        sandbox_creating_s=5.0,
    )


@pytest.mark.parametrize(
    ("text", "key", "said"),
    [
        ('kind = "aurora"', "database.kind", "use one of local, rds"),
        ('kind = "rds"\nregion = "eu-west-1"', "database.instance_id", "is missing"),
        ('kind = "rds"\ninstance_id = "shop-db"', "database.region", "is missing"),
        (
            'kind = "rds"\ninstance_id = "Shop_DB"\nregion = "x"',
            "database.instance_id",
            "lower-case",
        ),
        (RDS + 'restored_prefix = "a--b"', "database.restored_prefix", "two hyphens"),
        (RDS + 'restored_prefix = "' + "a" * 41 + '"', "database.restored_prefix", "1 to 40"),
        (RDS + 'restored_dsn_env = "my-dsn"', "database.restored_dsn_env", "variable name"),
        (RDS + 'wait_timeout = "10s"\nwait_poll = "30s"', "database.wait_poll", "below"),
        ('instance_id = "shop-db"', "database.instance_id", "not a known key"),
    ],
)
def test_mistakes_name_the_key_and_the_fix(tmp_path: Path, text: str, key: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert key in str(caught.value)
    assert said in str(caught.value)


def test_restored_names_are_rds_identifiers() -> None:
    assert restored_name("drills-restored", "pitr", "a1b2c3") == "drills-restored-pitr-a1b2c3"
    with pytest.raises(ValueError, match="must start with a lower-case letter"):
        restored_name("drills", "Bad_Id", "a1b2c3")
