"""--load-in-cluster's pure parts: the worker Job, its prepared change, the pods' command line."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from drills.core.profile import Endpoints, LoadSettings, Profile, load_profile
from drills.load.in_cluster import WORKER_ARGV_ENV, LocustWorkerJob, worker_job_manifest
from drills.targets.ports.jobs import JobState
from fixtures.load_cluster import (
    advertise_host,
    in_cluster_count,
    pod_locustfile,
    pod_service_url,
    worker_argv,
)


class FakeJobs:
    """Records what the change asks of the cluster."""

    namespace = "staging"

    def __init__(self) -> None:
        self.created: list[Mapping[str, Any]] = []
        self.deleted: list[str] = []

    def create(self, manifest: Mapping[str, Any]) -> None:
        self.created.append(manifest)

    def state(self, name: str) -> JobState | None:
        return JobState(name, 2, 0, 0, ("Running", "Running"))

    def delete(self, name: str, *, timeout_s: float) -> bool:
        del timeout_s
        self.deleted.append(name)
        return True


def _manifest() -> dict[str, Any]:
    return worker_job_manifest(
        name="drills-locust-run1",
        image="registry.example/drills-locust:1.2",
        count=2,
        argv=["-f", "locustfile.py", "--worker", "--master-host", "10.0.0.1"],
        env={"DRILLS_STREAM_ADDR": "10.0.0.1:4000", "DRILLS_STREAM_CLOCK": "wall"},
        run_id="run1",
    )


def test_the_job_runs_count_pods_once_each_and_carries_the_command_line() -> None:
    manifest = _manifest()
    spec = manifest["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (2, 2, 0)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert json.loads(env[WORKER_ARGV_ENV])[:2] == ["-f", "locustfile.py"]
    assert env["DRILLS_STREAM_CLOCK"] == "wall"  # the harness maps wall time onto its clock
    assert spec["activeDeadlineSeconds"] > 0  # a Job a lost harness leaves ends by itself


def test_the_change_creates_the_job_and_its_rollback_deletes_it() -> None:
    jobs = FakeJobs()
    change = LocustWorkerJob(jobs, _manifest())
    assert change.rollback_entry().target == "staging/job/drills-locust-run1"
    assert "2 Locust worker pod(s)" in change.describe()
    change.apply()
    change.rollback()
    assert [m["metadata"]["name"] for m in jobs.created] == ["drills-locust-run1"]
    assert jobs.deleted == ["drills-locust-run1"]


def test_the_pods_get_the_locustfile_as_they_see_it(tmp_path: Path) -> None:
    command = ["locust", "-f", "shop.py", "--worker", "--master-host", "h", "--master-port", "1"]
    assert worker_argv(command, "/app/x.py") == [
        "-f",
        "/app/x.py",
        "--worker",
        "--master-host",
        "h",
        "--master-port",
        "1",
    ]
    local = tmp_path / "shop.py"
    plain = Profile("p", tmp_path / "p.toml")
    assert pod_locustfile(plain, local) == str(local.resolve())
    image = Profile("p", tmp_path / "p.toml", load=LoadSettings(worker_locustfile="/app/l.py"))
    assert pod_locustfile(image, local) == "/app/l.py"


def _endpoints(**kwargs: Any) -> Endpoints:
    return Endpoints(None, None, None, None, None, None, **kwargs)


def test_without_an_address_for_the_pods_the_error_says_what_to_set() -> None:
    with pytest.raises(pytest.UsageError, match="--load-advertise HOST"):
        advertise_host(_endpoints(), {})
    assert advertise_host(_endpoints(pod_gateway="10.244.3.1"), {}) == "10.244.3.1"
    assert advertise_host(_endpoints(), {"DRILLS_LOAD_ADVERTISE": "me"}) == "me"
    with pytest.raises(pytest.UsageError, match=r"\[targets\] pod_service_url"):
        pod_service_url(load_profile_text(""), _endpoints(), None)


@pytest.mark.parametrize("raw", ["two", "-1", "1.5"])
def test_a_count_that_is_not_a_whole_number_is_refused(raw: str) -> None:
    with pytest.raises(pytest.UsageError, match="not a whole number"):
        in_cluster_count({"DRILLS_LOAD_IN_CLUSTER": raw})
    assert in_cluster_count({}) == 0


def load_profile_text(text: str) -> Profile:
    """A profile from TOML text (the loader reads files: a throw-away one)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.toml"
        path.write_text(text)
        return load_profile(path)


TWO = '[services.shop]\ndeployment = "shop"\n[services.notes]\ndeployment = "notes"\n'


def test_each_service_is_loaded_at_its_own_address_inside_the_cluster() -> None:
    profile = load_profile_text(TWO)
    both = _endpoints(
        pod_service_url="http://10.244.3.1:81",
        pod_service_urls={"shop": "http://10.244.3.1:81", "notes": "http://10.244.3.1:82"},
    )
    assert pod_service_url(profile, both, None) == "http://10.244.3.1:81"  # the first: shop
    assert pod_service_url(profile, both, "notes") == "http://10.244.3.1:82"
    only_first = _endpoints(pod_service_url="http://shop.default.svc:80")
    assert pod_service_url(profile, only_first, "shop") == "http://shop.default.svc:80"
    with pytest.raises(pytest.UsageError, match=r"set pod_url in \[services.notes\]"):
        pod_service_url(profile, only_first, "notes")  # never the first service's address
    named = load_profile_text(TWO + 'pod_url = "http://notes.team-a.svc:80"\n')
    assert pod_service_url(named, only_first, "notes") == "http://notes.team-a.svc:80"
