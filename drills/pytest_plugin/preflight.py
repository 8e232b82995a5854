"""The access preflight: may the Kubernetes identity do all that the selected drills need.

Once collection selected the drills, and before any fixture or fault, the permissions they
declare (`drills.core.access_needs`) are bound to the profile's namespace and asked of the API
server, one SelfSubjectAccessReview per distinct permission, once per session. Any denied: the
run is refused (pytest.UsageError; `drills run` exits 2) with one message listing exactly the
missing permissions and the shipped Role. Under `--drill-dry-run` the same list is printed and
the session ends non-zero, after the plan, without acting.

Only cluster-backed targets (profile kinds `sandbox` and `cluster`) are checked. When the check
cannot run (no kubeconfig, a context outside the allowlist, the server unreachable) the
preflight says why and steps aside: the drill's own fixtures report that error as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from drills.core.access import Permission, missing, needs_of, refusal
from drills.core.access_needs import VARIANT_NEEDS, needs_for
from drills.core.errors import ConfigError, DrillError
from drills.core.profile import Profile, resolve_endpoints
from drills.pytest_plugin.context import DrillContext
from drills.pytest_plugin.markers import drill_marker, variant_of

__all__ = ["PLUGIN_NAME", "AccessPreflight", "CheckedAccess"]

PLUGIN_NAME = "drills-access-preflight"
CLUSTER_KINDS = frozenset({"sandbox", "cluster"})


@dataclass(frozen=True)
class CheckedAccess:
    """What the preflight asked and what it found (kept for the session's summary)."""

    identity: str
    namespace: str
    needs: dict[Permission, tuple[str, ...]]
    lacking: dict[Permission, tuple[str, ...]]


class AccessPreflight:
    """Reviews the selected drills' permissions once, before the first drill sets up."""

    def __init__(self, context: DrillContext) -> None:
        self.context = context
        self.checked: CheckedAccess | None = None
        self.skipped = ""

    @pytest.hookimpl(tryfirst=True)  # before the run lock is taken: a refusal leaves no trace
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Refuse the run (or, dry run, note it) when the identity lacks a needed permission."""
        if session.config.option.collectonly or self.checked is not None:
            return
        declared = _declared(session.items)
        if not any(declared.values()):
            return
        checked = self._check(declared)
        if checked is None:
            return
        self.checked = checked
        if checked.lacking and not self.context.settings.dry_run:
            raise pytest.UsageError(
                "drills: " + refusal(checked.lacking, identity=checked.identity)
            )

    def _check(self, declared: dict[str, tuple[Permission, ...]]) -> CheckedAccess | None:
        try:
            profile = self.context.profile
            if profile.targets.kind not in CLUSTER_KINDS:
                return None
            return _review(profile, self.context, declared)
        except (DrillError, ImportError) as exc:
            self.skipped = f"access preflight skipped: {exc}"
            return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A dry run whose identity lacks permissions does not end OK."""
        checked = self.checked
        if checked is not None and checked.lacking and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """One line on the access checked; the dry run's refusal in full."""
        checked = self.checked
        if checked is None:
            if self.skipped:
                terminalreporter.write_line(f"drills: {self.skipped}", yellow=True)
            return
        if checked.lacking:  # a real run was refused with this list already
            if self.context.settings.dry_run:
                text = refusal(checked.lacking, identity=checked.identity, dry_run=True)
                terminalreporter.write_line(f"drills: {text}", red=True, bold=True)
            return
        terminalreporter.write_line(
            f"drills: access preflight: {checked.identity} holds the {len(checked.needs)} "
            f"Kubernetes permission(s) the drills need in namespace {checked.namespace}"
        )


def _declared(items: list[pytest.Item]) -> dict[str, tuple[Permission, ...]]:
    """Each selected drill -> what it needs; `id --variant v` for a variant that needs more.

    An invalid marker is skipped here: the drill fixture reports it.
    """
    declared: dict[str, tuple[Permission, ...]] = {}
    for item in items:
        try:
            marker = drill_marker(item)
            variant = variant_of(item) if marker is not None else ""
        except (ConfigError, pytest.UsageError):
            continue
        if marker is not None:
            more = (marker.id, variant) in VARIANT_NEEDS
            label = f"{marker.id} --variant {variant}" if more else marker.id
            declared[label] = needs_for(marker.id, variant)
    return declared


def _review(
    profile: Profile, context: DrillContext, declared: dict[str, tuple[Permission, ...]]
) -> CheckedAccess | None:
    """Bind the needs to the profile's namespace and ask the server; None without a kubeconfig."""
    from drills.targets.adapters.kube_access import (  # the k8s extra, only when needed
        connect_for_review,
        review_access,
        who_am_i,
    )

    endpoints = resolve_endpoints(
        profile.targets, context.root, os.environ, profile_path=profile.path
    )
    if endpoints.kubeconfig is None:
        return None
    namespace = endpoints.namespace or profile.targets.namespace or "default"
    needs = needs_of(declared, namespace, declared)
    api = connect_for_review(
        endpoints.kubeconfig, allowlist=profile.allowlist, context=endpoints.kube_context
    )
    decisions = review_access(api, needs)
    return CheckedAccess(who_am_i(api), namespace, needs, missing(needs, decisions))
