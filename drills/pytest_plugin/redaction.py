"""Keep the run's secrets out of what pytest writes: failure reports, junit.xml, allure-results.

The harness's own writers mask secrets as they write (`drills.core.secrets.redact`). pytest and
allure-pytest write from the exception and captured output themselves, so the plugin masks the
test reports as they are made (terminal and junit.xml read those) and, when the session ends,
rewrites every text file under the report directory, junit.xml and allure-results in place.
A configuration error in a drill's setup is reported as its one-line message, not a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drills.core.errors import ConfigError, SafetyViolation
from drills.core.profile import resolve_endpoints
from drills.core.secrets import REDACTOR, learn_secrets, redact
from drills.pytest_plugin.context import DrillContext

__all__ = ["clean_report", "learn_run_secrets", "scrub_outputs"]

# Errors whose message is the whole story (file, key, fix): a traceback only hides it.
_MESSAGE_ONLY = (ConfigError, SafetyViolation)


def learn_run_secrets(context: DrillContext) -> None:
    """Teach the redactor the profile's DSN passwords and kubeconfig credentials up front."""
    learn_secrets(os.environ)
    try:
        profile = context.profile
        resolve_endpoints(profile.targets, context.root, os.environ, profile_path=profile.path)
    except ConfigError:
        return  # the drill_endpoints fixture reports it where a drill needs the endpoints


def clean_report(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """Mask secrets in the report's failure text and captured output, in place."""
    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(_MESSAGE_ONLY) and report.failed:
        report.longrepr = f"{excinfo.typename}: {excinfo.value}"
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        path, line, reason = longrepr
        report.longrepr = (path, line, redact(reason))
    elif longrepr is not None:
        text = str(longrepr)
        clean = redact(text)
        if clean != text:
            report.longrepr = clean
    report.sections = [(title, redact(content)) for title, content in report.sections]


def scrub_outputs(config: pytest.Config, report_dir: Path) -> list[Path]:
    """Mask secrets in every text file of the report directory, junit.xml and allure-results."""
    targets = [report_dir]
    for option in ("xmlpath", "allure_report_dir"):
        value = getattr(config.option, option, None)
        if value:
            targets.append(Path(value))
    changed: list[Path] = []
    for target in targets:
        if target.is_dir():
            changed += REDACTOR.redact_tree(target)
        elif target.is_file() and REDACTOR.redact_file(target):
            changed.append(target)
    return changed
