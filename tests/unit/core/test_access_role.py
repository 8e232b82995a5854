"""The shipped Role grants exactly what the drills declare: nothing missing, nothing extra.

Fails when a drill's declaration (drills/core/access_needs.py) needs a permission the Role in
fixtures/rbac/drills-operator.yaml lacks, when the Role grants what no drill needs, or when a
scenario has no declaration at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from drills.core.access import ROLE_PATH, Permission, RoleRule, uncovered, unneeded
from drills.core.access_needs import DRILL_NEEDS

REPO = Path(__file__).resolve().parents[3]


def _documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / ROLE_PATH).read_text()) if d]


def _one(kind: str) -> dict[str, Any]:
    [found] = [d for d in _documents() if d["kind"] == kind]
    return found


def _rules() -> list[RoleRule]:
    return [RoleRule.from_manifest(rule) for rule in _one("Role")["rules"]]


def _declared() -> set[Permission]:
    return {p for needs in DRILL_NEEDS.values() for p in needs}


def test_the_role_grants_every_permission_a_drill_declares() -> None:
    lacking = [p.describe() for p in uncovered(_rules(), _declared())]
    assert lacking == [], f"add these to {ROLE_PATH}: {lacking}"


def test_the_role_grants_nothing_no_drill_declares() -> None:
    extra = [p.describe() for p in unneeded(_rules(), _declared())]
    assert extra == [], f"remove these from {ROLE_PATH} or declare the drill that needs them"


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
