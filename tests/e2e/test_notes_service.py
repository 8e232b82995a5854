"""The second demo service on the shared sandbox: deployed beside the shop, reachable, separate.

`drills sandbox up` deploys fixtures/notes/k8s/ after the shop (tests/e2e/drill_cli.py copies
fixtures/notes into the project), serves it through a second service proxy and names its URL
and DSN in endpoints.json. This checks what the notes drills build on: two Ready pods, a PUT
acknowledged and read back through that URL, the row in the notes database (not the shop's),
and the shop's endpoints keys unchanged. The note written is deleted again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from fixtures.notes.contract import payload_hash
from tests.e2e.drill_cli import kubectl, sandbox_endpoints

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def project(drill_project: Path) -> Path:
    """The sandbox the drill modules share (tests/e2e/conftest.py)."""
    return drill_project


def _call(method: str, url: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _ready_notes_pods(root: Path) -> int:
    pods = json.loads(kubectl(root, "get", "pods", "-l", "app=notes", "-o", "json"))["items"]
    return sum(
        1
        for pod in pods
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
    )


def test_the_notes_service_serves_beside_the_shop(project: Path) -> None:
    endpoints = sandbox_endpoints(project)
    assert endpoints["service_urls"]["shop"] == endpoints["service_url"]
    assert endpoints["service_dsns"]["shop"] == endpoints["database_dsn"]
    notes_url, notes_dsn = endpoints["service_urls"]["notes"], endpoints["service_dsns"]["notes"]
    assert notes_url != endpoints["service_url"]
    wait_until(
        lambda: _ready_notes_pods(project) == 2,
        clock=SystemClock(),
        timeout_s=30,
        poll_s=0.5,
        description="2 Ready notes pods",
    )
    note_id = f"e2e-{uuid.uuid4().hex}"
    try:
        status, stored = _call("PUT", f"{notes_url}/notes/{note_id}", b'{"text": "from e2e"}')
        assert (status, stored["payload_hash"]) == (201, payload_hash(note_id, "from e2e"))
        status, found = _call("GET", f"{notes_url}/notes/{note_id}")
        assert (status, found["text"]) == (200, "from e2e")
        with psycopg.connect(notes_dsn, autocommit=True) as conn:
            where = conn.execute("SELECT current_user, current_database()").fetchone()
            limit = conn.execute(
                "SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        assert where == ("notes", "notes")
        assert limit is not None
        assert limit[0] > 0  # its own cap: a pool leak with this role fills only notes slots
    finally:
        with psycopg.connect(notes_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM notes WHERE note_id = %s", (note_id,))
