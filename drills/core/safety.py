"""Safety rails: allowlists, the blast-radius cap, and the on-disk rollback ledger."""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from drills.core.errors import ConfigError, SafetyViolation

__all__ = [
    "Allowlist",
    "BlastRadius",
    "Discarded",
    "JsonScalar",
    "Replayed",
    "RollbackEntry",
    "RollbackLedger",
    "RollbackRegistry",
]

JsonScalar = str | int | float | bool | None


@dataclass(frozen=True)
class Allowlist:
    """What a profile allows drills to touch; an empty tuple means nothing is allowed."""

    kube_contexts: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    aws_accounts: tuple[str, ...] = ()
    source: str = "<profile>"

    def check_context(self, context: str) -> None:
        """Raise SafetyViolation unless `context` is allowlisted."""
        if context not in self.kube_contexts:
            raise SafetyViolation.context_not_allowed(context, self.source)

    def check_namespace(self, namespace: str) -> None:
        """Raise SafetyViolation unless `namespace` is allowlisted."""
        if namespace not in self.namespaces:
            raise SafetyViolation.namespace_not_allowed(namespace, self.source)

    def check_account(self, account: str) -> None:
        """Raise SafetyViolation unless the AWS `account` is allowlisted."""
        if account not in self.aws_accounts:
            raise SafetyViolation.account_not_allowed(account, self.source)


@dataclass(frozen=True)
class BlastRadius:
    """The most a single fault may touch: a fraction of a group, and an absolute cap.

    It is a cap, never a floor: half of a one-pod group is 0 pods, so a fault on it is refused
    rather than taking the whole group down.
    """

    max_fraction: float = 0.5
    max_count: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.max_fraction <= 1:
            raise ValueError("max_fraction must be in (0, 1]")

    def allowed(self, total: int) -> int:
        """How many of `total` items a fault may touch: floor(total x max_fraction), capped."""
        if total <= 0:
            return 0
        allowed = math.floor(total * self.max_fraction + 1e-9)
        return allowed if self.max_count is None else min(allowed, self.max_count)

    def describe(self) -> str:
        """`max_fraction 0.5, max_count 2` style, for messages."""
        count = "" if self.max_count is None else f", max_count {self.max_count}"
        return f"max_fraction {self.max_fraction:g}{count}"

    def check(self, wanted: int, total: int, what: str) -> None:
        """Raise SafetyViolation when `wanted` of `total` exceeds the cap (or the cap is 0)."""
        allowed = self.allowed(total)
        if allowed == 0 and wanted > 0:
            raise SafetyViolation.blast_radius_zero(total, what, self.describe())
        if wanted > allowed:
            raise SafetyViolation.blast_radius(wanted, allowed, what)


@dataclass(frozen=True)
class RollbackEntry:
    """Data that is enough to undo a fault later, even from another process."""

    kind: str
    target: str
    args: Mapping[str, JsonScalar] = field(default_factory=dict)
    entry_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    run_id: str = ""
    scenario: str = ""


@dataclass(frozen=True)
class Discarded:
    """A pending entry an operator gave up on: who, when (ISO wall time) and why."""

    entry: RollbackEntry
    reason: str
    operator: str
    at: str


class Replayed(Enum):
    """What replaying one entry did; a rollback that could not run raises instead."""

    RESTORED = "restored"
    ALREADY = "already as recorded (nothing done)"


class RollbackLedger:
    """Append-only JSON lines: a `pending` line is fsync'd before a fault acts, `done` after undo.

    The file survives a killed process; `drills rollback` replays what is still pending. An
    operator may give an entry up (`discarded`, with a reason); it is then no longer pending.
    Lines of a state this version does not know are ignored, so older tools read newer ledgers.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, entry: RollbackEntry) -> None:
        """Write the pending rollback durably; call before the fault acts."""
        self._append({"state": "pending", **asdict(entry), "args": dict(entry.args)})

    def mark_done(self, entry_id: str, *, outcome: str = "done") -> None:
        """Mark a rollback as finished (`done`) or as given up (`failed` stays pending)."""
        self._append({"state": outcome, "entry_id": entry_id})

    def discard(self, entry_id: str, *, reason: str, operator: str, at: str) -> RollbackEntry:
        """Give a pending entry up, durably; raise ConfigError on no reason or no such entry."""
        if not reason.strip():
            raise ConfigError(f"discarding rollback {entry_id} needs a reason (--reason TEXT)")
        found = {entry.entry_id: entry for entry in self.pending()}
        if entry_id not in found:
            listed = ", ".join(found) or "none"
            raise ConfigError(
                f"no pending rollback {entry_id!r} in {self.path}; pending ids: {listed}"
            )
        line = {"reason": reason.strip(), "operator": operator, "at": at}
        self._append({"state": "discarded", "entry_id": entry_id, **line})
        return found[entry_id]

    def pending(self) -> list[RollbackEntry]:
        """Entries recorded but neither done nor discarded, oldest first."""
        entries: dict[str, RollbackEntry] = {}
        for line in self._lines():
            if line["state"] == "pending":
                entries[line["entry_id"]] = _entry(line)
            elif line["state"] in ("done", "discarded"):
                entries.pop(line["entry_id"], None)
        return list(entries.values())

    def discarded(self) -> list[Discarded]:
        """Entries given up by an operator (and not replayed since), oldest first."""
        entries: dict[str, RollbackEntry] = {}
        given_up: dict[str, Discarded] = {}
        for line in self._lines():
            entry_id = line["entry_id"]
            if line["state"] == "pending":
                entries[entry_id] = _entry(line)
            elif line["state"] == "discarded" and entry_id in entries:
                reason, who, at = (str(line.get(k, "")) for k in ("reason", "operator", "at"))
                given_up[entry_id] = Discarded(entries[entry_id], reason, who, at)
            elif line["state"] == "done":
                given_up.pop(entry_id, None)
        return list(given_up.values())

    def _append(self, line: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _lines(self) -> Iterator[dict[str, str]]:
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as exc:
                if number == len(lines):
                    return  # a torn last line from a killed process: the rest is still valid
                raise ConfigError(f"{self.path}:{number} is not valid JSON: {exc}") from exc
            yield {**line, "state": str(line["state"]), "entry_id": str(line["entry_id"])}


def _entry(line: Mapping[str, object]) -> RollbackEntry:
    args = line.get("args") or {}
    if not isinstance(args, dict):
        args = {}
    return RollbackEntry(
        kind=str(line["kind"]),
        target=str(line["target"]),
        args=args,
        entry_id=str(line["entry_id"]),
        run_id=str(line.get("run_id", "")),
        scenario=str(line.get("scenario", "")),
    )


# A function returns Replayed.ALREADY when it found the state as recorded and did nothing;
# None (older plugins) counts as RESTORED. It raises when the rollback could not run.
RollbackFunction = Callable[[RollbackEntry], "Replayed | None"]


class RollbackRegistry:
    """Maps a rollback kind to the function that undoes it; rollbacks are data, not code."""

    def __init__(self) -> None:
        self._functions: dict[str, RollbackFunction] = {}

    def register(self, kind: str, function: RollbackFunction) -> RollbackFunction:
        """Register `function` for `kind`; registering a kind twice replaces it."""
        self._functions[kind] = function
        return function

    def run(self, entry: RollbackEntry) -> Replayed:
        """Undo one entry; raises KeyError naming the known kinds when none matches."""
        try:
            function = self._functions[entry.kind]
        except KeyError:
            known = ", ".join(sorted(self._functions)) or "none"
            raise KeyError(
                f"no rollback registered for kind '{entry.kind}' (known: {known})"
            ) from None
        outcome = function(entry)
        return Replayed.RESTORED if outcome is None else outcome

    def kinds(self) -> list[str]:
        """Registered kinds, sorted."""
        return sorted(self._functions)
