"""Kubernetes adapter for the Jobs port, and the `locust-worker-job` rollback kind.

The in-cluster Locust workers (`drills run --load-in-cluster N`) run as one Job with N
parallel pods. The Job is harness equipment, not a fault, but it is recorded like one: its
deletion is on the rollback ledger before it is created, so `drills rollback` removes it after
a crash (`delete_worker_job`), with its pods (propagation Background, then a wait until the
API lists neither).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.core.waiting import wait_until
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube import KubeApi, _call
from drills.targets.ports.jobs import JobState

__all__ = ["LOCUST_WORKER_JOB_KIND", "KubeJobs", "delete_worker_job", "register_rollbacks"]

LOCUST_WORKER_JOB_KIND = "locust-worker-job"  # = drills.load.in_cluster.LOCUST_WORKER_JOB


class KubeJobs:
    """Jobs in `namespace` through the official client (batch/v1)."""

    def __init__(self, api: KubeApi, namespace: str, *, clock: DrillClock | None = None) -> None:
        self.api = api
        self._namespace = namespace
        self.batch: Any = client.BatchV1Api(api.core.api_client)
        self.clock = clock or SystemClock()

    @property
    def namespace(self) -> str:
        """The namespace the Jobs live in."""
        return self._namespace

    def create(self, manifest: Mapping[str, Any]) -> None:
        """POST the Job."""
        name = str(manifest["metadata"]["name"])
        _call(
            f"create job/{name} in {self._namespace}",
            lambda: self.batch.create_namespaced_job(self._namespace, dict(manifest)),
        )

    def _read(self, name: str) -> Any:
        try:
            return self.batch.read_namespaced_job(name, self._namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _pods(self, name: str) -> list[Any]:
        listed = self.api.core.list_namespaced_pod(
            self._namespace, label_selector=f"job-name={name}"
        )
        return list(listed.items)

    def state(self, name: str) -> JobState | None:
        """The Job's counts and its pods' phases; None when there is no such Job."""
        job = _call(f"read job/{name}", functools.partial(self._read, name))
        if job is None:
            return None
        pods = _call(f"list the pods of job/{name}", functools.partial(self._pods, name))
        status = job.status
        return JobState(
            name=name,
            active=int(status.active or 0) if status else 0,
            succeeded=int(status.succeeded or 0) if status else 0,
            failed=int(status.failed or 0) if status else 0,
            pod_phases=tuple(str(p.status.phase) for p in pods),
        )

    def _delete(self, name: str) -> bool:
        options = client.V1DeleteOptions(propagation_policy="Background")
        try:
            self.batch.delete_namespaced_job(name, self._namespace, body=options)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete(self, name: str, *, timeout_s: float) -> bool:
        """Delete the Job (Background propagation), then wait until it and its pods are gone."""
        had = _call(f"delete job/{name}", functools.partial(self._delete, name))

        def gone() -> Observation:
            job = self._read(name)
            pods = self._pods(name)
            detail = f"job there: {job is not None}, pods left: {len(pods)}"
            return Observation(job is None and not pods, detail)

        wait_until(
            gone,
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=0.5,
            description=f"job/{name} and its pods deleted",
        )
        return had


def delete_worker_job(entry: RollbackEntry) -> Replayed:
    """Replay: delete the Locust worker Job a crashed run left, with its pods."""
    namespace, _, name = [*entry.target.split("/"), "", ""][:3]
    by_hand = f"kubectl -n {namespace} delete job/{name}"
    jobs = KubeJobs(entry_api(entry, namespace, by_hand), namespace)
    return Replayed.RESTORED if jobs.delete(name, timeout_s=60.0) else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the `locust-worker-job` kind."""
    registry.register(LOCUST_WORKER_JOB_KIND, delete_worker_job)
