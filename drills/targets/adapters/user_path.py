"""One health request through the path users take: the service URL (the ingress), not a pod IP.

RUNBOOKS.md §3.12 asserts that "health answers 200 through the ingress": a pod answering on its
own address proves nothing about the Service, the endpoints or the ingress in front of them.
The answer is plain data (status and the first line of the body) so the report can quote what
a user saw: `503 ... no ready endpoints for service default/shop`, `502 Bad Gateway ...`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

__all__ = ["HealthAnswer", "health_through"]


@dataclass(frozen=True)
class HealthAnswer:
    """What one GET of the health path answered: the HTTP status (None: no answer) and why."""

    url: str
    status: int | None
    detail: str

    @property
    def ok(self) -> bool:
        """True for 200."""
        return self.status == 200  # the runbook's "health answers 200"

    def describe(self) -> str:
        """`GET http://127.0.0.1:1234/healthz -> 503 (no ready endpoints ...)`."""
        said = "no answer" if self.status is None else str(self.status)
        return f"GET {self.url} -> {said}" + (f" ({self.detail})" if self.detail else "")


def health_through(
    base_url: str, *, path: str = "/healthz", timeout_s: float = 2.0
) -> HealthAnswer:
    """GET `base_url` + `path` once, with `timeout_s` for connect and read; never raises."""
    url = base_url.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return HealthAnswer(url, int(response.status), _first_line(response.read()))
    except urllib.error.HTTPError as exc:
        return HealthAnswer(url, int(exc.code), _first_line(exc.read()))
    except (urllib.error.URLError, OSError) as exc:
        return HealthAnswer(url, None, f"{type(exc).__name__}: {exc}")


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text.splitlines()[0][:200] if text else ""
