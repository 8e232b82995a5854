"""Services in the profile: a workload beside the objectives, and which drills can run on it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.profile import load_profile
from drills.core.services import (
    DRILL_REQUIREMENTS,
    ServiceDatabase,
    ServiceLedger,
    ServiceWorkload,
    availability,
)

REPO = Path(__file__).resolve().parents[3]


def test_every_scenario_says_what_it_needs_of_a_service() -> None:
    ids = {
        match
        for module in (REPO / "scenarios").glob("test_*.py")
        for match in re.findall(r"\bid=\"([a-z0-9-]+)\"", module.read_text())
    }
    assert ids
    assert sorted(ids ^ set(DRILL_REQUIREMENTS)) == []


def test_a_full_section_is_read_and_a_bare_one_stays_objectives_only(tmp_path: Path) -> None:
    text = """
[services.notes]
rto = "15m"
deployment = "notes"
namespace = "team-a"
hpa = "notes"
ready_path = "/ready"
[services.notes.database]
kind = "rds"
dsn_env = "NOTES_DSN"
[services.notes.load]
locustfile = "locustfiles/notes.py"
user_classes = ["Writer", "Reader"]
users = 40
spawn_rate = 5
[services.database]
rpo = "15m"
"""
    profile = load_profile(_write(tmp_path, text))
    notes, database = profile.services
    assert notes.rto_s == 900.0
    assert notes.workload is not None
    assert notes.workload.namespace == "team-a"
    assert notes.workload.ready_path == "/ready"
    assert notes.workload.health_path == "/healthz"  # the default
    assert notes.workload.database == ServiceDatabase("rds", "NOTES_DSN")
    assert notes.workload.load.user_classes == ("Writer", "Reader")
    assert (notes.workload.load.users, notes.workload.load.spawn_rate) == (40, 5.0)
    assert database.workload is None


def test_an_empty_database_table_means_the_endpoints_give_the_dsn(tmp_path: Path) -> None:
    text = '[services.shop]\ndeployment = "shop"\n[services.shop.database]\n'
    [shop] = load_profile(_write(tmp_path, text)).services
    assert shop.workload is not None
    assert shop.workload.database == ServiceDatabase("postgres", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[services.x]\nhpa = "x"\n', r"services\.x\.hpa.*names no deployment"),
        ("[services.x]\n[services.x.load]\nusers = 3\n", r"services\.x\.load.*names no deployment"),
        ('[services.x]\ndeployment = "x"\nready_path = "ready"\n', r"ready_path.*a path"),
        (
            '[services.x]\ndeployment = "x"\n[services.x.database]\nkind = "mysql"\n',
            r"database\.kind.*postgres, rds",
        ),
        (
            '[services.x]\ndeployment = "x"\n[services.x.database]\ndsn_env = "postgres://u"\n',
            r"dsn_env.*upper-case variable name",
        ),
        ('[services.x]\ndeployment = "x"\nreplicas = 3\n', r"replicas.*not a known key"),
    ],
)
def test_bad_sections_say_what_to_write(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_profile(_write(tmp_path, text))


def test_availability_names_what_to_set_for_each_missing_need() -> None:
    bare = ServiceWorkload(deployment="notes")
    found = {
        a.drill: a
        for a in availability(
            "notes", bare, ["pod-kill-under-load", "hpa-spike", "pitr", "made-up"]
        )
    }
    assert found["pod-kill-under-load"].runnable
    assert found["hpa-spike"].why == ('no HPA: set hpa = "<name>"',)
    assert found["pitr"].why == ("no database: add [services.notes.database]",)
    assert found["made-up"].why == ("its needs are not declared",)
    full = ServiceWorkload(deployment="notes", hpa="notes", database=ServiceDatabase())
    assert all(a.runnable for a in availability("notes", full, ["hpa-spike", "pitr"]))


def test_the_sandbox_shop_can_run_every_drill() -> None:
    profile = load_profile(REPO / "fixtures" / "environments" / "sandbox.toml")
    shop = profile.service("shop")
    assert shop is not None
    assert shop.workload is not None
    assert [
        a for a in availability("shop", shop.workload, DRILL_REQUIREMENTS) if not a.runnable
    ] == []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_ledger_names_where_the_writes_are_read_back(tmp_path: Path) -> None:
    text = """
[services.notes]
deployment = "notes"
[services.notes.ledger]
table = "notes"
key_column = "note_id"
"""
    [notes] = load_profile(_write(tmp_path, text)).services
    assert notes.workload is not None
    assert notes.workload.ledger == ServiceLedger("notes", "note_id", None)  # key alone
    assert not notes.workload.ledger.is_shop
    assert ServiceLedger().is_shop  # the default: the demo shop's orders


def test_a_ledger_name_that_is_not_plain_sql_is_refused(tmp_path: Path) -> None:
    text = '[services.x]\ndeployment = "x"\n[services.x.ledger]\ntable = "notes; DROP TABLE x"\n'
    with pytest.raises(ConfigError, match=r"ledger\.table.*plain SQL name"):
        load_profile(_write(tmp_path, text))


def test_the_drilled_service_is_the_named_one_or_the_first_described(tmp_path: Path) -> None:
    text = """
[services.database]
rto = "1h"
[services.shop]
deployment = "shop"
[services.notes]
deployment = "notes"
"""
    profile = load_profile(_write(tmp_path, text))
    default = profile.app_service()
    assert default is not None
    assert default.name == "shop"  # the first with a deployment, not `database`
    named = profile.app_service("notes")
    assert named is not None
    assert named.name == "notes"
    with pytest.raises(ConfigError, match=r"no service 'database' with a deployment.*shop, notes"):
        profile.app_service("database")
    bare = load_profile(_write(tmp_path, '[services.shop]\nrto = "1m"\n'))
    assert bare.app_service() is None  # objectives only: [targets] deployment is drilled


def test_a_service_with_its_own_ledger_runs_only_the_drills_made_generic() -> None:
    notes = ServiceWorkload(
        deployment="notes", database=ServiceDatabase(), ledger=ServiceLedger("notes")
    )
    drills = ["pod-kill-under-load", "snapshot-restore", "pitr", "region-failover"]
    found = {a.drill: a for a in availability("notes", notes, drills)}
    assert found["pod-kill-under-load"].runnable
    assert found["snapshot-restore"].runnable  # its table, database and Secret are derived
    assert found["pitr"].runnable
    assert "demo shop's own tables or settings" in found["region-failover"].why[0]
