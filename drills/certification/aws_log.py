"""AWS calls the trainee made, read from the moto server's logs into `Action`s with source aws.

Two formats:

- moto's request log (`.drills/sandbox/moto.log`, the server's stdout): one werkzeug line per
  request, `127.0.0.1 - - [04/Dec/2026 17:28:39] "GET /bucket?list-type=2 HTTP/1.1" 200 -`, in
  the machine's local time, whole seconds, with colour codes on some lines. It carries no
  identity and no body: S3 operations can be told from the method and path (the sandbox uses
  path-style addressing), query-API calls (RDS, EC2) show only `POST /`. Every request counts
  as the trainee's, so read it for the practical's window only. moto's own API
  (`/moto-api/...`) is the harness probing and is left out.
- moto's request recording (`MOTO_ENABLE_RECORDING`, JSON lines of method, url, headers, body):
  it has the signed request's access key and time (`X-Amz-Date`) and the body, so RDS/EC2
  actions (`Action=RestoreDBInstanceToPointInTime`) and their parameters are known, and the
  trainee's own access key separates them from the harness.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from drills.certification.reading import EvidenceRead
from drills.core.actions import Action, Json, Source

__all__ = [
    "PARTIAL_LOG",
    "local_zone",
    "moto_actions",
    "read_moto_log",
    "recording_actions",
    "s3_operation",
]

PARTIAL_LOG = (
    "moto's request log names no caller and no request body: RDS/EC2 actions show only as "
    "`POST /` (record requests with MOTO_ENABLE_RECORDING to see them)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST = re.compile(
    r"^\S+ - - \[(?P<day>\d{2})/(?P<mon>\w{3})/(?P<year>\d{4}) "
    r"(?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})\] "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})'
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/[^/]+/(?P<service>[^/]+)/")


def local_zone() -> tzinfo:
    """The zone moto's log times are written in: this machine's local time right now."""
    return timezone(timedelta(seconds=time.localtime().tm_gmtoff))


def read_moto_log(path: Path, *, tz: tzinfo | None = None) -> EvidenceRead:
    """Every AWS request in moto's request log (no identity in it; see the module doc)."""
    if not path.is_file():
        return EvidenceRead((), f"no moto request log at {path} (is the sandbox up?)")
    with path.open(encoding="utf-8", errors="replace") as lines:
        actions, skipped = moto_actions(lines, tz=tz or local_zone())
    return EvidenceRead(tuple(actions), PARTIAL_LOG, skipped)


def moto_actions(lines: Iterable[str], *, tz: tzinfo) -> tuple[list[Action], int]:
    """Parse werkzeug request lines; return the AWS requests and how many looked broken."""
    actions, skipped = [], 0
    for raw in lines:
        line = _ANSI.sub("", raw).strip()
        match = _REQUEST.match(line)
        if match is None:
            skipped += line.startswith("127.") or line.startswith("10.")
            continue
        split = urlsplit(match.group("path"))
        if split.path.startswith("/moto-api/"):
            continue
        status = int(match.group("status"))
        actions.append(
            _request_action(
                at_s=_werkzeug_time(match, tz),
                actor="unknown",
                method=match.group("method"),
                path=split.path,
                query=split.query,
                status=status,
                text=f"{match.group('method')} {match.group('path')}",
            )
        )
    return actions, int(skipped)


def _werkzeug_time(match: re.Match[str], tz: tzinfo) -> float:
    return datetime(
        int(match.group("year")),
        _MONTHS[match.group("mon")],
        int(match.group("day")),
        int(match.group("h")),
        int(match.group("m")),
        int(match.group("s")),
        tzinfo=tz,
    ).timestamp()


def _request_action(  # noqa: PLR0913 - the parts of one request line
    *, at_s: float, actor: str, method: str, path: str, query: str, status: int | None, text: str
) -> Action:
    if path in ("", "/") and method == "POST":
        verb, resource, name = "POST", "", ""  # a query-API call: its action is in the body
    else:
        verb, resource = s3_operation(method, path, query), "s3"
        name = path.lstrip("/")
    return Action(
        at_s=at_s,
        source=Source.AWS,
        actor=actor,
        verb=verb,
        resource=resource,
        name=name,
        text=text,
        code=status,
        succeeded=None if status is None else status < 400,
    )


def s3_operation(method: str, path: str, query: str) -> str:
    """The S3 operation of a path-style request, e.g. `GET /b?list-type=2` → ListObjectsV2."""
    bucket, _, key = path.lstrip("/").partition("/")
    params = parse_qs(query, keep_blank_values=True)
    if not bucket:
        return "ListBuckets" if method == "GET" else method
    if not key:
        if method == "GET":
            return "ListObjectsV2" if params.get("list-type") == ["2"] else "ListObjects"
        if method == "POST" and "delete" in params:
            return "DeleteObjects"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(
            method, method
        )
    return {
        "GET": "GetObject",
        "HEAD": "HeadObject",
        "PUT": "PutObject",
        "DELETE": "DeleteObject",
    }.get(method, method)


def recording_actions(lines: Iterable[str], access_key: str) -> tuple[list[Action], int]:
    """Parse moto's request recording; return the requests signed with `access_key`."""
    actions, skipped = [], 0
    for line in lines:
        if not line.strip() or access_key not in line:
            continue
        try:
            action = _recorded(json.loads(line), access_key)
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        if action is not None:
            actions.append(action)
    return actions, skipped


def _recorded(entry: Mapping[str, Json], access_key: str) -> Action | None:
    headers = entry["headers"]
    if not isinstance(headers, Mapping):
        return None
    credential = _CREDENTIAL.search(str(headers.get("Authorization", "")))
    if credential is None or credential.group("key") != access_key:
        return None
    at_s = _amz_time(str(headers["X-Amz-Date"]))
    split = urlsplit(str(entry["url"]))
    method = str(entry["method"])
    params = _form(entry, split.query)
    if "Action" in params:
        return _query_api(at_s, access_key, credential.group("service"), params, method)
    return _request_action(
        at_s=at_s,
        actor=access_key,
        method=method,
        path=split.path,
        query=split.query,
        status=None,
        text=f"{method} {split.path}{'?' + split.query if split.query else ''}",
    )


def _amz_time(stamp: str) -> float:
    """`20261204T172839Z` (SigV4's X-Amz-Date, always UTC) in epoch seconds."""
    found = re.fullmatch(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", stamp)
    if found is None:
        raise ValueError(f"not an X-Amz-Date: {stamp!r}")
    year, month, day, hour, minute, second = (int(p) for p in found.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def _form(entry: Mapping[str, Json], query: str) -> dict[str, str]:
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(str(body)).decode("utf-8", errors="replace")
    text = str(body) if "=" in str(body) and not str(body).lstrip().startswith("<") else ""
    pairs = parse_qs(query, keep_blank_values=True) | parse_qs(text, keep_blank_values=True)
    return {k: v[0] for k, v in pairs.items()}


def _query_api(
    at_s: float, actor: str, service: str, params: Mapping[str, str], method: str
) -> Action:
    name = next(
        (
            params[k]
            for k in ("TargetDBInstanceIdentifier", "DBInstanceIdentifier", "GroupId")
            if k in params
        ),
        "",
    )
    return Action(
        at_s=at_s,
        source=Source.AWS,
        actor=actor,
        verb=params["Action"],
        resource=service,
        name=name,
        text=f"{method} {service} {params['Action']}",
        body=dict(params),
        summary=f"aws {service} {params['Action']}",
    )
