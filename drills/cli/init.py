"""`drills init`: describe one Deployment of a namespace as a profile service and a locustfile.

It looks at the namespace through the profile's kubeconfig (the allowlist applies), lists the
Deployments with their Services and HPAs, and for the one picked (`--deployment`, or asked on a
terminal) appends a commented `[services.<name>]` section to the profile and writes a locustfile
skeleton. It never overwrites: an existing section or locustfile is refused with what to do.
The profile with the new section is loaded by the profile loader before anything is written,
so what it writes passes validation.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.prompt import Prompt
from rich.text import Text

from drills.cli.paths import ProjectPaths
from drills.core.errors import ConfigError, DrillError
from drills.core.profile import Profile, load_profile, resolve_endpoints, resolve_profile_path
from drills.core.service_init import (
    FoundDeployment,
    locustfile_skeleton,
    profile_section,
    section_exists,
    service_name,
)
from drills.targets.adapters.kube import connect
from drills.targets.adapters.kube_inventory import inventory

__all__ = ["add_init_parser", "init_command"]

USAGE = 2


def add_init_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`drills init [--env NAME] [--namespace NS] [--deployment NAME] [--name SERVICE] ...`."""
    init = commands.add_parser(
        "init", help="describe a Deployment as a profile service and write a locustfile skeleton"
    )
    init.add_argument("--env", default="sandbox", help="the profile to add the service to")
    init.add_argument("--namespace", help="where to look (default: the profile's namespace)")
    init.add_argument("--deployment", metavar="NAME", help="the Deployment (default: ask)")
    init.add_argument("--name", metavar="SERVICE", help="[services.<name>] (default: its name)")
    init.add_argument(
        "--locustfile", type=Path, help="where the skeleton goes (default locustfiles/<name>.py)"
    )


def init_command(args: argparse.Namespace, paths: ProjectPaths, console: Console) -> int:
    """Look, pick, check, write; 0 when both files were written, 2 on bad input or a refusal."""
    try:
        profile_path = resolve_profile_path(args.env, paths.profiles)
        profile = load_profile(profile_path)
        found, namespace = _look(profile, profile_path, paths, args.namespace)
        chosen = _pick(found, args.deployment, namespace, console)
        name = args.name or service_name(chosen.name)
        locustfile = (args.locustfile or Path("locustfiles") / f"{name}.py").expanduser()
        written = _write(profile_path, paths.root, chosen, name, locustfile)
    except DrillError as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)), highlight=False)
        return USAGE
    for line in written:
        console.print(line, highlight=False, markup=False)
    console.print(
        f"next: check the new lines, then `drills list --env {profile.name}` shows what "
        f"{name} can be drilled with",
        highlight=False,
        markup=False,
    )
    return 0


def _look(
    profile: Profile, profile_path: Path, paths: ProjectPaths, namespace: str | None
) -> tuple[list[FoundDeployment], str]:
    endpoints = resolve_endpoints(
        profile.targets, paths.root, os.environ, profile_path=profile_path
    )
    where = namespace or endpoints.namespace or profile.targets.namespace or "default"
    profile.allowlist.check_namespace(where)
    if endpoints.kubeconfig is None:
        raise ConfigError(
            f"profile {profile_path} names no kubeconfig: set [targets] kubeconfig, or bring the "
            "sandbox up (`drills sandbox up`)"
        )
    api = connect(endpoints.kubeconfig, allowlist=profile.allowlist, context=endpoints.kube_context)
    found = inventory(api, where)
    if not found:
        raise ConfigError(f"namespace {where} has no Deployment: pass --namespace NS")
    return found, where


def _pick(
    found: list[FoundDeployment], wanted: str | None, namespace: str, console: Console
) -> FoundDeployment:
    by_name = {f.name: f for f in found}
    if wanted is not None:
        if wanted not in by_name:
            raise ConfigError(
                f"namespace {namespace} has no Deployment {wanted!r}; it has: "
                + ", ".join(sorted(by_name))
            )
        return by_name[wanted]
    console.print(f"Deployments in {namespace}:", highlight=False, markup=False)
    for item in found:
        console.print(f"  {item.describe()}", highlight=False, markup=False)
    if not sys.stdin.isatty():
        raise ConfigError("pick one with --deployment NAME (no terminal to ask on)")
    return by_name[Prompt.ask("which one", choices=sorted(by_name), console=console)]


def _write(
    profile_path: Path, root: Path, chosen: FoundDeployment, name: str, locustfile: Path
) -> list[str]:
    """Refuse to overwrite, validate the new profile, then write the locustfile and profile."""
    text = profile_path.read_text(encoding="utf-8")
    if section_exists(text, name):
        raise ConfigError(
            f"{profile_path} already has [services.{name}]: nothing was written; pass --name "
            "to add it under another name, or edit the section by hand"
        )
    target = locustfile if locustfile.is_absolute() else root / locustfile
    if target.exists():
        raise ConfigError(
            f"{target} exists: nothing was written; pass --locustfile PATH for the skeleton"
        )
    shown = os.path.relpath(target, root) if target.is_relative_to(root) else str(target)
    updated = text.rstrip("\n") + "\n\n" + profile_section(chosen, name, shown)
    check = profile_path.with_name(f".{profile_path.stem}.drills-init.toml")
    try:
        check.write_text(updated, encoding="utf-8")
        load_profile(check)  # the same directory: relative paths in the profile still resolve
    finally:
        check.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(locustfile_skeleton(chosen, name), encoding="utf-8")
    temporary = profile_path.with_name(f".{profile_path.name}.tmp")
    temporary.write_text(updated, encoding="utf-8")
    temporary.replace(profile_path)
    return [
        f"added [services.{name}] for deployment/{chosen.name} to {profile_path}",
        f"wrote the locustfile skeleton {target}",
    ]
