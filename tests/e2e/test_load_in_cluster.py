"""`drills run --load-in-cluster 2`: a drill's traffic carried by two worker pods of a Job.

On the shared sandbox: the upstream Job controller creates the pods, the node agent runs them as
processes, they join the master in the harness and stream their requests back. The drill must
PASS on their traffic alone (the master runs no users), and the Job must be gone afterwards,
deleted by the rollback recorded before it was created. The side-by-side figures (requests/s
of 2 in-cluster workers vs 1 local process, the user-side RTO error of both) are
`make bench`'s bench_in_cluster_load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.drill_cli import figures, kubectl, run_drill

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


@pytest.mark.extended  # make bench measures the same plumbing side by side
def test_two_in_cluster_workers_carry_the_drill_and_their_job_is_removed(project: Path) -> None:
    run = run_drill(project, "pod-kill-under-load", "--load-in-cluster", "2")
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{run.output}"
    jobs = [r for r in scenario["rollbacks"] if r["kind"] == "locust-worker-job"]
    assert [r["outcome"] for r in jobs] == ["done"], scenario["rollbacks"]
    seen = figures(scenario)
    served = seen["error ratio after the fault"]["detail"]
    assert int(served.split(" of ")[1].split()[0]) > 100, served  # the pods' requests counted
    assert kubectl(project, "get", "jobs", "-o", "name").strip() == ""
    assert "drills-locust" not in kubectl(project, "get", "pods", "-o", "name")


@pytest.mark.extended  # the in-cluster plumbing for a second service; the shop's is above
def test_in_cluster_workers_load_the_drilled_service_at_its_own_address(project: Path) -> None:
    run = run_drill(project, "pod-kill-under-load", "--service", "notes", "--load-in-cluster", "2")
    scenario = run.scenario
    assert (run.code, scenario["verdict"]) == (0, "PASS"), f"{scenario['reason']}\n{run.output}"
    assert scenario["service"] == "notes"
    seen = figures(scenario)
    acknowledged = seen["acknowledged writes"]["value"]
    assert acknowledged > 100  # PUT /notes acknowledged through the pods' users, read back
    assert seen["acknowledged writes lost"]["value"] == 0
    assert kubectl(project, "get", "jobs", "-o", "name").strip() == ""
    print(f"notes in-cluster: {acknowledged:.0f} acknowledged notes")  # noqa: T201
