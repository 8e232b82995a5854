"""A certification practical in progress: the files the CLI, the proctor and the grader share.

One practical runs at a time per project, in `.drills/certify/session/`:

- `session.json`: who, which drill and (hidden) variant, where the evidence goes, the proctor's
  pid; written by `drills certify start`.
- `announced.json`: written by the proctor once the fault is in: the moment injection began
  and the page the trainee gets. `start` waits for it, then prints the page.
- `events.jsonl`: what the trainee declared beside the fix (ack, page, notice, post-mortem),
  one JSON object per line with its wall time, appended and fsynced.
- `finish` / `abort`: requests to the proctor, created by `drills certify finish|abort`.
- `proctor.log`: the proctor's output (pytest running the practical).

The proctor is a pytest run of `fixtures/practicals.py`, so the practical gets every fixture a
drill has (traffic, the write ledger, the rollback ledger, the kill switch, the journal).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.certification.errors import CertificationError

__all__ = [
    "SESSION_ENV",
    "Announcement",
    "SessionFiles",
    "SessionState",
    "TraineeEvent",
]

SESSION_ENV = "DRILLS_CERT_SESSION"  # the proctor finds its session directory here
EVENT_KINDS = ("ack", "page", "notice", "postmortem")


@dataclass(frozen=True)
class SessionState:
    """What `drills certify start` decided; the variant stays hidden until the grade."""

    trainee: str
    drill_id: str
    variant: str
    env: str
    run_id: str
    report_dir: str
    started_at: str
    seed: int | None = None
    time_scale: float = 1.0
    proctor_pid: int | None = None
    kubeconfig: str = ""
    dsn: str = ""


@dataclass(frozen=True)
class Announcement:
    """The proctor's word that the fault is in: when injection began and the page."""

    injected_at: str  # ISO wall time when injection began (the practical's clock starts here)
    page: str  # what a pager shows, e.g. `PodCrashLooping P1: shop pods restarting`
    alert: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TraineeEvent:
    """One thing the trainee declared: `ack`, `page` (with a level), `notice` or `postmortem`."""

    kind: str
    at: str
    level: int | None = None
    text: str = ""
    source: str = ""  # the file a notice or post-mortem came from

    def at_wall(self) -> datetime:
        """The event's wall time."""
        return datetime.fromisoformat(self.at)


@dataclass(frozen=True)
class SessionFiles:
    """The paths of the one session of a project (`<root>/.drills/certify/session`)."""

    directory: Path

    @classmethod
    def of(cls, root: Path) -> SessionFiles:
        """The session directory of the project at `root`."""
        return cls(root / ".drills" / "certify" / "session")

    @property
    def state(self) -> Path:
        """session.json: what start decided."""
        return self.directory / "session.json"

    @property
    def announced(self) -> Path:
        """announced.json: the proctor's word that the fault is in."""
        return self.directory / "announced.json"

    @property
    def events(self) -> Path:
        """events.jsonl: what the trainee declared."""
        return self.directory / "events.jsonl"

    @property
    def finish_request(self) -> Path:
        """Present once `drills certify finish` asked the proctor to stop."""
        return self.directory / "finish"

    @property
    def abort_request(self) -> Path:
        """Present once `drills certify abort` asked for the rollback."""
        return self.directory / "abort"

    @property
    def log(self) -> Path:
        """The proctor's output."""
        return self.directory / "proctor.log"

    def exists(self) -> bool:
        """Whether a session was started and not cleared."""
        return self.state.exists()

    def create(self, state: SessionState) -> None:
        """Start a session directory; refuses while another session holds it."""
        if self.exists():
            held = self.read_state()
            raise CertificationError(
                f"a practical is already running: {held.drill_id} for {held.trainee} since "
                f"{held.started_at}; `drills certify finish` or `drills certify abort` it first"
            )
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        self.write_state(state)

    def write_state(self, state: SessionState) -> None:
        """Replace session.json atomically."""
        _write_json(self.state, asdict(state))

    def read_state(self) -> SessionState:
        """The running session; raises CertificationError saying how to start one."""
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CertificationError(
                "no practical is running; start one with "
                "`drills certify start DRILL --trainee NAME --random`"
            ) from None
        return SessionState(**data)

    def announce(self, announcement: Announcement) -> None:
        """Written by the proctor once the fault is in."""
        _write_json(self.announced, asdict(announcement))

    def announcement(self) -> Announcement | None:
        """The proctor's announcement, or None while the fault is not in yet."""
        try:
            return Announcement(**json.loads(self.announced.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def record(self, event: TraineeEvent) -> None:
        """Append one trainee event (fsynced: it is evidence)."""
        if event.kind not in EVENT_KINDS:
            raise CertificationError(f"unknown event {event.kind!r}; one of {EVENT_KINDS}")
        with self.events.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(event), sort_keys=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def trainee_events(self) -> list[TraineeEvent]:
        """Every event the trainee recorded, oldest first."""
        if not self.events.exists():
            return []
        lines = self.events.read_text(encoding="utf-8").splitlines()
        return [TraineeEvent(**json.loads(line)) for line in lines if line.strip()]

    def request(self, what: str, *, at: datetime) -> None:
        """Ask the proctor to `finish` or `abort` (the file holds when it was asked)."""
        path = self.finish_request if what == "finish" else self.abort_request
        path.write_text(at.isoformat() + "\n", encoding="utf-8")

    def requested(self) -> str | None:
        """`abort`, `finish` or None: what the CLI asked the proctor for (abort wins)."""
        if self.abort_request.exists():
            return "abort"
        if self.finish_request.exists():
            return "finish"
        return None

    def clear(self) -> None:
        """Remove the session: the practical is over (its evidence lives in the report)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
