"""Permissions the drills need: binding to a namespace, what is missing, the refusal, RBAC rules."""

from __future__ import annotations

import pytest

from drills.core.access import (
    ROLE_PATH,
    AccessDecision,
    Permission,
    RoleRule,
    missing,
    needs_of,
    refusal,
    uncovered,
    unneeded,
)
from drills.core.access_needs import needs_for

GET_DEPLOY = Permission("get", "deployments", "apps")
LIST_PODS = Permission("list", "pods")
DELETE_PODS = Permission("delete", "pods")
SCALE = Permission("patch", "deployments", "apps", "scale")
SECRET = Permission("get", "secrets", name="shop-database")
DECLARED = {
    "kill": (GET_DEPLOY, LIST_PODS, DELETE_PODS, SCALE),
    "watch": (GET_DEPLOY, LIST_PODS),
    "nothing": (),
}


def test_describe_names_verb_resource_group_subresource_name_and_namespace() -> None:
    assert SCALE.in_namespace("shop").describe() == (
        "patch deployments.apps/scale in namespace shop"
    )
    assert Permission("get", "pods", subresource="log").describe() == "get pods/log"
    assert SECRET.in_namespace("default").describe() == (
        "get secrets named shop-database in namespace default"
    )
    assert SCALE.rbac_resource == "deployments/scale"
    assert DELETE_PODS.writes
    assert not LIST_PODS.writes


def test_needs_are_bound_to_the_namespace_once_each_with_the_drills_that_need_them() -> None:
    needs = needs_of(["watch", "kill", "unknown", "nothing"], "shop", DECLARED)
    assert needs == {
        DELETE_PODS.in_namespace("shop"): ("kill",),
        GET_DEPLOY.in_namespace("shop"): ("kill", "watch"),
        SCALE.in_namespace("shop"): ("kill",),
        LIST_PODS.in_namespace("shop"): ("kill", "watch"),
    }
    assert list(needs) == sorted(needs)
    assert needs_of(["unknown", "nothing"], "shop", DECLARED) == {}


def test_missing_lists_exactly_the_denied_and_the_unanswered() -> None:
    needs = needs_of(["kill"], "shop", DECLARED)
    allowed = AccessDecision(allowed=True)
    decisions = {p: allowed for p in needs}
    assert missing(needs, decisions) == {}
    decisions[DELETE_PODS.in_namespace("shop")] = AccessDecision(allowed=False, reason="no rule")
    del decisions[SCALE.in_namespace("shop")]
    assert missing(needs, decisions) == {
        DELETE_PODS.in_namespace("shop"): ("kill",),
        SCALE.in_namespace("shop"): ("kill",),
    }


def test_the_refusal_lists_each_missing_permission_and_points_at_the_role() -> None:
    lacking = {
        DELETE_PODS.in_namespace("shop"): ("kill",),
        GET_DEPLOY.in_namespace("shop"): ("kill", "watch"),
    }
    text = refusal(lacking, identity="user system:serviceaccount:shop:drills-operator")
    assert text.splitlines() == [
        "refused before any fault: user system:serviceaccount:shop:drills-operator lacks 2 "
        "Kubernetes permissions the selected drills need:",
        "  - delete pods in namespace shop (for kill)",
        "  - get deployments.apps in namespace shop (for kill, watch)",
        f"Grant them by binding the Role in {ROLE_PATH} to this identity in that namespace "
        "(README: Least privilege on a cluster), or select only drills it may run.",
    ]
    one = refusal({LIST_PODS.in_namespace("shop"): ("watch",)}, identity="me", dry_run=True)
    assert one.startswith("dry run: a real run would be refused: me lacks 1 Kubernetes permission ")


@pytest.mark.parametrize(
    ("rule", "permission", "allowed"),
    [
        (RoleRule(("apps",), ("deployments",), ("get",)), GET_DEPLOY, True),
        (RoleRule(("apps",), ("deployments",), ("get",)), SCALE, False),  # subresource apart
        (RoleRule(("apps",), ("deployments/scale",), ("patch",)), SCALE, True),
        (RoleRule(("apps",), ("*/scale",), ("patch",)), SCALE, True),
        (RoleRule(("*",), ("*",), ("*",)), SCALE, True),
        (RoleRule(("",), ("pods",), ("list",)), DELETE_PODS, False),
        (RoleRule(("extensions",), ("deployments",), ("get",)), GET_DEPLOY, False),
        (RoleRule(("",), ("secrets",), ("get",), ("shop-database",)), SECRET, True),
        (RoleRule(("",), ("secrets",), ("get",), ("other",)), SECRET, False),
        # a rule limited to names never grants an unnamed request (a list, a create)
        (
            RoleRule(("",), ("secrets",), ("create",), ("x",)),
            Permission("create", "secrets"),
            False,
        ),
    ],
)
def test_rules_match_as_the_rbac_authorizer_does(
    rule: RoleRule, permission: Permission, *, allowed: bool
) -> None:
    assert rule.allows(permission.in_namespace("shop")) is allowed


def test_uncovered_and_unneeded_compare_a_role_with_the_needs_both_ways() -> None:
    rules = [
        RoleRule.from_manifest(
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "update"]}
        ),
        RoleRule.from_manifest({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}),
    ]
    needs = needs_of(["kill"], "shop", DECLARED)
    assert uncovered(rules, needs) == [SCALE.in_namespace("shop")]
    assert unneeded(rules, needs) == [
        Permission("*", "pods"),
        Permission("update", "deployments", "apps"),
    ]


def test_a_malformed_rule_says_which_key() -> None:
    with pytest.raises(ValueError, match="verbs must be a list of strings"):
        RoleRule.from_manifest({"apiGroups": [""], "resources": ["pods"], "verbs": "get"})


def test_cluster_wide_and_already_bound_permissions_keep_their_scope() -> None:
    nodes = Permission("patch", "nodes", cluster=True)
    elsewhere = Permission("patch", "endpointslices", "discovery.k8s.io", namespace="kube-system")
    assert nodes.in_namespace("shop") == nodes
    assert nodes.describe() == "patch nodes (cluster-wide)"
    assert elsewhere.in_namespace("shop").namespace == "kube-system"
    assert nodes.unbound() == Permission("patch", "nodes")  # as a rule grants it
    needs = needs_of(["n"], "shop", {"n": (nodes, elsewhere, LIST_PODS)})
    assert list(needs) == sorted([nodes, elsewhere, LIST_PODS.in_namespace("shop")])


def test_a_variant_adds_its_needs_to_its_drills() -> None:
    own = needs_for("hpa-spike")
    assert needs_for("hpa-spike", "healthy") == own
    no_hpa = needs_for("hpa-spike", "no-hpa")
    assert no_hpa[: len(own)] == own
    assert Permission("delete", "horizontalpodautoscalers", "autoscaling") in no_hpa[len(own) :]
    assert needs_for("not-a-drill", "any") == ()
