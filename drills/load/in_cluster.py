"""Locust workers as a Kubernetes Job (`drills run --load-in-cluster N`).

One laptop cannot make the load a staging service needs, so the workers run in the cluster: a
Job with N parallel pods from the image `[load] worker_image` (this repository installed,
`fixtures/images/drills-locust.Dockerfile`), while the master stays in the harness's process
tree, where the drill's stream server and clock are. Each pod gets the worker's command line in
`DRILLS_LOCUST_ARGV` (a JSON list: locustfile, master host and port) and the stream variables
(`DRILLS_STREAM_ADDR`, `DRILLS_STREAM_CLOCK=wall`): it streams wall time, which the harness maps
onto its own clock exactly as for workers on other hosts. On the sandbox the upstream Job
controller creates the pods and the node agent runs them as processes
(`fixtures/locust_worker.py`, image repository `drills-locust`).

The Job is equipment, not a fault: `LocustWorkerJob` is handed to `Drill.prepare`, so its
deletion is on the rollback ledger before it exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drills.core.safety import RollbackEntry
from drills.targets.ports.jobs import Jobs

__all__ = ["LOCUST_WORKER_JOB", "WORKER_ARGV_ENV", "LocustWorkerJob", "worker_job_manifest"]

LOCUST_WORKER_JOB = (
    "locust-worker-job"  # = drills.targets.adapters.kube_jobs.LOCUST_WORKER_JOB_KIND
)
WORKER_ARGV_ENV = "DRILLS_LOCUST_ARGV"
_LABEL = "drills.dev/locust-worker"
_DEADLINE_S = 4 * 3600  # a Job a lost harness leaves behind ends by itself


def worker_job_manifest(  # noqa: PLR0913 - the fields of the Job, keyword-only
    *,
    name: str,
    image: str,
    count: int,
    argv: Sequence[str],
    env: Mapping[str, str],
    run_id: str,
) -> dict[str, Any]:
    """The batch/v1 Job: `count` pods at once, never restarted, gone 10 min after it ends."""
    variables = {**env, WORKER_ARGV_ENV: json.dumps(list(argv))}
    labels = {_LABEL: "true", "drills.dev/run": run_id[:63]}
    container = {
        "name": "locust-worker",
        "image": image,
        "env": [{"name": k, "value": v} for k, v in sorted(variables.items())],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "parallelism": count,
            "completions": count,
            "backoffLimit": 0,
            "activeDeadlineSeconds": _DEADLINE_S,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


@dataclass
class LocustWorkerJob:
    """Create the worker Job; its rollback deletes it and waits until its pods are gone."""

    jobs: Jobs
    manifest: Mapping[str, Any]
    delete_timeout_s: float = 60.0
    kind: str = LOCUST_WORKER_JOB

    @property
    def name(self) -> str:
        """The Job's name."""
        return str(self.manifest["metadata"]["name"])

    @property
    def target(self) -> str:
        """`<namespace>/job/<name>`."""
        return f"{self.jobs.namespace}/job/{self.name}"

    def describe(self) -> str:
        """One line for the plan."""
        count = self.manifest["spec"]["parallelism"]
        image = self.manifest["spec"]["template"]["spec"]["containers"][0]["image"]
        return f"run {count} Locust worker pod(s) as {self.target} (image {image})"

    def rollback_entry(self) -> RollbackEntry:
        """The Job's place; the cluster is added by the caller (ClusterBound)."""
        return RollbackEntry(self.kind, self.target, {})

    def apply(self) -> None:
        """Create the Job."""
        self.jobs.create(self.manifest)

    def rollback(self) -> None:
        """Delete the Job and its pods (idempotent)."""
        self.jobs.delete(self.name, timeout_s=self.delete_timeout_s)
