"""The notes demo service as a real process on a real local PostgreSQL, in its own database.

The server is the sandbox's kind (drills.sandbox.postgres); the notes role and database are made
the way the sandbox daemon makes them (`ensure_service_database`). The acknowledgement test
makes the database refuse a note at COMMIT (a deferred constraint trigger): a service that
answered before committing would say 201 for a note that is not there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from drills.core.clock import SystemClock
from drills.core.waiting import wait_until
from drills.load.shapes import Steady
from drills.load.traffic import TrafficRecorder
from drills.sandbox.postgres import free_port
from drills.targets.adapters.locust_load import LocustLoad
from fixtures.notes.contract import payload_hash
from tests.sandbox.pgkit import PgKit, local_postgres

pytestmark = pytest.mark.sandbox

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "fixtures" / "notes" / "app.py"
LOCUSTFILE = REPO / "fixtures" / "locustfiles" / "notes.py"
CLOCK = SystemClock()
LIMIT = 7  # the role's CONNECTION LIMIT in these tests
PUT_NAME, GET_NAME = "PUT PUT /notes/{id}", "GET GET /notes/{id}"  # method + the request's name

REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_marked_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.body = 'refused at commit' THEN RAISE EXCEPTION 'note refused at COMMIT'; END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT OR UPDATE ON notes
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_marked_note();
"""


@dataclass
class Notes:
    """One running notes process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str]]:
        """One HTTP request; its status and JSON body ({"text": ...} when not JSON)."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text)
            except json.JSONDecodeError:
                return exc.code, {"text": text.decode()}

    def put(self, note_id: str, text: str) -> tuple[int, dict[str, str]]:
        """PUT one note."""
        return self.call("PUT", f"/notes/{note_id}", json.dumps({"text": text}).encode())

    def answers(self, path: str) -> bool:
        """True when `path` answers 200."""
        try:
            return self.call("GET", path)[0] == 200
        except OSError:
            return False


@pytest.fixture(scope="module")
def kit() -> Iterator[PgKit]:
    with local_postgres(max_connections=30) as started:
        yield started


@pytest.fixture(scope="module")
def notes_dsn(kit: PgKit) -> str:
    return kit.primary.ensure_service_database("notes", "notes", connection_limit=LIMIT)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Notes]]:
    started: list[Notes] = []
    yield started
    for notes in started:
        notes.process.terminate()
        try:
            notes.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            notes.process.kill()
            notes.process.wait()


def start_notes(dsn: str, tmp_path: Path, running: list[Notes]) -> Notes:
    """Start the app as the sandbox does (a script, from another directory)."""
    port = free_port()
    log = (tmp_path / f"notes-{port}.log").open("wb")
    env = {"PORT": str(port), "DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", "POOL_TIMEOUT_S": "1"}
    process = subprocess.Popen(
        [sys.executable, str(APP)], env=env, cwd="/", stdout=log, stderr=subprocess.STDOUT
    )
    notes = Notes(process, f"http://127.0.0.1:{port}")
    running.append(notes)
    wait_until(
        lambda: notes.answers("/healthz"),
        clock=CLOCK,
        timeout_s=20,
        poll_s=0.1,
        description="notes answering",
    )
    return notes


def test_the_service_database_has_its_own_role_limit_and_owner(kit: PgKit, notes_dsn: str) -> None:
    assert notes_dsn.endswith("/notes")
    assert "notes@" in notes_dsn
    again = kit.primary.ensure_service_database("notes", "notes", connection_limit=LIMIT)
    assert again == notes_dsn  # idempotent
    with psycopg.connect(kit.primary.admin_dsn(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT r.rolconnlimit, r.rolsuper, pg_get_userbyid(d.datdba) FROM pg_roles r, "
            "pg_database d WHERE r.rolname = 'notes' AND d.datname = 'notes'"
        ).fetchone()
    assert row == (LIMIT, False, "notes")


def test_notes_are_stored_replaced_and_read_back(
    notes_dsn: str, tmp_path: Path, running: list[Notes]
) -> None:
    notes = start_notes(notes_dsn, tmp_path, running)
    assert notes.call("GET", "/readyz") == (200, {"status": "ready"})
    assert notes.put("n-1", "buy milk") == (
        201,
        {"note_id": "n-1", "payload_hash": payload_hash("n-1", "buy milk")},
    )
    status, replaced = notes.put("n-1", "buy oat milk")
    assert (status, replaced["payload_hash"]) == (200, payload_hash("n-1", "buy oat milk"))
    status, found = notes.call("GET", "/notes/n-1")
    assert status == 200
    assert (found["text"], found["payload_hash"]) == ("buy oat milk", replaced["payload_hash"])
    with psycopg.connect(notes_dsn) as conn:
        row = conn.execute("SELECT body, payload_hash FROM notes WHERE note_id = 'n-1'").fetchone()
    assert row == ("buy oat milk", replaced["payload_hash"])
    assert notes.call("GET", "/notes/never-written")[0] == 404
    assert notes.call("PUT", "/notes/n-2", b'{"txt": "x"}')[0] == 422
    assert notes.call("PUT", "/notes/n-2", b"not json")[0] == 400


def test_a_note_refused_at_commit_is_never_acknowledged(
    kit: PgKit, notes_dsn: str, tmp_path: Path, running: list[Notes]
) -> None:
    notes = start_notes(notes_dsn, tmp_path, running)
    assert notes.put("ensure-table", "kept")[0] in (200, 201)
    admin = kit.primary.admin_dsn("notes")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(REFUSE_AT_COMMIT)
    try:
        status, body = notes.put("n-refused", "refused at commit")
        assert status == 503, body
        assert "refused at COMMIT" in body["detail"]
        assert notes.call("GET", "/notes/n-refused")[0] == 404
        assert notes.put("n-kept", "kept")[0] == 201  # the trigger refuses only its marked text
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_at_commit ON notes")
            conn.execute("DROP FUNCTION refuse_marked_note()")


def test_readiness_fails_while_the_database_is_unreachable(
    tmp_path: Path, running: list[Notes]
) -> None:
    notes = start_notes(f"postgresql://notes@127.0.0.1:{free_port()}/notes", tmp_path, running)
    assert notes.call("GET", "/healthz") == (200, {"status": "ok"})
    assert notes.call("GET", "/readyz")[0] == 503
    assert notes.put("n-x", "nowhere")[0] == 503


def test_the_locustfile_writes_and_reads_back_through_the_service(
    notes_dsn: str, tmp_path: Path, running: list[Notes]
) -> None:
    """The harness's Locust adapter and the notes locustfile: PUTs stored, reads found."""
    notes = start_notes(notes_dsn, tmp_path, running)
    recorder = TrafficRecorder()
    load = LocustLoad(
        LOCUSTFILE, notes.url, sink=recorder.add, log_dir=tmp_path, wait_s=(0.02, 0.05)
    )

    def puts_and_reads() -> bool:
        names = [r.name for r in recorder.records()]
        return names.count(PUT_NAME) >= 20 and names.count(GET_NAME) >= 20

    with load:
        load.start(Steady(users=4, spawn_rate=50.0))
        wait_until(puts_and_reads, clock=CLOCK, timeout_s=30, poll_s=0.1, description="traffic")
    records = recorder.records()
    assert [r for r in records if not r.ok] == []
    assert {r.status for r in records if r.name == PUT_NAME} == {201}  # fresh ids only
    assert {r.status for r in records if r.name == GET_NAME} == {200}
    acks = {a.key: a.payload_hash for a in load.acknowledged()}
    assert len(acks) == sum(1 for r in records if r.name == PUT_NAME)
    with psycopg.connect(notes_dsn) as conn:
        rows = conn.execute(
            "SELECT note_id, payload_hash FROM notes WHERE note_id = ANY(%s)", (list(acks),)
        ).fetchall()
    assert dict(rows) == acks  # every acknowledged note stored, with the hash the user computed
