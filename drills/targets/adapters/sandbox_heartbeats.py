"""A sandbox node's heartbeats through the sandbox daemon's control socket (endpoints.json).

The sandbox daemon serves `GET /nodes` and `POST /nodes/<node>/heartbeats` (`{"enabled": bool}`)
on the Unix socket named `control_socket` in endpoints.json; stopping them silences the node's
Lease renewals and status posts, so the upstream node lifecycle controller sees a dead node.
Reached as any endpoint is, from endpoints.json: this adapter imports nothing of the sandbox.
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

from drills.core.errors import DrillError

__all__ = ["SandboxHeartbeats"]

_TIMEOUT_S = 10.0


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket."""

    def __init__(self, path: Path) -> None:
        super().__init__("sandbox", timeout=_TIMEOUT_S)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_TIMEOUT_S)
        sock.connect(str(self._path))
        self.sock = sock


class SandboxHeartbeats:
    """The NodeHeartbeats port on the sandbox daemon's control socket."""

    def __init__(self, control_socket: Path) -> None:
        self.control_socket = control_socket

    @classmethod
    def from_endpoints(cls, endpoints_file: Path) -> SandboxHeartbeats:
        """The socket endpoints.json names; DrillError when it names none."""
        try:
            data = json.loads(endpoints_file.read_text())
        except (OSError, ValueError) as exc:
            raise DrillError(f"cannot read {endpoints_file}: {exc}; is the sandbox up?") from exc
        path = data.get("control_socket") if isinstance(data, dict) else None
        if not path:
            raise DrillError(f"{endpoints_file} names no control_socket: restart the sandbox")
        return cls(Path(str(path)))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        connection = _UnixConnection(self.control_socket)
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, path, body=payload)
            answer = connection.getresponse()
            text = answer.read().decode()
        except OSError as exc:
            raise DrillError(
                f"the sandbox's control socket {self.control_socket} did not answer: {exc}"
            ) from exc
        finally:
            connection.close()
        if answer.status != 200:
            raise DrillError(f"{method} {path}: HTTP {answer.status} {text.strip()}")
        return json.loads(text)

    def set(self, node: str, *, enabled: bool) -> None:
        """Stop (False) or resume (True) the node's heartbeats."""
        self._request("POST", f"/nodes/{node}/heartbeats", {"enabled": enabled})

    def beating(self) -> dict[str, bool]:
        """Node name -> whether its heartbeats run."""
        listing = self._request("GET", "/nodes")
        return {str(name): bool(state.get("heartbeats")) for name, state in listing.items()}
