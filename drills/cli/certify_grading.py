"""Grade a finished practical from its evidence, and keep the record with that evidence.

The evidence, never the trainee's word: the API server's audit log under the trainee's own
user, the PostgreSQL statement logs of the trainee's role, moto's request log, what the
session recorded (ack, page, notice, post-mortem, with their times), and the proctor's journal
(did the steady state come back and hold, RTO/RPO). `drills.core.certification.grade` applies
RUNBOOKS.md §4.2; the record goes to `reports/certification/<trainee>/<run-id>/` with the
proctor's run (journal, report, load logs) beside it in `evidence/`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.certification.evidence import EvidenceSources, collect
from drills.certification.identity import aws_access_key, db_role, kube_user
from drills.certification.practicals import practical_for
from drills.certification.record import GradeRecord, RecordKind
from drills.certification.records import GRADE_HTML, write_record
from drills.certification.session import Announcement, SessionFiles, SessionState
from drills.cli.certify_support import CertifyContext
from drills.core.actions import Action, TraineeVerb
from drills.core.certification import grade
from drills.core.grade import Evidence, Grade, Outcome
from drills.core.incident import Milestone
from drills.core.journal import DrillRecord, RunJournal
from drills.core.objectives import Verdict
from drills.core.practical import EscalationMark, GradingPolicy
from drills.core.profile import Profile
from drills.sandbox.aws import RECORDING_NAME

__all__ = ["Graded", "grade_session", "move_evidence"]


@dataclass(frozen=True)
class Graded:
    """What `finish` tells the trainee: the verdict, the grade as text, the page."""

    passed: bool
    text: str
    page: Path


def grading_policy(profile: Profile, time_scale: float) -> GradingPolicy:
    """The grading figures of the profile's `[phases]` and `[certification]`, on this clock."""
    settings, phases = profile.certification, profile.phases
    marks = tuple(
        EscalationMark(level, after_s)
        for level, after_s in enumerate(settings.escalation_marks_s, start=2)
    )
    return GradingPolicy(
        ack_within_s=settings.ack_within_s,
        detect_s=phases.detect_s,
        mitigate_s=phases.mitigate_s,
        resolve_s=phases.resolve_s,
        escalation=marks,
        escalation_grace_s=settings.escalation_grace_s,
        postmortem_tolerance_s=settings.postmortem_tolerance_s,
        time_scale=time_scale,
    )


def grade_session(  # noqa: PLR0913 - the session's parts and the profile it runs under
    context: CertifyContext,
    files: SessionFiles,
    state: SessionState,
    announced: Announcement,
    finished_at: datetime,
    profile: Profile,
) -> Graded:
    """Grade the session, write the record, move the proctor's evidence beside it."""
    practical = practical_for(state.drill_id)
    drill = _drill_record(Path(state.report_dir))
    evidence = _evidence(context.paths.root, files, state, announced, finished_at, drill)
    graded = grade(practical, state.variant, evidence, grading_policy(profile, state.time_scale))
    record = GradeRecord(
        trainee=state.trainee,
        kind=RecordKind.PRACTICAL,
        drill_id=state.drill_id,
        verdict=graded.verdict,
        recorded_at=context.clock.wall(),
        variant=state.variant,
        environment=state.env,
        payload=_payload(graded, state, drill, evidence),
    )
    run_dir = write_record(context.reports, record)
    move_evidence(files, run_dir)
    return Graded(graded.verdict is Verdict.PASS, graded.render(), run_dir / GRADE_HTML)


def _drill_record(report_dir: Path) -> DrillRecord | None:
    """The proctor's journal entry, or None when it wrote none (it died, it was killed)."""
    path = report_dir / "journal.json"
    try:
        journal = RunJournal.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    return journal.scenarios[0] if journal.scenarios else None


def _evidence(  # noqa: PLR0913 - the parts one grade is built from
    root: Path,
    files: SessionFiles,
    state: SessionState,
    announced: Announcement,
    finished_at: datetime,
    drill: DrillRecord | None,
) -> Evidence:
    user = kube_user(state.trainee)
    sandbox = root / ".drills" / "sandbox"
    actions, missing = collect(
        EvidenceSources(
            kube_user=user,
            audit_log=sandbox / "audit.log",
            db_role=db_role(state.trainee),
            sql_logs=tuple(sorted((sandbox / "postgres").glob("*/server.log"))),
            aws_log=sandbox / "moto.log",
            aws_recording=_recording(sandbox),
            aws_access_key=aws_access_key(state.trainee),
        )
    )
    injected_s = datetime.fromisoformat(announced.injected_at).timestamp()
    recorded = tuple(_trainee_action(e.kind, e, user) for e in files.trainee_events())

    def since_injection(milestone: Milestone) -> float | None:
        value = _figure(drill, milestone)
        return None if value is None else injected_s + value

    return Evidence(
        injected_at_s=injected_s,
        finished_at_s=finished_at.timestamp(),
        actions=tuple(sorted(actions + recorded, key=lambda a: a.at_s)),
        missing=missing,
        outcome=_outcome(drill),
        objectives=drill.objectives if drill else (),
        detected_at_s=since_injection(Milestone.TTD),
        mitigated_at_s=since_injection(Milestone.TTM),
        resolved_at_s=since_injection(Milestone.TTR),
        trainee=state.trainee,
    )


def _recording(sandbox: Path) -> Path | None:
    """The request recording moto keeps in the sandbox, else None (its request log then)."""
    path = sandbox / RECORDING_NAME
    return path if path.is_file() else None


def _trainee_action(kind: str, event: Any, user: str) -> Action:
    level = "" if event.level is None else str(event.level)
    return Action.trainee(
        TraineeVerb(kind), event.at_wall().timestamp(), user, name=level, text=event.text
    )


def _figure(drill: DrillRecord | None, milestone: Milestone) -> float | None:
    if drill is None:
        return None
    found = next((f for f in drill.figures if f.name == milestone.value), None)
    return None if found is None else found.value


def _outcome(drill: DrillRecord | None) -> Outcome:
    """Whether the steady state came back and held for the stability window."""
    if drill is None:
        return Outcome(None, "the proctor wrote no journal: the outcome was not observed")
    if _figure(drill, Milestone.TTR) is not None:
        return Outcome(
            held=True, detail=f"steady state held for the stability window; {drill.reason}"
        )
    if drill.verdict is Verdict.ERROR:
        return Outcome(None, f"the harness could not observe the outcome: {drill.reason}")
    return Outcome(held=False, detail=drill.reason or "the steady state did not come back")


def _payload(
    graded: Grade, state: SessionState, drill: DrillRecord | None, evidence: Evidence
) -> dict[str, Any]:
    """grade.json's body: the grade, the drill's own verdict, and how the run was set up."""
    body: dict[str, Any] = json.loads(json.dumps(asdict(graded), default=str))
    body["summary"] = graded.render().splitlines()[0] if graded.render() else ""
    body["drill"] = {
        "verdict": str(drill.verdict) if drill else "not observed",
        "reason": drill.reason if drill else "",
        "run_id": state.run_id,
    }
    body["seed"] = state.seed
    body["missing_sources"] = {str(k): v for k, v in evidence.missing.items()}
    body["timeline"] = [
        {
            "offset_s": a.at_s - evidence.injected_at_s,
            "source": str(a.source),
            "actor": a.actor,
            "verb": a.verb,
            "what": a.summary or a.target or a.text[:120],
            "succeeded": a.succeeded,
        }
        for a in evidence.in_window()
    ]
    return body


def move_evidence(files: SessionFiles, into: Path) -> None:
    """Keep the proctor's run (journal, report, load logs) and its log beside the grade."""
    run = files.directory / "run"
    if run.exists():
        shutil.move(str(run), str(into / "evidence"))
    if files.log.exists():
        shutil.copy2(files.log, into / "proctor.log")
