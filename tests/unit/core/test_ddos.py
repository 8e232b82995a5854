"""The DDoS drill's arithmetic: client rates from the shop's log lines, offenders, blocklist."""

from __future__ import annotations

from drills.core.ddos import (
    AttackCounts,
    ClientCount,
    ClientRate,
    client_rates,
    judge_blocklist,
    offenders,
    parse_client_line,
    refused_share,
)

POD_A = """2026-12-05 08:00:00 shop INFO shop 1.0.0 listening on 0.0.0.0:8080
2026-12-05 08:00:02 shop INFO clients over 2 s: 203.0.113.10 total=100 refused=0
2026-12-05 08:00:04 shop INFO clients over 2 s: 203.0.113.10 total=400 refused=380; \
198.18.0.7 total=14 refused=0; 198.18.0.8 total=12 refused=0
"""
POD_B = """2026-12-05 08:00:04 shop INFO clients over 2 s: 203.0.113.10 total=200 refused=190; \
203.0.113.11 total=300 refused=280; 198.18.0.7 total=10 refused=0; 198.18.0.9 total=8 refused=0
"""


def test_a_client_line_parses_into_counts_and_other_lines_do_not() -> None:
    line = (
        "x shop INFO clients over 2.5 s: 203.0.113.10 total=5 refused=1; 10.0.0.1 total=2 refused=0"
    )
    assert parse_client_line(line) == (
        2.5,
        [ClientCount("203.0.113.10", 5, 1), ClientCount("10.0.0.1", 2, 0)],
    )
    assert parse_client_line("x shop INFO shop 1.0.0 listening on 0.0.0.0:8080") is None


def test_rates_sum_the_newest_line_of_every_pod_highest_first() -> None:
    rates = client_rates([POD_A, POD_B, "no client line in this pod's tail"])
    assert rates[0] == ClientRate("203.0.113.10", 300.0, 285.0)  # (400 + 200) / 2 s
    assert rates[1] == ClientRate("203.0.113.11", 150.0, 140.0)
    assert [r.client for r in rates[2:]] == ["198.18.0.7", "198.18.0.8", "198.18.0.9"]
    assert rates[2].requests_per_s == 12.0  # (14 + 10) / 2 s
    assert rates[0].describe() == "203.0.113.10 300.0/s (285.0/s refused)"


def test_offenders_are_far_above_the_typical_client() -> None:
    rates = client_rates([POD_A, POD_B])
    found = offenders(rates, factor=5.0)
    assert [r.client for r in found] == ["203.0.113.10", "203.0.113.11"]
    assert offenders(rates, factor=100.0) == []


def test_without_a_typical_client_nobody_is_an_offender() -> None:
    two = [ClientRate("203.0.113.10", 500.0, 0.0), ClientRate("198.18.0.7", 5.0, 0.0)]
    assert offenders(two, factor=2.0) == []


def test_the_blocklist_names_legitimate_clients_and_missed_attackers() -> None:
    attackers = ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
    exact = judge_blocklist(["203.0.113.11", "203.0.113.10", "203.0.113.12"], attackers)
    assert (exact.legitimate_blocked, exact.attackers_missed) == ((), ())
    assert exact.describe() == "the blocklist holds the attackers and nobody else"
    wrong = judge_blocklist(["203.0.113.10", "198.18.0.7"], attackers)
    assert wrong.legitimate_blocked == ("198.18.0.7",)
    assert wrong.attackers_missed == ("203.0.113.11", "203.0.113.12")
    assert wrong.describe() == (
        "legitimate clients blocked: 198.18.0.7; attackers not blocked: 203.0.113.11, 203.0.113.12"
    )


def test_the_refused_share_counts_429_only() -> None:
    assert refused_share([429, 429, 404, 0]) == (0.5, 2, 4)
    assert refused_share([]) == (None, 0, 0)


def test_attack_counts_give_the_refused_share_over_a_window() -> None:
    counts = AttackCounts()
    for i in range(10):
        counts.add(1.0 + i * 0.01, "203.0.113.10", 404)
    for i in range(30):
        counts.add(2.0 + i * 0.01, "203.0.113.11", 429 if i % 3 else 404)
    assert counts.refused(0.0, 1.5) == (0.0, 0, 10)
    assert counts.refused(1.9, 2.5) == (20 / 30, 20, 30)
    assert counts.window(0.0, 3.0) == {"203.0.113.10": (10, 0), "203.0.113.11": (30, 20)}
    assert counts.refused(5.0, 6.0) == (None, 0, 0)
