"""Environment profiles: the shipped files load, and every validation error names key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.core.objectives import Objective, ObjectiveKind
from drills.core.profile import (
    Targets,
    available_profiles,
    load_profile,
    parse_objective_override,
    resolve_endpoints,
    resolve_profile_path,
)

ENVIRONMENTS = Path(__file__).resolve().parents[3] / "fixtures" / "environments"

MINIMAL = """
[services.shop]
rto = "15m"
rpo = "5m"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["sandbox", "containers", "staging.example"])
def test_shipped_profiles_carry_the_runbook_objectives(name: str) -> None:
    profile = load_profile(ENVIRONMENTS / f"{name}.toml")
    # the sandbox also runs the second demo service, notes, with the backend API's objectives
    notes = (
        (Objective(ObjectiveKind.RTO, "notes", 900.0), Objective(ObjectiveKind.RPO, "notes", 300.0))
        if name == "sandbox"
        else ()
    )
    assert profile.objectives() == (
        Objective(ObjectiveKind.RTO, "shop", 900.0),
        Objective(ObjectiveKind.RPO, "shop", 300.0),
        *notes,
        Objective(ObjectiveKind.RTO, "database", 3600.0),
        Objective(ObjectiveKind.RPO, "database", 900.0),
    )
    assert profile.waits.stability_window_s == 10.0


def test_sandbox_profile_is_the_default_and_points_at_the_sandbox_files() -> None:
    profile = load_profile(resolve_profile_path("sandbox", ENVIRONMENTS))
    assert profile.targets.kind == "sandbox"
    assert profile.targets.endpoints_file == ".drills/sandbox/endpoints.json"
    assert profile.allowlist.kube_contexts == (profile.targets.kube_context,)
    assert profile.blast_radius.max_fraction == 1.0  # disposable: the P0 practicals
    assert profile.load.get("spike").users == 200
    assert "sandbox" in available_profiles(ENVIRONMENTS)


def test_minimal_profile_gets_defaults(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL))
    assert profile.name == "p"
    assert profile.thresholds.error_ratio == 0.01
    assert profile.kill_switch.sustained_s == 300.0
    assert profile.load.get("steady").users == 20
    assert profile.allowlist.kube_contexts == ()
    assert profile.targets.bad_release_image is None  # the running repository, tag `bad`


def test_the_bad_release_image_may_be_named(tmp_path: Path) -> None:
    text = MINIMAL + '\n[targets]\nbad_release_image = "registry.example.com/shop:broken"\n'
    profile = load_profile(write(tmp_path, text))
    assert profile.targets.bad_release_image == "registry.example.com/shop:broken"


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        ('[services.shop]\nrto = "soon"\n', "services.shop.rto", '"15m"'),
        ("[services.shop]\nrto = true\n", "services.shop.rto", '"15m"'),
        ('[services.shop]\nrtoo = "1m"\n', "services.shop.rtoo", "did you mean 'rto'"),
        ('[services.Shop]\nrto = "1m"\n', "services.Shop", "lower-case"),
        ("[thresholds]\nerror_ratio = 5\n", "thresholds.error_ratio", "0.05"),
        ("[thresholds]\nerror_ratio = -1\n", "thresholds.error_ratio", ">= 0"),
        ('[thresholds]\np95 = "1s"\n', "thresholds.p95", "p95_latency"),
        ('[waits]\npoll = "0s"\n', "waits.poll", "200ms"),
        ('[kill_switch]\nsustained = "later"\n', "kill_switch.sustained", '"15m"'),
        ("[safety]\nmax_fraction = 0\n", "safety.max_fraction", "(0, 1]"),
        ("[safety]\nmax_count = 0\n", "safety.max_count", ">= 1"),
        ('[safety]\nnamespaces = "drills"\n', "safety.namespaces", "list of strings"),
        ('[safety]\nkube_context = ["x"]\n', "safety.kube_context", "did you mean 'kube_contexts'"),
        ('[targets]\nkind = "moon"\n', "targets.kind", "sandbox, containers, cluster"),
        ('[targets]\nnamespace = ""\n', "targets.namespace", "non-empty string"),
        ('[load]\nshape = "wave"\n', "load.shape", "[load.shapes.<name>]"),
        ("[load]\nusers = 1.5\n", "load.users", "whole number"),
        ("[load.shapes.spike]\nspawn_rate = 5\n", "load.shapes.spike.users", "users = 50"),
        ("nmae = 'x'\n", "nmae", "did you mean 'name'"),
    ],
)
def test_validation_errors_name_file_key_and_fix(
    tmp_path: Path, text: str, key: str, fix: str
) -> None:
    if text.startswith("[services"):
        path = write(tmp_path, text)
    elif text.startswith("["):
        path = write(tmp_path, MINIMAL + text)
    else:
        path = write(tmp_path, text + MINIMAL)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"key '{key}'" in message
    assert fix in message


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'services = "shop"\n')
    with pytest.raises(ConfigError, match=r"key 'services' must be a table.*\[services\]"):
        load_profile(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[services.shop\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile(tmp_path / "absent.toml")


def test_unknown_profile_lists_available_with_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "sandbox.toml")
    with pytest.raises(ConfigError) as caught:
        resolve_profile_path("sandbx", tmp_path)
    assert "did you mean 'sandbox'" in str(caught.value)
    assert "available: sandbox" in str(caught.value)


def test_profile_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, "custom.toml")
    assert resolve_profile_path(str(path), tmp_path / "elsewhere") == path
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_profile_path(str(tmp_path / "nope.toml"), tmp_path)


def test_overrides_replace_or_add_objectives(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL))
    changed = profile.with_objectives(
        [parse_objective_override("shop.rto=30s"), parse_objective_override("cache.RPO=1m")]
    )
    assert changed.objectives() == (
        Objective(ObjectiveKind.RTO, "shop", 30.0),
        Objective(ObjectiveKind.RPO, "shop", 300.0),
        Objective(ObjectiveKind.RPO, "cache", 60.0),
    )


@pytest.mark.parametrize("text", ["shop=15m", "shop.mttr=5m", "shop.rto=", "shop.rto=soon"])
def test_bad_override_says_the_form(text: str) -> None:
    with pytest.raises(ConfigError, match=r"SERVICE\.rto=DURATION|not a duration"):
        parse_objective_override(text)


def test_missing_staging_points_at_its_template() -> None:
    with pytest.raises(ConfigError, match=r"copy staging\.example\.toml to staging\.toml"):
        resolve_profile_path("staging", ENVIRONMENTS)


def test_sandbox_endpoints_come_from_endpoints_json(tmp_path: Path) -> None:
    profile = load_profile(ENVIRONMENTS / "sandbox.toml")
    endpoints_file = tmp_path / ".drills" / "sandbox" / "endpoints.json"
    with pytest.raises(ConfigError, match="run `drills sandbox up`"):
        resolve_endpoints(profile.targets, tmp_path, {})
    endpoints_file.parent.mkdir(parents=True)
    endpoints_file.write_text(
        '{"kube_api": "https://127.0.0.1:1", "service_url": "http://127.0.0.1:2", '
        '"database_dsn": "postgresql://drills@127.0.0.1:3/shop", "namespace": "drills", '
        '"admin_dsn": "postgresql://postgres@127.0.0.1:3/shop"}'
    )
    endpoints = resolve_endpoints(profile.targets, tmp_path, {})
    assert endpoints.service_url == "http://127.0.0.1:2"
    assert endpoints.database_dsn == "postgresql://drills@127.0.0.1:3/shop"
    assert endpoints.admin_dsn == "postgresql://postgres@127.0.0.1:3/shop"
    assert endpoints.kubeconfig == tmp_path / ".drills" / "sandbox" / "kubeconfig"


def test_cluster_dsn_comes_from_the_named_variable(tmp_path: Path) -> None:
    targets = Targets(kind="cluster", namespace="shop-staging", database_dsn_env="SHOP_DSN")
    with pytest.raises(ConfigError, match=r"export SHOP_DSN=postgresql://"):
        resolve_endpoints(targets, tmp_path, {}, profile_path="staging.toml")
    endpoints = resolve_endpoints(targets, tmp_path, {"SHOP_DSN": "postgresql://x"})
    assert (endpoints.database_dsn, endpoints.namespace) == ("postgresql://x", "shop-staging")


def test_cluster_admin_dsn_and_service_url_come_from_the_profile_and_environment(
    tmp_path: Path,
) -> None:
    targets = Targets(
        kind="cluster",
        admin_dsn_env="SHOP_ADMIN_DSN",
        service_url="https://shop.staging.example",
    )
    with pytest.raises(ConfigError, match=r"targets\.admin_dsn_env.*export SHOP_ADMIN_DSN="):
        resolve_endpoints(targets, tmp_path, {}, profile_path="staging.toml")
    endpoints = resolve_endpoints(targets, tmp_path, {"SHOP_ADMIN_DSN": "postgresql://admin"})
    assert endpoints.admin_dsn == "postgresql://admin"
    assert endpoints.service_url == "https://shop.staging.example"
    assert endpoints.database_dsn is None  # no variable named: nothing invented
