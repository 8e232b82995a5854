"""A drill copied into a toy project's scenarios/ that fails and puts its secrets everywhere.

It connects to a closed port with the profile's DSN (password inside) and calls a Kubernetes
API server that answers 401 and echoes the bearer token, then quotes the DSN, the token and the
AWS secret key in its step name, a figure's detail, stdout, a log record and its error, as a
careless scenario or a chatty SDK would. The harness must redact every copy.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import kubernetes
import pytest

from drills import Drill, Endpoints
from drills.core.errors import DrillError, InjectionFailed
from drills.targets.adapters.postgres import PostgresDatabase


def _token(kubeconfig: Path | None) -> str:
    assert kubeconfig is not None
    found = re.search(r"token:\s*(\S+)", kubeconfig.read_text())
    assert found is not None
    return found.group(1)


def _database_error(dsn: str) -> str:
    try:
        PostgresDatabase("shop", dsn, connect_timeout_s=2).tables()
    except DrillError as exc:
        return f"{exc} (dsn {dsn})"
    return "the database answered"


def _kube_error(kubeconfig: Path) -> str:
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(kubeconfig)))
    try:
        api.list_namespaced_pod("default")
    except kubernetes.client.ApiException as exc:
        return str(exc)
    return "the API server answered"


@pytest.mark.drill(id="leaky", runbook="§9.9", service="shop", severity="P1")
def test_leaks_its_secrets(drill: Drill, drill_endpoints: Endpoints) -> None:
    dsn = drill_endpoints.database_dsn or ""
    assert drill_endpoints.kubeconfig is not None
    token = _token(drill_endpoints.kubeconfig)
    aws = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    sys.stdout.write(f"connecting to {dsn} with Authorization: Bearer {token}, aws {aws}\n")
    logging.getLogger("leaky").warning("admin %s, token %s", drill_endpoints.admin_dsn, token)
    with drill.step(f"Connect to {dsn} with {token}"):
        drill.record_figure(
            "connect",
            None,
            "s",
            detail=f"via {dsn} as Bearer {token} (aws {aws})",
            no_target="a connection is not an objective",
        )
        errors = [_database_error(dsn), _kube_error(drill_endpoints.kubeconfig)]
        raise InjectionFailed(f"{'; '.join(errors)}; aws secret {aws}")
