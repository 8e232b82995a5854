"""`drills init`'s section and skeleton: valid as written, filled from what the cluster showed."""

from __future__ import annotations

import ast
from pathlib import Path

from drills.core.profile import load_profile
from drills.core.service_init import (
    FoundDeployment,
    locustfile_skeleton,
    profile_section,
    section_exists,
    service_name,
)

FOUND = FoundDeployment(
    name="Notes_API",
    namespace="team-a",
    replicas=3,
    image="registry.example/notes:1.4",
    port=8080,
    health_path="/live",
    ready_path=None,
    services=("notes",),
    service_port=80,
    hpas=("notes",),
    env_names=("PORT", "NOTES_DATABASE_URL"),
)


def test_the_section_loads_and_carries_what_the_cluster_showed(tmp_path: Path) -> None:
    name = service_name(FOUND.name)
    assert name == "notes_api"
    path = tmp_path / "p.toml"
    path.write_text(profile_section(FOUND, name, "locustfiles/notes_api.py"), encoding="utf-8")
    [service] = load_profile(path).services
    workload = service.workload
    assert workload is not None
    assert (workload.deployment, workload.namespace, workload.service) == (
        "Notes_API",
        "team-a",
        "notes",
    )
    assert (workload.hpa, workload.health_path, workload.ready_path) == (
        "notes",
        "/live",
        "/readyz",
    )
    assert workload.database is None  # left commented for the team to decide
    assert workload.load.locustfile == "locustfiles/notes_api.py"
    text = path.read_text()
    assert "http://notes.team-a.svc:80" in text  # the in-cluster address, as a hint
    assert "NOTES_DATABASE_URL" in text  # the pods' DSN variable, named (never its value)
    assert "no readiness probe found" in text


def test_an_existing_section_or_sub_table_is_found() -> None:
    assert section_exists('[services.notes]\nrto = "1m"\n', "notes")
    assert section_exists("[services.notes.load]\n", "notes")
    assert not section_exists("[services.notes2]\n", "notes")
    assert service_name("9lives") == "svc-9lives"


def test_the_skeleton_is_python_with_one_user_class() -> None:
    tree = ast.parse(locustfile_skeleton(FOUND, "notes-api"))
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["NotesApiUser"]
    assert '"/live"' in locustfile_skeleton(FOUND, "notes-api")
