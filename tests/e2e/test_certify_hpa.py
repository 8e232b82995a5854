"""Scripted trainees through the `hpa-spike` practical on a real sandbox (RUNBOOKS.md §3.9).

The real CLI starts the practical: a Locust spike held while the trainee works, and for `no-hpa`
the HPA deleted as the spike begins. The trainee uses kubectl with the kubeconfig the page
names; `drills certify finish` grades from the audit log and the proctor's journal. Who inspects
the HPA and watches it act PASSes `spike`; who, finding no HPA, scales by hand and re-applies
the HPA manifest PASSes `no-hpa` (who only scales by hand misses the restore-hpa step: the unit
tests grade that). Every test ends with the shop as it was found: 3 replicas Ready,
the HPA in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.conditions import Observation
from drills.core.safety import RollbackLedger
from drills.core.waiting import wait_until
from tests.e2e.certify_cli import (
    certify,
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

DRILL = "hpa-spike"
PAGE = "HighLatency P2: shop: p95 over the threshold during a load surge"
SCALE = "0.1"  # every budget a tenth: ack 30 s, detect 30 s, mitigate 90 s
HPA_MANIFEST = Path("fixtures", "shop", "k8s", "custom-metrics", "hpa.yaml")  # autoscaler.yaml
NOTICE = notice(
    "P2",
    incident="shop slow under a load surge",
    impact="p95 over the threshold for shop users",
    cause="the shop did not scale out under the surge",
    mitigation="kubectl scale deployment/shop --replicas=10; re-apply the HPA",
)


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def start(root: Path, trainee: str, variant: str) -> Path:
    """Start the practical; return the trainee's kubeconfig from the page."""
    out = start_practical(root, DRILL, trainee, variant, time_scale=SCALE, page=PAGE)
    return Path(printed(out, r"export KUBECONFIG=(\S+)"))


def watch_hpa_scale_out(root: Path, config: Path) -> None:
    """`kubectl get hpa` until the HPA has raised the replicas above 3 (§3.9 step 6)."""

    def look() -> Observation:
        hpa = json.loads(kubectl_as(root, config, "get", "hpa", "shop", "-o", "json"))
        current = int(hpa["status"].get("currentReplicas") or 0)
        desired = int(hpa["status"].get("desiredReplicas") or 0)
        return Observation(max(current, desired) > 3, f"current {current} desired {desired}")

    wait_until(look, clock=SystemClock(), timeout_s=90, poll_s=1.0)


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


@pytest.mark.extended  # hpa's practicals: make test drills the practical machinery on the others
def test_a_trainee_who_watches_the_hpa_act_passes(project: Path) -> None:
    config = start(project, "alice", "spike")
    fixed = now()  # the HPA is the fix: the journal times it by when users stopped failing
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    kubectl_as(project, config, "get", "hpa")
    kubectl_as(project, config, "describe", "hpa", "shop")
    kubectl_as(project, config, "top", "pods")
    assert certify(project, "notice", str(write(project, "n-alice.txt", NOTICE)))[0] == 0
    watch_hpa_scale_out(project, config)
    kubectl_as(project, config, "get", "pods", "-l", "app=shop")
    restored = now()
    pm = write(project, "pm-alice.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out = certify(project, "finish")
    grade = grade_of(project, "alice")
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    assert left_as_found(project) == ""


@pytest.mark.extended  # hpa's practicals: make test drills the practical machinery on the others
def test_a_trainee_who_restores_the_hpa_and_scales_by_hand_passes(project: Path) -> None:
    config = start(project, "dave", "no-hpa")
    assert certify(project, "ack")[0] == 0
    detected = investigated = now()
    assert "shop" not in kubectl_as(project, config, "get", "hpa")  # the variant is real
    kubectl_as(project, config, "top", "pods")
    assert certify(project, "notice", str(write(project, "n-dave.txt", NOTICE)))[0] == 0
    fixed = now()
    kubectl_as(project, config, "scale", "deployment/shop", "--replicas=10")  # §3.9 step 5
    kubectl_as(project, config, "apply", "-f", str(project / HPA_MANIFEST))  # §3.9 step 4
    kubectl_as(project, config, "get", "hpa", "shop")  # §3.9 step 6
    kubectl_as(project, config, "rollout", "status", "deployment/shop", "--timeout=120s")
    restored = now()
    pm = write(project, "pm-dave.md", postmortem(detected, investigated, fixed, restored))
    assert certify(project, "postmortem", str(pm))[0] == 0
    code, out = certify(project, "finish")
    grade = grade_of(project, "dave")
    assert code == 0, out
    assert grade["verdict"] == "PASS", json.dumps(grade["payload"]["criteria"], indent=1)
    assert grade["variant"] == "no-hpa"
    assert set(verdicts(grade).values()) == {"PASS"}, verdicts(grade)
    assert left_as_found(project) == ""
