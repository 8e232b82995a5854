"""The shipped Roles grant exactly what the drills declare: nothing missing, nothing extra.

Fails when a drill's declaration (drills/core/access_needs.py, its variants' included) needs a
permission the Roles lack, when they grant what no drill needs, or when a scenario has no
declaration at all. The shop's namespace is the Role in fixtures/rbac/drills-operator.yaml;
cluster-wide objects and the metrics APIs' namespace are the two ClusterRoles of
fixtures/rbac/drills-operator-cluster.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.core.access import ROLE_PATH, Permission, RoleRule, uncovered, unneeded
from drills.core.access_needs import DRILL_NEEDS, METRICS_APIS_NAMESPACE, VARIANT_NEEDS

REPO = Path(__file__).resolve().parents[3]
CLUSTER_PATH = str(Path(ROLE_PATH).with_name("drills-operator-cluster.yaml"))


def _documents(path: str = ROLE_PATH) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]


def _one(kind: str, path: str = ROLE_PATH, name: str | None = None) -> dict[str, Any]:
    [found] = [
        d for d in _documents(path) if d["kind"] == kind and name in (None, d["metadata"]["name"])
    ]
    return found


def _declared() -> set[Permission]:
    needs = [*DRILL_NEEDS.values(), *VARIANT_NEEDS.values()]
    return {p for declared in needs for p in declared}


def _in_shop(p: Permission) -> bool:
    return not p.cluster and not p.namespace


def _cluster_wide(p: Permission) -> bool:
    return p.cluster


def _in_metrics_namespace(p: Permission) -> bool:
    return p.namespace == METRICS_APIS_NAMESPACE


ROLES = [
    pytest.param(ROLE_PATH, "Role", "drills-operator", _in_shop, id="shop-namespace"),
    pytest.param(
        CLUSTER_PATH, "ClusterRole", "drills-operator-cluster", _cluster_wide, id="cluster-wide"
    ),
    pytest.param(
        CLUSTER_PATH,
        "ClusterRole",
        "drills-operator-metrics-apis",
        _in_metrics_namespace,
        id="metrics-namespace",
    ),
]


def _rules(path: str, kind: str, name: str) -> list[RoleRule]:
    return [RoleRule.from_manifest(rule) for rule in _one(kind, path, name)["rules"]]


def test_every_declared_permission_has_its_role() -> None:
    homeless = [
        p.describe()
        for p in _declared()
        if not (_in_shop(p) or _cluster_wide(p) or _in_metrics_namespace(p))
    ]
    assert homeless == [], "no shipped Role is bound where these are asked"


@pytest.mark.parametrize(("path", "kind", "name", "scope"), ROLES)
def test_the_role_grants_every_permission_a_drill_declares(
    path: str, kind: str, name: str, scope: Callable[[Permission], bool]
) -> None:
    wanted = {p for p in _declared() if scope(p)}
    assert wanted, f"nothing declared for {kind} {name}: remove it"
    lacking = [p.describe() for p in uncovered(_rules(path, kind, name), wanted)]
    assert lacking == [], f"add these to {kind} {name} in {path}: {lacking}"


@pytest.mark.parametrize(("path", "kind", "name", "scope"), ROLES)
def test_the_role_grants_nothing_no_drill_declares(
    path: str, kind: str, name: str, scope: Callable[[Permission], bool]
) -> None:
    wanted = {p for p in _declared() if scope(p)}
    extra = [p.describe() for p in unneeded(_rules(path, kind, name), wanted)]
    assert extra == [], f"remove these from {kind} {name} in {path} or declare who needs them"


def test_the_binding_gives_the_role_to_the_service_account_of_the_same_namespace() -> None:
    account, role, binding = _one("ServiceAccount"), _one("Role"), _one("RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"]}]
    # no namespace anywhere: `kubectl -n NAMESPACE apply -f` places all three together
    assert all("namespace" not in d["metadata"] for d in _documents())


def test_every_scenario_declares_what_it_needs() -> None:
    ids = {
        match
        for module in (REPO / "scenarios").glob("test_*.py")
        for match in re.findall(r"\bid=\"([a-z0-9-]+)\"", module.read_text())
    }
    assert ids, "no drill ids found in scenarios/"
    assert sorted(ids - set(DRILL_NEEDS)) == []
    assert sorted(set(DRILL_NEEDS) - ids) == []  # no declaration outlives its drill
    assert sorted({d for d, _ in VARIANT_NEEDS} - ids) == []
