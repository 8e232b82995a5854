"""`drills evidence seal|verify`: a signed, archivable evidence pack of one run.

(`drills report` lives in `drills.cli.evidence`, `drills history` in `drills.cli.history`;
this module seals and verifies.)
Exit codes: 0 sealed, or verified with every file and the signature matching; 1 verification
found a changed, missing or added file or a bad signature; 2 usage error (no such run, a key
that cannot be read).
"""

from __future__ import annotations

import argparse
import os
import socket
import tarfile
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from drills.cli.evidence import known_runs
from drills.cli.paths import ProjectPaths
from drills.core.clock import SystemClock
from drills.core.errors import ConfigError
from drills.core.journal import RunJournal
from drills.core.profile import load_profile, resolve_profile_path
from drills.reporting.provenance import default_operator
from drills.reporting.seal import PUBLIC_KEY_NAME, seal_run, verify_path
from drills.reporting.signing_key import (
    KEY_VARIABLE,
    KeyLocation,
    load_or_create,
    load_public_key,
    locate_key,
)

__all__ = ["add_evidence_parser", "evidence_command"]

USAGE = 2
NOT_VERIFIED = 1
LATEST = "latest"


def add_evidence_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`drills evidence seal [RUN] [--env NAME]` and `drills evidence verify [RUN|TARBALL]`."""
    evidence = commands.add_parser(
        "evidence", help="seal a run's evidence (signed manifest, tarball) or verify a sealed one"
    )
    actions = evidence.add_subparsers(dest="evidence_action", required=True, metavar="ACTION")
    seal = actions.add_parser("seal", help="sign every file of a run and write the tarball")
    seal.add_argument("run", nargs="?", metavar="RUN", help="run id or directory (default latest)")
    seal.add_argument(
        "--env", help="profile whose [evidence] signing_key signs (default: the run's profile)"
    )
    verify = actions.add_parser("verify", help="check a sealed run or tarball; exit 1 naming files")
    verify.add_argument(
        "target", nargs="?", metavar="RUN|TARBALL", help="run id, directory or .sealed.tar.gz"
    )
    verify.add_argument(
        "--public-key", type=Path, metavar="PATH", help="the signer's public key (PEM)"
    )


def evidence_command(
    args: argparse.Namespace,
    paths: ProjectPaths,
    console: Console,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Run `seal` or `verify`; see the module docstring for exit codes."""
    if args.evidence_action == "seal":
        return _seal(args, paths, console, environ)
    return _verify(args, paths, console)


def _target(reports: Path, given: str | None) -> Path:
    """A run named by id under reports/, or a path as given (default reports/latest)."""
    if given is None:
        return reports / LATEST
    as_path = Path(given).expanduser()
    return as_path if as_path.exists() else reports / given


def _seal(
    args: argparse.Namespace, paths: ProjectPaths, console: Console, environ: Mapping[str, str]
) -> int:
    run_dir = _target(paths.reports, args.run).resolve()
    if not (run_dir / "journal.json").is_file():
        _say_no_run(f"{run_dir} is not a run directory (no journal.json)", paths.reports, console)
        return USAGE
    try:
        location = locate_key(environ, _profile_key(paths, args.env, run_dir), Path.home())
        key, created = load_or_create(location.path)
    except (ConfigError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] signing key: {escape(str(exc))}", highlight=False)
        return USAGE
    if created:
        _say_new_key(location, console)
    sealed_by = f"{default_operator() or 'unknown'}@{socket.gethostname()}"
    try:
        manifest, tarball = seal_run(
            run_dir, key, sealed_by=sealed_by, sealed_at=SystemClock().wall().isoformat()
        )
    except OSError as exc:
        console.print(f"[red]error:[/] cannot seal {escape(f'{run_dir}: {exc}')}", highlight=False)
        return USAGE
    console.print(
        f"sealed run {manifest.run_id}: {len(manifest.files)} file(s) signed by {sealed_by} "
        f"with key {manifest.key_fingerprint[:16]}… ({location.path}, {location.source})",
        markup=False,
    )
    console.print(f"pack: {tarball}", markup=False, highlight=False)
    console.print(
        f"verify it elsewhere: drills evidence verify {tarball.name} --public-key SIGNER.pem, "
        f"where SIGNER.pem is a copy of {run_dir / PUBLIC_KEY_NAME} the verifier got apart "
        f"from the pack (key sha256 {manifest.key_fingerprint})",
        markup=False,
        highlight=False,
    )
    return 0


def _say_no_run(problem: str, reports: Path, console: Console) -> None:
    console.print(f"[red]error:[/] {escape(problem)}", highlight=False)
    runs = known_runs(reports)
    where = f"Runs in {reports}: {', '.join(runs)}" if runs else f"No run in {reports} yet."
    console.print(where, markup=False, highlight=False)


def _profile_key(paths: ProjectPaths, env: str | None, run_dir: Path) -> Path | None:
    """The `[evidence] signing_key` of `--env`, else of the profile the run recorded."""
    if env is not None:
        return load_profile(resolve_profile_path(env, paths.profiles)).evidence.signing_key
    try:
        journal = RunJournal.from_json((run_dir / "journal.json").read_text("utf-8"))
        recorded = Path(journal.provenance.profile_path)
        if journal.provenance.profile_path and recorded.is_file():
            return load_profile(recorded).evidence.signing_key
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ConfigError):
        pass  # an unreadable journal or profile names no key: the variable or the default applies
    return None


def _say_new_key(location: KeyLocation, console: Console) -> None:
    console.print(
        f"[bold yellow]created a new Ed25519 signing key[/] at {escape(str(location.path))} "
        "(mode 0600).\n"
        "It is what makes these packs yours: back it up now (a password manager or your "
        "secret store), keep it private, and give verifiers the public key "
        f"({PUBLIC_KEY_NAME} in every sealed run). Losing it means new packs get a new key. "
        f"To use another key set ${KEY_VARIABLE} or the profile's \\[evidence] signing_key.",
        highlight=False,
    )


def _verify(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    target = _target(paths.reports, args.target)
    if not target.exists():
        _say_no_run(f"nothing to verify at {target}", paths.reports, console)
        return USAGE
    try:
        public_key = (
            load_public_key(args.public_key.read_bytes(), str(args.public_key))
            if args.public_key
            else None
        )
        found = verify_path(target.resolve(), public_key)
    except (OSError, ValueError, tarfile.TarError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return USAGE
    if not found.ok:
        console.print(f"[bold red]NOT VERIFIED:[/] {escape(str(target))}", highlight=False)
        for line in found.lines():
            console.print(f"  {line}", markup=False, highlight=False)
        return NOT_VERIFIED
    manifest = found.manifest
    assert manifest is not None  # ok implies a readable manifest
    facts = (
        f"{len(manifest.files)} file(s) of run {manifest.run_id} match the manifest sealed by "
        f"{manifest.sealed_by} at {manifest.sealed_at}; signature good "
        f"(key {manifest.key_fingerprint[:16]}…, {found.key_source})"
    )
    console.print(f"[green]verified[/]: {escape(facts)}", highlight=False)
    if public_key is None:
        console.print(
            "note: checked against the public key inside the pack, which proves the files are "
            "those sealed; pass --public-key PATH (obtained apart) to prove who sealed them",
            highlight=False,
        )
    return 0
