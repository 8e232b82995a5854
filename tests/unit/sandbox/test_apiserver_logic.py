"""Pure logic of the sandbox API server: selectors, patches, tables, store semantics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from drills.core.clock import FakeClock
from drills.sandbox.apiserver.errors import Conflict, Gone, NotFound
from drills.sandbox.apiserver.patches import (
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from drills.sandbox.apiserver.resources import resource
from drills.sandbox.apiserver.selectors import (
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from drills.sandbox.apiserver.store import ObjectStore
from drills.sandbox.apiserver.tables import format_age, render_table


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=shop", {"app": "shop"}, True),
        ("app==shop", {"app": "web"}, False),
        ("app!=shop", {}, True),
        ("tier in (a, b)", {"tier": "b"}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("canary", {"canary": "x"}, True),
        ("!canary", {"canary": "x"}, False),
        ("app=shop,tier in (a)", {"app": "shop", "tier": "a"}, True),
    ],
)
def test_label_selectors(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_field_selectors_and_errors() -> None:
    pod = {"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Pending").matches_object(pod)
    with pytest.raises(SelectorError, match="not supported"):
        parse_field_selector("spec.bogus=1")


def test_patch_formats() -> None:
    doc = {
        "spec": {"containers": [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]}]}
    }
    strategic = {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}
    merged = apply_strategic_merge_patch(doc, strategic)
    assert [e["name"] for e in merged["spec"]["containers"][0]["env"]] == ["X", "Y"]
    assert merged["spec"]["containers"][0]["image"] == "1"
    replaced = apply_merge_patch(doc, strategic)
    assert "image" not in replaced["spec"]["containers"][0]
    ops = [{"op": "replace", "path": "/spec/containers/0/image", "value": "2"}]
    assert apply_json_patch(doc, ops)["spec"]["containers"][0]["image"] == "2"
    assert doc["spec"]["containers"][0]["image"] == "1"


def test_store_versions_conflicts_and_graceful_delete() -> None:
    store = ObjectStore(clock=FakeClock(), history_limit=3)
    store.create("namespaces", {"metadata": {"name": "default"}})
    pod = store.create("pods", {"metadata": {"name": "p"}, "spec": {"nodeName": "n"}})
    assert pod["metadata"]["generation"] == 1
    store.patch("pods", "default", "p", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(Conflict):
        store.replace("pods", "default", "p", pod)
    marked = store.delete("pods", "default", "p", grace_period_s=5)
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 5
    store.finalize_delete("pods", "default", "p")
    with pytest.raises(NotFound):
        store.get("pods", "default", "p")

    async def too_old() -> None:
        async for _ in store.watch("pods", "default", "1", timeout_s=0.01):
            pass

    with pytest.raises(Gone):
        asyncio.run(too_old())


def test_tables_and_ages() -> None:
    now = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert format_age("2026-01-01T00:09:15Z", now) == "45s"
    assert format_age("2026-01-01T00:05:00Z", now) == "5m0s"
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:09:00Z"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }
    table = render_table(resource("pods"), [pod], "7", now)
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][:4] == ["p", "0/1", "CrashLoopBackOff", 3]
