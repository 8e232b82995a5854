"""The DDoS drill's arithmetic (RUNBOOKS.md §3.18): client rates from logs, offenders, blocklist.

Pure and stdlib only. The shop logs, every CLIENT_LOG_S, the busiest client identities of the
period (`clients over 2 s: 203.0.113.10 total=412 refused=398; 198.18.4.7 total=14
refused=0`, fixtures/shop/app.py). Runbook step 3 ranks client addresses found in the logs:
`client_rates` sums the newest such line of every pod into requests per second per identity,
`offenders` picks the identities far above the typical client, and `judge_blocklist` checks
a blocklist against the identities the harness knows to be the attacker's, so a legitimate
client on it is named. `refused_share` is the attacker's share answered 429.
"""

from __future__ import annotations

import math
import re
import statistics
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AttackCounts",
    "BlocklistJudgement",
    "ClientCount",
    "ClientRate",
    "DdosSettings",
    "client_rates",
    "judge_blocklist",
    "offenders",
    "parse_client_line",
    "refused_share",
]

_LINE = re.compile(r"clients over (?P<period>[0-9.]+) s: (?P<body>.*)$")
_ENTRY = re.compile(r"^(?P<client>\S+) total=(?P<total>\d+) refused=(?P<refused>\d+)$")
REFUSED_STATUS = 429


@dataclass(frozen=True)
class DdosSettings:
    """The `[ddos]` profile section (RUNBOOKS.md §3.18).

    `rate_limit` is the RATE_LIMIT step 2 sets (`N`, `N/s` or `N/m` per client identity per
    pod): the runbook's `100` [004] by default, which names no unit; per second, as ingress
    limits count. `attacker_users` Locust users flood the shop from the `attacker_identities`
    in turn, each at most `attacker_rate` requests a second (0: as fast as answered).
    `offender_factor`: step 3 calls an identity an offender at that many times the median
    client's request rate. `throttled_share`: once the limit is live, at least this
    share of the attacker's requests must be refused (429), within `throttled_within_s`.
    `load_balancer_arn` is the resource step 1 associates the web ACL with (`$ALB_ARN`).
    `users`: legitimate users during this drill (None: the `[load]` users); `users_think`: their
    mean think time between requests, s (None: the locustfile's). `cpu_work_ms`: the
    shop's CPU per request during this drill, set before the steady state and put back after
    (None: leave the shop as deployed), so that requests cost the shop more than a refusal.
    """

    rate_limit: str = "100"
    attacker_users: int = 30
    attacker_rate: float = 0.0
    attacker_identities: tuple[str, ...] = ("203.0.113.10", "203.0.113.11", "203.0.113.12")
    offender_factor: float = 10.0
    throttled_share: float = 0.5
    throttled_within_s: float = 30.0
    load_balancer_arn: str = (
        "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/app/shop/0"
    )
    users: int | None = None
    users_think: float | None = None
    cpu_work_ms: float | None = None


@dataclass(frozen=True)
class ClientCount:
    """One identity's requests in one log period of one pod."""

    client: str
    total: int
    refused: int


@dataclass(frozen=True)
class ClientRate:
    """One identity's request rate over every pod (requests per second, served and refused)."""

    client: str
    requests_per_s: float
    refused_per_s: float

    def describe(self) -> str:
        """`203.0.113.10 412.0/s (398.0/s refused)`."""
        return f"{self.client} {self.requests_per_s:.1f}/s ({self.refused_per_s:.1f}/s refused)"


def parse_client_line(line: str) -> tuple[float, list[ClientCount]] | None:
    """The period (s) and the counts of one `clients over ...` log line; None for other lines."""
    found = _LINE.search(line)
    if found is None:
        return None
    period = float(found["period"])
    counts = []
    for part in found["body"].split(";"):
        entry = _ENTRY.match(part.strip())
        if entry is not None:
            counts.append(ClientCount(entry["client"], int(entry["total"]), int(entry["refused"])))
    return (period, counts) if period > 0 else None


def newest_line(log: str) -> tuple[float, list[ClientCount]] | None:
    """The newest `clients over ...` line of one pod's log tail, parsed."""
    for line in reversed(log.splitlines()):
        parsed = parse_client_line(line)
        if parsed is not None:
            return parsed
    return None


def client_rates(logs: Iterable[str]) -> list[ClientRate]:
    """Requests per second per identity, summed over the newest line of each pod's log.

    Highest rate first (ties by identity). Pods whose log holds no such line add nothing.
    """
    requests: dict[str, float] = {}
    refused: dict[str, float] = {}
    for log in logs:
        parsed = newest_line(log)
        if parsed is None:
            continue
        period, counts = parsed
        for count in counts:
            requests[count.client] = requests.get(count.client, 0.0) + count.total / period
            refused[count.client] = refused.get(count.client, 0.0) + count.refused / period
    rates = [ClientRate(c, requests[c], refused[c]) for c in requests]
    return sorted(rates, key=lambda r: (-r.requests_per_s, r.client))


def offenders(ranking: Sequence[ClientRate], *, factor: float) -> list[ClientRate]:
    """Identities asking at least `factor` times the median identity's rate.

    The median stands for a typical client; with fewer than three identities there is no
    typical client to compare with, so nobody is called an offender.
    """
    if len(ranking) < 3:  # a median of fewer says nothing about the typical client
        return []
    typical = statistics.median(r.requests_per_s for r in ranking)
    return [r for r in ranking if r.requests_per_s >= factor * typical]


@dataclass(frozen=True)
class BlocklistJudgement:
    """A blocklist held against the attacker's identities."""

    legitimate_blocked: tuple[str, ...]
    attackers_missed: tuple[str, ...]

    def describe(self) -> str:
        """What was wrong with the blocklist, or that it held exactly the attackers."""
        parts = []
        if self.legitimate_blocked:
            parts.append(f"legitimate clients blocked: {', '.join(self.legitimate_blocked)}")
        if self.attackers_missed:
            parts.append(f"attackers not blocked: {', '.join(self.attackers_missed)}")
        return "; ".join(parts) or "the blocklist holds the attackers and nobody else"


def judge_blocklist(blocked: Iterable[str], attackers: Iterable[str]) -> BlocklistJudgement:
    """Who on `blocked` is not an attacker, and which attacker is not on it (both sorted)."""
    blocked_set, attacker_set = set(blocked), set(attackers)
    return BlocklistJudgement(
        tuple(sorted(blocked_set - attacker_set)), tuple(sorted(attacker_set - blocked_set))
    )


def refused_share(statuses: Iterable[int]) -> tuple[float | None, int, int]:
    """(share answered 429, refused, total) of some requests; share None when there were none."""
    seen = list(statuses)
    refused = sum(1 for status in seen if status == REFUSED_STATUS)
    return (refused / len(seen) if seen else None), refused, len(seen)


class AttackCounts:
    """The attacker's requests per identity in 100 ms buckets: total and refused (429).

    Fed from the attacker's request stream (any thread); answers the refused share over a
    window without keeping every request.
    """

    BUCKET_S = 0.1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, str], list[int]] = {}

    def add(self, at_s: float, identity: str, status: int) -> None:
        """Count one request of `identity` completed at `at_s` with `status`."""
        key = (math.floor(at_s / self.BUCKET_S), identity)
        with self._lock:
            counts = self._buckets.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += status == REFUSED_STATUS

    def window(self, start_s: float, end_s: float) -> dict[str, tuple[int, int]]:
        """(total, refused) per identity over the buckets inside [start_s, end_s]."""
        low, high = math.floor(start_s / self.BUCKET_S), math.floor(end_s / self.BUCKET_S)
        found: dict[str, tuple[int, int]] = {}
        with self._lock:
            items = [(k, v) for k, v in self._buckets.items() if low <= k[0] <= high]
        for (_, identity), (total, refused) in items:
            seen = found.get(identity, (0, 0))
            found[identity] = (seen[0] + total, seen[1] + refused)
        return found

    def refused(self, start_s: float, end_s: float) -> tuple[float | None, int, int]:
        """(share refused, refused, total) over every identity in the window."""
        counts = self.window(start_s, end_s).values()
        total, refused = sum(c[0] for c in counts), sum(c[1] for c in counts)
        return (refused / total if total else None), refused, total
