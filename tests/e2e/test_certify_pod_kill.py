"""Scripted trainees through the `pod-kill-under-load` practical on a real sandbox (RUNBOOKS §3.2).

Each test plays one trainee in their own shell: the real CLI starts the practical under Locust,
the trainee uses kubectl with the kubeconfig the page names, records ack/notice/post-mortem, and
`drills certify finish` grades from the API server's audit log and the proctor's journal. Who
assesses and sees the capacity back PASSes (`all`); who scales the Deployment back up (`zero`)
after the scaled mitigation budget FAILs on timeliness alone, every other criterion passing. (A
trainee who never brings the capacity back misses the step: the unit tests grade it.) A profile
whose blast radius refuses to touch every pod stops `start` with the reason. Every test ends
with the shop as it was found: 3 replicas Ready, the HPA in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from tests.e2e.certify_cli import (
    certify,
    criteria,
    grade_of,
    kubectl_as,
    notice,
    now,
    postmortem,
    printed,
    start_practical,
    verdicts,
    write,
)
from tests.e2e.drill_cli import kubectl

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

DRILL = "pod-kill-under-load"
PAGES = {
    "fraction": "ShopReplicasMissing P1: shop: replicas below desired",
    "all": "ShopDown P0: shop: every health check failing",
    "zero": "ShopDown P0: shop: every health check failing",
}
SEVERITY = {"fraction": "P1", "all": "P0", "zero": "P0"}
SCALE = "0.1"  # every budget a tenth: ack 30 s, detect 30 s, mitigate 90 s
SLOW_SCALE = 0.05  # ack 15 s, detect 15 s, mitigate 45 s, level 2 paged by 45 s


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def start(root: Path, trainee: str, variant: str, scale: str = SCALE) -> Path:
    """Start the practical; return the trainee's kubeconfig from the page."""
    out = start_practical(root, DRILL, trainee, variant, time_scale=scale, page=PAGES[variant])
    return Path(printed(out, r"export KUBECONFIG=(\S+)"))


def assess(root: Path, config: Path) -> None:
    """§3.2 step 2: what is gone (pods, nodes, events)."""
    kubectl_as(root, config, "get", "pods", "-o", "wide")
    kubectl_as(root, config, "get", "nodes")
    kubectl_as(root, config, "get", "events", "--sort-by=.lastTimestamp")


def ready_pods(root: Path, config: Path, want: int = 3) -> None:
    """`kubectl get pods` until `want` shop pods are Ready, as a person would re-run it."""

    def look() -> Observation:
        pods = json.loads(kubectl_as(root, config, "get", "pods", "-l", "app=shop", "-o", "json"))
        ready = sum(
            1
            for pod in pods["items"]
            if not pod["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions") or []
            )
        )
        return Observation(ready >= want, f"{ready} Ready")

    wait_until(look, clock=SystemClock(), timeout_s=120, poll_s=1.0)


def said(variant: str) -> str:
    """The trainee's notice, at the page's severity."""
    return notice(
        SEVERITY[variant],
        incident="shop pods gone under load",
        impact="shop requests failing while replicas are missing",
        cause="shop pods deleted / Deployment scaled down",
        mitigation="replicas back (kubectl scale deployment/shop --replicas=3)",
    )


def left_as_found(root: Path) -> str:
    """What differs from the shop at rest (3 replicas, all Ready, the HPA); '' when nothing."""
    deployment = json.loads(kubectl(root, "get", "deployment", "shop", "-o", "json"))
    wanted = deployment["spec"].get("replicas")
    ready = deployment["status"].get("readyReplicas") or 0
    hpa = kubectl(root, "get", "hpa", "--ignore-not-found", "-o", "name")
    problems = [
        f"spec.replicas {wanted}" if wanted != 3 else "",
        f"{ready} Ready" if ready != 3 else "",
        "no hpa/shop" if "horizontalpodautoscaler.autoscaling/shop" not in hpa else "",
        "rollbacks pending" if RollbackLedger(ProjectPaths(root).ledger).pending() else "",
        "session left" if (root / ".drills" / "certify" / "session").exists() else "",
    ]
    return "; ".join(p for p in problems if p)


def finish(root: Path, trainee: str) -> tuple[int, str, dict[str, Any]]:
    code, out = certify(root, "finish")
    return code, out, grade_of(root, trainee)


def test_a_profile_whose_blast_radius_refuses_every_pod_stops_start_with_the_reason(
    project: Path,
) -> None:
    environments = project / "fixtures" / "environments"
    sandbox = (environments / "sandbox.toml").read_text()
    assert "max_fraction = 1.0" in sandbox
    capped = sandbox.replace('name = "sandbox"', 'name = "capped"')
    (environments / "capped.toml").write_text(
        capped.replace("max_fraction = 1.0", "max_fraction = 0.5")
    )
    try:
        code, out = certify(
            project, "start", DRILL, "--trainee", "cap", "--variant", "zero", "--env", "capped"
        )
    finally:
        (environments / "capped.toml").unlink()
    assert code == 1, out
    assert "the practical could not start" in out
    assert "the fault would touch 3 replicas but the blast radius allows 1" in out
    assert "raise [safety] max_fraction in the profile" in out
    assert left_as_found(project) == ""
    assert certify(project, "status")[0] == 2  # no practical left running


@pytest.mark.parametrize(("trainee", "variant"), [("dave", "all")])  # zero: carol below
def test_a_trainee_who_brings_the_capacity_back_passes(
    project: Path, trainee: str, variant: str
) -> None:
    config = start(project, trainee, variant)
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    assess(project, config)
    note = write(project, f"n-{trainee}.txt", said(variant))
    assert certify(project, "notice", str(note))[0] == 0
    fixed = now()
    if variant == "zero":  # §3.2 step 5: capacity back
        kubectl_as(project, config, "scale", "deployment/shop", "--replicas=3")
        kubectl_as(project, config, "rollout", "status", "deployment/shop", "--timeout=120s")
    ready_pods(project, config)  # §3.2 step 6: verify, pods Ready and listed again
    kubectl_as(project, config, "get", "endpoints", "shop")
    restored = now()
    pm = write(project, f"pm-{trainee}.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out, grade = finish(project, trainee)
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert grade["variant"] == variant
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    if variant == "zero":
        timeline = [e.get("what") or "" for e in grade["payload"]["timeline"]]
        assert any("scale" in what for what in timeline), timeline
    assert left_as_found(project) == ""


@pytest.mark.extended  # the grading of a late step: tests/unit/certification/test_grade.py
def test_a_trainee_slower_than_the_mitigation_budget_fails_on_timeliness_alone(
    project: Path,
) -> None:
    config = start(project, "carol", "zero", scale=str(SLOW_SCALE))
    clock = SystemClock()
    began = clock.now()
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    assess(project, config)
    assert certify(project, "notice", str(write(project, "n-carol.txt", said("zero"))))[0] == 0
    assert certify(project, "page", "--level", "2")[0] == 0  # unresolved at the level-2 mark
    mitigate_s = 900 * SLOW_SCALE
    clock.sleep(max(0.0, mitigate_s + 5 - (clock.now() - began)))  # past the budget
    fixed = now()
    kubectl_as(project, config, "scale", "deployment/shop", "--replicas=3")
    kubectl_as(project, config, "rollout", "status", "deployment/shop", "--timeout=120s")
    ready_pods(project, config)
    kubectl_as(project, config, "get", "endpoints", "shop")
    restored = now()
    pm = write(project, "pm-carol.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out, grade = finish(project, "carol")
    assert code == 1, out
    failed = {name for name, verdict in verdicts(grade).items() if verdict != "PASS"}
    assert failed == {"timeliness"}, verdicts(grade)
    reasons = criteria(grade)["timeliness"]["reasons"]
    assert any(r.startswith("capacity-back at +") and "budget 45.0s" in r for r in reasons), reasons
    assert left_as_found(project) == ""
