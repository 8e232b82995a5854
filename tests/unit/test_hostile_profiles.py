"""Hostile and malformed profiles act on nothing (issue 16, item 5): the properties.

Every variant starts from a shipped profile and changes one thing: an unknown key, a value of
the wrong type, a negative or huge duration or fraction, an empty allowlist, a target outside
the allowlist, a kubeconfig that disagrees with the profile, a report directory outside the
repository or through a symbolic link, a DSN variable unset or malformed. Each must end in
ConfigError or SafetyViolation (never another exception, never accepted) whose message names
the file, the key and a fix. Loading and the preflight checks are pure or touch only temporary
files, so the properties run in seconds; `derandomize` keeps every run the same.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drills.cli.paths import ProjectPaths
from drills.cli.run_preflight import check_environment, check_request
from drills.core.dsn import dsn_problem, read_dsn
from drills.core.durations import MAX_DURATION_S
from drills.core.errors import ConfigError, SafetyViolation
from drills.core.preflight import (
    check_account,
    check_allowlists,
    check_context,
    check_namespace,
    check_report_dir,
)
from drills.core.profile import Profile, load_profile
from drills.targets.adapters.kubeconfig_file import read_contexts

ENVIRONMENTS = Path(__file__).resolve().parents[2] / "fixtures" / "environments"
BASES = ("sandbox", "staging.example", "containers")
REFUSED = (ConfigError, SafetyViolation)

# Deterministic and quick: a fixed derandomized search, no example database, no deadline
# (a loaded CI machine must not turn a slow example into a failure).
hostile = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- the profile's schema: every key and the kind of value it takes ------------------------------
DURATION, DURATIONS, RATIO, NUMBER, WHOLE, COUNT, TEXT, TEXTS, FLAG = [
    "duration",
    "durations",
    "ratio",
    "number",
    "whole",
    "count",
    "text",
    "texts",
    "flag",
]
SCHEMA: dict[str, str] = {
    "name": TEXT,
    "description": TEXT,
    "services.shop.rto": DURATION,
    "services.shop.rpo": DURATION,
    "services.database.rto": DURATION,
    "services.database.rpo": DURATION,
    "thresholds.error_ratio": RATIO,
    "thresholds.p95_latency": DURATION,
    "thresholds.error_budget": RATIO,
    "ledger.max_duplicates": COUNT,
    "ledger.max_unexpected_ratio": RATIO,
    "phases.detect": DURATION,
    "phases.mitigate": DURATION,
    "phases.resolve": DURATION,
    "certification.quiz_pass_mark": RATIO,
    "certification.quiz_questions": COUNT,
    "certification.recertify_every": DURATION,
    "certification.ack_within": DURATION,
    "certification.escalation_marks": DURATIONS,
    "certification.escalation_grace": DURATION,
    "certification.postmortem_tolerance": DURATION,
    "waits.stability_window": DURATION,
    "waits.steady_state_timeout": DURATION,
    "waits.poll": DURATION,
    "kill_switch.error_ratio": RATIO,
    "kill_switch.sustained": DURATION,
    "safety.kube_contexts": TEXTS,
    "safety.namespaces": TEXTS,
    "safety.aws_accounts": TEXTS,
    "safety.max_fraction": RATIO,
    "safety.max_count": WHOLE,
    "safety.halt_file": TEXT,
    "targets.kind": TEXT,
    "targets.endpoints_file": TEXT,
    "targets.kubeconfig": TEXT,
    "targets.kube_context": TEXT,
    "targets.namespace": TEXT,
    "targets.deployment": TEXT,
    "targets.database_dsn_env": TEXT,
    "targets.admin_dsn_env": TEXT,
    "targets.service_url": TEXT,
    "targets.aws_region": TEXT,
    "targets.bad_release_image": TEXT,
    "load.users": WHOLE,
    "load.spawn_rate": NUMBER,
    "load.shape": TEXT,
    "load.connect_timeout": DURATION,
    "load.read_timeout": DURATION,
    "load.shapes.spike.users": WHOLE,
    "load.shapes.spike.spawn_rate": NUMBER,
    "load.shapes.spike.duration": DURATION,
    "autoscaling.hpa": TEXT,
    "autoscaling.min_replicas": WHOLE,
    "autoscaling.max_replicas": WHOLE,
    "autoscaling.scale_up_within": DURATION,
    "autoscaling.scale_in_within": DURATION,
    "autoscaling.spike_hold": DURATION,
    "autoscaling.metrics_settle": DURATION,
    "autoscaling.scale_down_window": DURATION,
    "autoscaling.sync_period": DURATION,
    "autoscaling.spike_factor": NUMBER,
    "pool.idle_after": DURATION,
    "pool.idle_scale": RATIO,
    "pool.headroom": WHOLE,
    "pool.fill_server": FLAG,
    "pool.max_sessions": WHOLE,
    "pool.reset_after": DURATION,
    "evidence.signing_key": TEXT,
    "history.window": WHOLE,
    "history.rto_growth": NUMBER,
    "history.rpo_growth": NUMBER,
}
SECTIONS = sorted({key.rpartition(".")[0] for key in SCHEMA} - {"", "services", "load.shapes"})
OPEN_TABLES = {"services", "load.shapes"}  # their keys are names the profile chooses


def keys_of(table: str) -> set[str]:
    """The keys `table` knows: its leaves and its sub-tables."""
    prefix = f"{table}." if table else ""
    found = {key[len(prefix) :].split(".")[0] for key in SCHEMA if key.startswith(prefix)}
    return found | ({"services", "load"} if not table else set())


# -- writing variants --------------------------------------------------------------------------
def base(name: str) -> dict[str, Any]:
    """A shipped profile as data; every one gets a spike shape, so its keys can be varied."""
    data: dict[str, Any] = tomllib.loads((ENVIRONMENTS / f"{name}.toml").read_text("utf-8"))
    data["load"].setdefault("shapes", {}).setdefault("spike", {"users": 200, "spawn_rate": 50})
    return data


def with_value(data: Mapping[str, Any], dotted: str, value: object) -> dict[str, Any]:
    """A deep copy of `data` with the key at `dotted` set to `value` (tables made as needed)."""
    changed = copy.deepcopy(dict(data))
    *tables, leaf = dotted.split(".")
    here = changed
    for name in tables:
        here = here.setdefault(name, {})
    here[leaf] = value
    return changed


def toml_text(data: Mapping[str, Any], prefix: str = "") -> str:
    """`data` as TOML: scalars and arrays first, then each sub-table under its header."""
    lines = [f"{_key(k)} = {_toml(v)}" for k, v in data.items() if not isinstance(v, dict)]
    text = "\n".join(lines) + "\n"
    for name, table in data.items():
        if isinstance(table, dict):
            header = f"{prefix}.{_key(name)}" if prefix else _key(name)
            text += f"\n[{header}]\n" + toml_text(table, header)
    return text


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # nan
            return "nan"
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # JSON's escapes are TOML's, but for DEL and astral planes
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


@contextmanager
def written(data: Mapping[str, Any]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        path = Path(folder) / "hostile.toml"
        path.write_text(toml_text(data), encoding="utf-8")
        yield path


def assert_names_file_key_fix(error: Exception, path: Path | str, key: str) -> None:
    message = str(error)
    assert str(path) in message, message
    assert key in message, message
    assert "Fix:" in message, message
    assert "\n" not in message.strip(), message  # one message, one line


def refused_on_load(data: Mapping[str, Any], key: str) -> None:
    """Loading `data` must fail with a message naming the file, `key` and a fix."""
    with written(data) as path, pytest.raises(REFUSED) as caught:
        load_profile(path)
    assert_names_file_key_fix(caught.value, path, f"'{key}'")


def refused_by_preflight(data: Mapping[str, Any], key: str) -> None:
    """`data` loads, and the allowlist preflight refuses it naming the file, `key` and a fix."""
    with written(data) as path:
        profile = load_profile(path)
        with pytest.raises(REFUSED) as caught:
            check_allowlists(profile)
    assert_names_file_key_fix(caught.value, path, f"'{key}'")


# -- value strategies --------------------------------------------------------------------------
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), texts)
tables = st.dictionaries(names, scalars, min_size=1, max_size=2)
WRONG: dict[str, st.SearchStrategy[object]] = {
    DURATION: st.one_of(st.booleans(), st.lists(scalars, max_size=2), tables),
    DURATIONS: st.one_of(
        texts, st.integers(), st.booleans(), tables, st.lists(st.integers(), min_size=1)
    ),
    RATIO: st.one_of(texts, st.booleans(), st.lists(scalars, max_size=2), tables),
    NUMBER: st.one_of(texts, st.booleans(), st.lists(scalars, max_size=2), tables),
    WHOLE: st.one_of(st.floats(), texts, st.booleans(), st.lists(scalars, max_size=2), tables),
    COUNT: st.one_of(st.floats(), texts, st.booleans(), st.lists(scalars, max_size=2), tables),
    TEXT: st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(texts, max_size=2), tables),
    TEXTS: st.one_of(
        texts, st.integers(), st.booleans(), st.lists(st.integers(), min_size=1), tables
    ),
    FLAG: st.one_of(st.integers(), texts, st.lists(scalars, max_size=2), tables),
}
too_long_s = st.floats(min_value=MAX_DURATION_S * 1.001, max_value=1e308)
bad_durations = st.one_of(
    st.floats(max_value=-1e-6),
    st.integers(max_value=-1),
    too_long_s,
    st.integers(min_value=int(MAX_DURATION_S) + 1, max_value=2**63 - 1),
    st.sampled_from([float("inf"), float("nan"), float("-inf")]),
    st.integers(min_value=1, max_value=10**6).map(lambda n: f"-{n}m"),
    st.integers(min_value=367, max_value=10**9).map(lambda n: f"{n}d"),
    st.sampled_from(["inf", "nan", "1e400", "-0.5s", "9999999h", "Infinity"]),
)
bad_fractions = st.one_of(
    st.floats(max_value=-1e-9),
    st.floats(min_value=1.000001, max_value=1e308),
    st.integers(min_value=2),
    st.integers(max_value=-1),
    st.sampled_from([float("inf"), float("nan"), float("-inf")]),
)
bad_numbers = st.one_of(
    st.floats(max_value=-1e-9),
    st.integers(max_value=-1),
    st.sampled_from([float("inf"), float("nan"), float("-inf")]),
)
KEYS_OF_KIND = {
    kind: sorted(k for k, v in SCHEMA.items() if v == kind) for kind in set(SCHEMA.values())
}


# -- 1. unknown keys ---------------------------------------------------------------------------
@hostile
@given(
    base_name=st.sampled_from(BASES),
    table=st.sampled_from(["", *SECTIONS]),
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,24}", fullmatch=True),
    value=scalars,
)
def test_an_unknown_key_is_refused_with_did_you_mean_or_the_known_keys(
    base_name: str, table: str, name: str, value: object
) -> None:
    if name in keys_of(table):
        return
    dotted = f"{table}.{name}" if table else name
    refused_on_load(with_value(base(base_name), dotted, value), dotted)


# -- 2. wrong types ----------------------------------------------------------------------------
@hostile
@given(base_name=st.sampled_from(BASES), key=st.sampled_from(sorted(SCHEMA)), data=st.data())
def test_a_value_of_the_wrong_type_is_refused(
    base_name: str, key: str, data: st.DataObject
) -> None:
    value = data.draw(WRONG[SCHEMA[key]], label="value")
    refused_on_load(with_value(base(base_name), key, value), key)


@hostile
@given(
    base_name=st.sampled_from(BASES),
    section=st.sampled_from([*SECTIONS, "services", "load.shapes", "services.shop"]),
    value=st.one_of(scalars, st.lists(scalars, max_size=2)),
)
def test_a_section_that_is_not_a_table_is_refused(
    base_name: str, section: str, value: object
) -> None:
    refused_on_load(with_value(base(base_name), section, value), section)


# -- 3. negative or huge durations and fractions -----------------------------------------------
@hostile
@given(
    base_name=st.sampled_from(BASES),
    key=st.sampled_from(KEYS_OF_KIND[DURATION]),
    value=bad_durations,
)
def test_a_negative_or_huge_duration_is_refused(base_name: str, key: str, value: object) -> None:
    refused_on_load(with_value(base(base_name), key, value), key)


@hostile
@given(base_name=st.sampled_from(BASES), good=st.just("15m"), value=bad_durations)
def test_one_bad_escalation_mark_is_refused(base_name: str, good: str, value: object) -> None:
    marks = [good, value if isinstance(value, str) else str(value)]
    refused_on_load(
        with_value(base(base_name), "certification.escalation_marks", marks),
        "certification.escalation_marks",
    )


@hostile
@given(
    base_name=st.sampled_from(BASES),
    key=st.sampled_from(KEYS_OF_KIND[RATIO]),
    value=bad_fractions,
)
def test_a_fraction_outside_zero_to_one_is_refused(base_name: str, key: str, value: object) -> None:
    refused_on_load(with_value(base(base_name), key, value), key)


@hostile
@given(
    base_name=st.sampled_from(BASES),
    key=st.sampled_from(KEYS_OF_KIND[NUMBER]),
    value=bad_numbers,
)
def test_a_negative_or_infinite_number_is_refused(base_name: str, key: str, value: object) -> None:
    refused_on_load(with_value(base(base_name), key, value), key)


NON_FINITE = (float("nan"), float("inf"), float("-inf"), "nan", "inf", "1e400")


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize("key", sorted(k for k in SCHEMA if SCHEMA[k] in (DURATION, RATIO, NUMBER)))
def test_every_figure_refuses_every_non_finite_value(key: str, value: object) -> None:
    """The search may miss nan for a key; this covers every key with every non-finite value."""
    if SCHEMA[key] != DURATION and isinstance(value, str):
        value = float(value)
    refused_on_load(with_value(base("sandbox"), key, value), key)


# -- 4. empty allowlists -----------------------------------------------------------------------
@hostile
@given(
    base_name=st.sampled_from(BASES),
    listed=st.sampled_from(["kube_contexts", "namespaces", "aws_accounts"]),
)
def test_an_empty_allowlist_is_refused_before_anything_runs(base_name: str, listed: str) -> None:
    refused_by_preflight(with_value(base(base_name), f"safety.{listed}", []), f"safety.{listed}")


# -- 5. targets outside the allowlist ----------------------------------------------------------
@hostile
@given(
    base_name=st.sampled_from(BASES),
    key=st.sampled_from(["kube_context", "namespace"]),
    name=names,
)
def test_a_target_the_allowlist_does_not_name_is_refused(
    base_name: str, key: str, name: str
) -> None:
    data = base(base_name)
    if name in data["safety"][f"{key}s"]:
        return
    refused_by_preflight(with_value(data, f"targets.{key}", name), f"targets.{key}")


def loaded(base_name: str, **changes: object) -> Profile:
    data = base(base_name)
    for dotted, value in changes.items():
        data = with_value(data, dotted.replace("__", "."), value)
    data["targets"] = {k: v for k, v in data["targets"].items() if v is not None}
    with written(data) as path:
        return load_profile(path)


@hostile
@given(base_name=st.sampled_from(BASES), context=names, data=st.data())
def test_a_kubeconfig_context_outside_the_allowlist_is_refused(
    base_name: str, context: str, data: st.DataObject
) -> None:
    profile = loaded(base_name, targets__kube_context=None)
    if context in profile.allowlist.kube_contexts:
        return
    others = data.draw(st.lists(names, max_size=3), label="other contexts")
    with pytest.raises(REFUSED) as caught:
        check_context(profile, kubeconfig=Path("kc"), contexts=[*others, context], current=context)
    assert_names_file_key_fix(caught.value, profile.path, "'safety.kube_contexts'")
    assert f"'{context}'" in str(caught.value)


@hostile
@given(base_name=st.sampled_from(BASES), namespace=names)
def test_a_namespace_from_the_endpoints_outside_the_allowlist_is_refused(
    base_name: str, namespace: str
) -> None:
    profile = loaded(base_name)
    if namespace in profile.allowlist.namespaces:
        return
    with pytest.raises(REFUSED) as caught:
        check_namespace(profile, namespace, named_by="endpoints.json")
    assert_names_file_key_fix(caught.value, profile.path, "'safety.namespaces'")


@hostile
@given(base_name=st.sampled_from(BASES), account=st.from_regex(r"[0-9]{12}", fullmatch=True))
def test_an_aws_account_outside_the_allowlist_is_refused(base_name: str, account: str) -> None:
    profile = loaded(base_name)
    if account in profile.allowlist.aws_accounts:
        return
    with pytest.raises(REFUSED) as caught:
        check_account(profile, account, whose="the credentials")
    assert_names_file_key_fix(caught.value, profile.path, "'safety.aws_accounts'")


# -- 6. a kubeconfig whose current context differs from the profile's --------------------------
def kubeconfig_text(contexts: list[str], current: str | None) -> str:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in contexts],
    }
    if current is not None:
        config["current-context"] = current
    return json.dumps(config)


@hostile
@given(base_name=st.sampled_from(BASES), current=names, others=st.lists(names, max_size=3))
def test_a_kubeconfig_whose_current_context_is_not_the_profiles_is_refused(
    base_name: str, current: str, others: list[str]
) -> None:
    profile = loaded(base_name)
    wanted = profile.targets.kube_context or profile.allowlist.kube_contexts[0]
    profile = loaded(base_name, targets__kube_context=wanted)
    if current == wanted:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kubeconfig"
        path.write_text(kubeconfig_text([*others, current, wanted], current), encoding="utf-8")
        found = read_contexts(path, named_by="p.toml: key 'targets.kubeconfig'")
        with pytest.raises(REFUSED) as caught:
            check_context(profile, kubeconfig=path, contexts=found.names, current=found.current)
    assert_names_file_key_fix(caught.value, profile.path, "'targets.kube_context'")
    assert f"'{current}'" in str(caught.value)


@hostile
@given(
    base_name=st.sampled_from(BASES),
    contexts=st.lists(names, max_size=3),
)
def test_a_profile_context_the_kubeconfig_lacks_is_refused(
    base_name: str, contexts: list[str]
) -> None:
    profile = loaded(base_name)
    wanted = profile.targets.kube_context or profile.allowlist.kube_contexts[0]
    profile = loaded(base_name, targets__kube_context=wanted)
    contexts = [c for c in contexts if c != wanted]
    with pytest.raises(REFUSED) as caught:
        check_context(profile, kubeconfig=Path("kc"), contexts=contexts, current=None)
    assert_names_file_key_fix(caught.value, profile.path, "'targets.kube_context'")


@hostile
@given(text=st.one_of(texts, st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_a_malformed_kubeconfig_is_a_config_error_and_nothing_else(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kubeconfig"
        path.write_text(text, encoding="utf-8")
        try:
            found = read_contexts(path, named_by="p.toml: key 'targets.kubeconfig'")
        except ConfigError as exc:
            assert_names_file_key_fix(exc, path, "'targets.kubeconfig'")
        else:
            assert all(isinstance(name, str) for name in found.names)


# -- 7. report directories outside the repository or through symbolic links ---------------------
@hostile
@given(
    ups=st.integers(min_value=1, max_value=4),
    tail=st.lists(names, max_size=3),
    absolute=st.booleans(),
)
def test_a_report_directory_outside_the_repository_is_refused(
    ups: int, tail: list[str], absolute: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        root.mkdir()
        if absolute:
            report = Path(folder, "elsewhere", *tail)
        else:
            report = Path(*tail[:1], *[".."] * (ups + len(tail[:1])), *tail[1:])
        with pytest.raises(ConfigError) as caught:
            check_report_dir(root, report, source="--drill-report-dir")
    assert_names_file_key_fix(caught.value, "--drill-report-dir", "outside the repository")


@hostile
@given(
    before=st.lists(names, max_size=2),
    link=names,
    after=st.lists(names, max_size=2),
    inside=st.booleans(),
)
def test_a_report_directory_through_a_symbolic_link_is_refused(
    before: list[str], link: str, after: list[str], inside: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        parent = root.joinpath(*before)
        parent.mkdir(parents=True)
        target = root / "real" if inside else Path(folder) / "outside"
        target.mkdir(exist_ok=True)
        if (parent / link).exists():
            return
        (parent / link).symlink_to(target, target_is_directory=True)
        report = Path(*before, link, *after)
        with pytest.raises(ConfigError) as caught:
            check_report_dir(root, report, source="--drill-report-dir")
        assert_names_file_key_fix(caught.value, "--drill-report-dir", "symbolic link")


@hostile
@given(parts=st.lists(names, min_size=1, max_size=3))
def test_a_report_directory_inside_the_repository_is_accepted(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "repo"
        root.mkdir()
        check_report_dir(root, Path(*parts), source="--drill-report-dir")
        check_report_dir(root, root.joinpath(*parts), source="--drill-report-dir")


# -- 8. DSN variables unset or malformed -------------------------------------------------------
SECRET = "S3cretPw"
malformed_dsns = st.one_of(
    st.just(""),
    st.text(" \t", min_size=1, max_size=3),
    st.from_regex(r"[A-Za-z0-9_.@/:-]{1,30}", fullmatch=True).filter(
        lambda s: "://" not in s and "=" not in s
    ),
    st.tuples(
        st.sampled_from(["http", "mysql", "redis", "postgresq", "jdbc:postgresql"]), names
    ).map(lambda t: f"{t[0]}://app:{SECRET}@{t[1]}/shop"),
    st.from_regex(r"[a-z]{1,6}", fullmatch=True).map(
        lambda p: f"postgresql://app:{SECRET}@db:{p}/shop"
    ),
    st.sampled_from(["bogus", "passwd", "hostname", "db", "username"]).map(
        lambda k: f"host=db {k}=x password={SECRET}"
    ),
    st.sampled_from(["\n", "\r", "\t", "\x00"]).map(
        lambda c: f"postgresql://app:{SECRET}@db/shop{c}"
    ),
    st.just(f"postgresql://app:{SECRET}@db/shop#frag"),
    st.just(f"postgresql://app:{SECRET}@db/shop?nosuch=1"),
    st.just(f"host=db password='{SECRET}"),
)


@hostile
@given(
    key=st.sampled_from(["database_dsn_env", "admin_dsn_env"]),
    variable=st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True),
    value=st.one_of(st.none(), malformed_dsns),
)
def test_a_dsn_variable_unset_or_malformed_is_refused_without_showing_it(
    key: str, variable: str, value: str | None
) -> None:
    profile = loaded("staging.example", **{f"targets__{key}": variable})
    environ = {"DRILLS_DATABASE_DSN": "postgresql://app@db/shop", "DRILLS_ADMIN_DSN": "host=db"}
    environ.pop(variable, None)
    if value is not None:
        environ[variable] = value
    with tempfile.TemporaryDirectory() as folder:
        paths = ProjectPaths(Path(folder))
        with pytest.raises(ConfigError) as caught:
            check_request(paths, profile, paths.reports / "run", environ)
    assert_names_file_key_fix(caught.value, profile.path, f"'targets.{key}'")
    assert f"${variable}" in str(caught.value)
    assert SECRET not in str(caught.value)


@hostile
@given(
    user=names,
    host=st.one_of(names, st.just("127.0.0.1"), st.just("[::1]")),
    port=st.integers(min_value=1, max_value=65535),
    password=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True),
)
def test_well_formed_dsns_are_accepted(user: str, host: str, port: int, password: str) -> None:
    for value in (
        f"postgresql://{user}:{password}@{host}:{port}/shop",
        f"postgres://{user}@{host}/shop?sslmode=require&application_name=drills",
        f"host={host.strip('[]')} port={port} dbname=shop user={user} password='{password}'",
    ):
        assert dsn_problem(value) is None, value
        assert read_dsn({"V": value}, "V", key="targets.database_dsn_env", where="p.toml") == value


# -- the preflight as `drills run` calls it, on a sandbox-like project -------------------------
@pytest.fixture
def sandbox_project(tmp_path: Path) -> ProjectPaths:
    """A project whose sandbox looks up: endpoints.json and a kubeconfig, and no server."""
    state = tmp_path / ".drills" / "sandbox"
    state.mkdir(parents=True)
    (state / "kubeconfig").write_text(kubeconfig_text(["drills-sandbox"], "drills-sandbox"))
    endpoints = {
        "namespace": "default",
        "aws_endpoint": "http://127.0.0.1:9",
        "database_dsn": "postgresql://app@db/shop",
    }
    (state / "endpoints.json").write_text(json.dumps(endpoints))
    return ProjectPaths(tmp_path)


def test_the_environment_preflight_passes_the_shipped_sandbox_profile(
    sandbox_project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str | None] = []

    def account(**options: Any) -> str:
        asked.append(options["endpoint_url"])
        return "123456789012"

    monkeypatch.setattr("drills.targets.adapters.aws_identity.caller_account", account)
    check_environment(sandbox_project, load_profile(ENVIRONMENTS / "sandbox.toml"), os.environ)
    assert asked == ["http://127.0.0.1:9"]  # the sandbox's moto, never real AWS


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda p: p / ".drills/sandbox/kubeconfig", "'targets.kube_context'"),
        (lambda p: p / ".drills/sandbox/endpoints.json", "'safety.namespaces'"),
        (None, "'safety.aws_accounts'"),
    ],
    ids=["current-context", "namespace", "account"],
)
def test_the_environment_preflight_refuses_what_the_sandbox_says(
    sandbox_project: ProjectPaths, monkeypatch: pytest.MonkeyPatch, change: Any, key: str
) -> None:
    monkeypatch.setattr(
        "drills.targets.adapters.aws_identity.caller_account",
        lambda **_: "999999999999" if change is None else "123456789012",
    )
    if change is not None:
        path = change(sandbox_project.root)
        if path.name == "kubeconfig":
            path.write_text(kubeconfig_text(["drills-sandbox", "prod"], "prod"))
        else:
            path.write_text(
                json.dumps({"namespace": "kube-system", "aws_endpoint": "http://127.0.0.1:9"})
            )
    profile = load_profile(ENVIRONMENTS / "sandbox.toml")
    with pytest.raises(REFUSED) as caught:
        check_environment(sandbox_project, profile, os.environ)
    assert_names_file_key_fix(caught.value, profile.path, key)
