"""RUNBOOKS.md §3.12 `ingress-unreachable`: healthy pods that users' traffic cannot reach.

Variants (fixtures/ingress.py): `selector` (the default; the shop Service's selector matches no
pod, so its endpoints go empty), `ingress` (the backend the ingress forwards to points at a port
where no pod listens), `netpol` (a deny-all NetworkPolicy; not enforced in the sandbox, so it ends
COULD_NOT_VERIFY). The runbook's steps are performed in its order: the ingress (1), the Services
(2), the endpoints (3), then the layer the variant broke: the selector or port mismatch found and
patched back, or (step 5) the offending NetworkPolicy found and deleted alone, never with
`--all` (§5.2). Step 4 (a busybox `nslookup`) needs cluster DNS and step 6 (security groups)
real AWS; neither is part of these variants, and the report says so.

Objectives come from the profile's [services.shop]: backend RTO 15 min [002]. The assertion is
the runbook's: the endpoints list the pods' IPs and health answers 200 through the ingress
(the service URL users call), with users served within the thresholds for the stability
window. No fault here touches data, so any acknowledged write lost is a FAIL.
"""

from __future__ import annotations

import os

import pytest

from drills import CouldNotVerify, Database, Drill, Profile, Workload
from drills.core.conditions import Condition
from drills.core.profile import Endpoints
from drills.faults.routing import AddService
from drills.targets.ports.routing import Routing, ServiceView
from fixtures.ingress import (
    DEFECT_WRONG_SERVICE,
    INGRESS,
    NETPOL,
    SELECTOR,
    VARIANTS,
    decoy_manifest,
    endpoints_are_pods,
    health_answers,
    ingress_defect,
    port_fix,
    routing_of,
    selecting_nothing,
    selector_fix,
    service_of,
    variant_fault,
)
from fixtures.kube import cluster_bound
from fixtures.load import Traffic

DETECT_WITHIN_S = 30.0  # the fault lands within a second or two: the controller, one poll
FIX_TAKES_S = 20.0  # the EndpointSlice controller follows a Service change within a second
_NAMED = "a milestone: the broken layer named; TTR (users served again) is judged"
_NOT_DRILLED = {
    4: "step 4 (kubectl run busybox -- nslookup) needs cluster DNS, which the sandbox lacks",
    5: "step 5 (kubectl get networkpolicy) is the netpol variant's",
    6: "step 6 (aws ec2 describe-security-groups) needs real AWS (the `sg` variant, staging)",
    7: "step 7 (the WebSocket proxy timeouts) is the `ws` variant's",
}


@pytest.mark.drill(
    id="ingress-unreachable",
    runbook="RUNBOOKS.md §3.12",
    service="shop",
    severity="P0",  # CRITICAL in [000]; a P0 emergency procedure of RUNBOOKS.md §4.1
    variants=VARIANTS,
)
def test_ingress_unreachable(  # noqa: PLR0913 - one fixture per port the drill touches
    drill: Drill,
    drill_profile: Profile,
    drill_variant: str,
    shop: Workload,
    traffic: Traffic,
    database: Database,
    drill_endpoints: Endpoints,
) -> None:
    routing = routing_of(shop)
    defect = ingress_defect(os.environ)
    if not drill_endpoints.service_url:
        pytest.skip("the profile names no service URL: health through the ingress cannot be asked")
    service = service_of(shop)
    if defect == DEFECT_WRONG_SERVICE:  # a second Service, for the recovery to patch by mistake
        drill.prepare(cluster_bound(AddService(routing, decoy_manifest()), shop, drill_endpoints))
    listed = endpoints_are_pods(routing, shop, service)
    health = health_answers(drill_endpoints.service_url)
    users_ok = traffic.users_ok(drill, drill_profile.thresholds)
    existing = set(database.orders_present())  # rows from earlier runs are not this drill's
    traffic.start()
    drill.expect_steady_state(listed & health & users_ok)
    before = _service(routing, service)

    with drill.step(_FAULT_STEP[drill_variant]):
        fault = variant_fault(drill_variant, routing, before)
        drill.inject(cluster_bound(fault, shop, drill_endpoints))  # replayable after a crash
    if not _detected(drill, health, drill_variant):
        raise CouldNotVerify(_not_enforced(drill, drill_variant))
    _ingress(drill, routing)
    _services(drill, routing, service)
    _endpoints(drill, routing, service)
    _not_drilled(drill, drill_variant)
    if drill_variant == SELECTOR:
        fixed = _fix_selector(drill, routing, shop, service, defect)
    elif drill_variant == INGRESS:
        fixed = _fix_port(drill, routing, shop, service)
    else:
        fixed = _fix_policy(drill, routing)
    _confirm(drill, listed, routing, service, fixed)
    with drill.step("Verify: endpoints list pod IPs, health 200 through the ingress, users served"):
        drill.await_recovery(listed & health & users_ok, timeout_s=_budget_left_s(drill))

    traffic.record_user_side(drill)  # a full outage: failures count in TTM/TTR, not a budget
    drill.assert_rto()
    traffic.stop()  # every acknowledged write is in the ledger before the comparison
    verified = traffic.verify_writes(drill, database, existing=existing)
    drill.assert_rpo(verified.report, lossless=True)  # no fault here touches data


_FAULT_STEP = {
    SELECTOR: "Break the Service selector (no pod matches)",
    INGRESS: "Point the ingress backend at a wrong port",
    NETPOL: "Create a deny-all NetworkPolicy",
}


def _service(routing: Routing, name: str) -> ServiceView:
    found = routing.service(name)
    if found is None:
        raise CouldNotVerify(f"service/{name} disappeared before the fault")
    return found


def _budget_left_s(drill: Drill) -> float:
    """Seconds left of the RTO target, plus one so a timeout lands past it (then: FAIL)."""
    spent_s = drill.clock.now() - (drill.fault_at_s or drill.clock.now())
    return max(1.0, drill.rto_target_s() - spent_s + 1.0)


def _detected(drill: Drill, health: Condition, variant: str) -> bool:
    """The alert: the site unreachable, 502 or 503 through the ingress [003] (TTD)."""
    down = health.negated("health fails through the ingress")
    with drill.step("Detect: health through the ingress fails"):
        seen = drill.wait_until(down, timeout_s=DETECT_WITHIN_S, raise_on_timeout=False)
        if seen.met:
            drill.record_detected(f"users' path answers {seen.last.detail}")
            return True
        drill.record_not_detected(
            f"health still answered 200 through the ingress {DETECT_WITHIN_S:.0f} s after the "
            f"{variant} fault: {seen.last.detail}"
        )
        return False


def _not_enforced(drill: Drill, variant: str) -> str:
    """Why a fault that users never felt cannot be drilled (COULD_NOT_VERIFY)."""
    if variant == NETPOL:
        drill.say(
            "The deny-all policy is deleted by name with the rollbacks, not with the runbook's "
            "`kubectl delete networkpolicy --all` (RUNBOOKS.md §5.2)."
        )
        return (
            f"users were still served {DETECT_WITHIN_S:.0f} s after the deny-all NetworkPolicy "
            "was created: nothing enforces NetworkPolicy in this environment (the sandbox's pod "
            "network is a bridge and veth pairs with no packet filter), so the netpol fault and "
            "its recovery were not drilled; the policy was deleted alone, never with --all"
        )
    return f"the {variant} fault did not stop users' traffic, so there was nothing to recover"


def _ingress(drill: Drill, routing: Routing) -> None:
    """Runbook step 1: `kubectl get ingress`, `describe ingress`, `get ingress -o wide`."""
    with drill.step("kubectl get ingress; kubectl describe ingress"):
        lines = routing.ingresses()
        drill.say(
            "; ".join(lines)
            if lines
            else f"no Ingress in {routing.namespace}: users reach the Service through the "
            "sandbox's service proxy, its ingress, whose only configuration is the Service"
        )


def _services(drill: Drill, routing: Routing, service: str) -> None:
    """Runbook step 2: `kubectl get svc -o wide`, `describe svc` of the shop's Service."""
    with drill.step(f"kubectl get svc -o wide; kubectl describe svc {service}"):
        drill.say("; ".join(s.describe() for s in routing.services()))


def _endpoints(drill: Drill, routing: Routing, service: str) -> None:
    """Runbook step 3: `kubectl get endpoints`: every Service must list pod IPs."""
    with drill.step("kubectl get endpoints: every service must list pod IPs"):
        seen = routing.endpoints(service)
        ready = [e for e in seen if e.ready]
        drill.record_figure(
            f"endpoints of service/{service} in the outage",
            float(len(ready)),
            "endpoints",
            detail=", ".join(f"{e.ip}:{e.port} ({e.pod})" for e in ready) or "none listed",
            no_target="evidence of the broken layer: the Verify step judges them listed again",
        )


def _not_drilled(drill: Drill, variant: str) -> None:
    """Say which runbook steps this variant leaves out, and why (the report carries it)."""
    left = [text for step, text in _NOT_DRILLED.items() if not (variant == NETPOL and step == 5)]
    drill.say("Not drilled here: " + "; ".join(left) + ".")


def _fix_selector(drill: Drill, routing: Routing, shop: Workload, service: str, defect: str) -> str:
    """Find the Service whose selector matches no pod, patch it to the pods' labels.

    Returns what was patched (the defect patches the other mismatched Service).
    """
    with drill.step("Find the selector mismatch: a Service selecting no pod"):
        mismatched = selecting_nothing(routing)
        labels = routing.pod_labels_of(shop.name)
        named = ", ".join(s.describe() for s in mismatched) or "none"
        drill.record_since_fault(
            "broken layer named", detail=f"select no pod: {named}", no_target=_NAMED
        )
        if not mismatched:
            raise AssertionError(f"every Service selects a pod; the shop's pods carry {labels}")
    patched = selector_fix(mismatched, service, defect)
    wanted = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    with drill.step(f"kubectl patch svc {patched}: selector {wanted}"):
        routing.set_selector(patched, labels)
    return f"service/{patched}"


def _fix_port(drill: Drill, routing: Routing, shop: Workload, service: str) -> str:
    """Find the Service port whose targetPort no pod serves, point it at the pods' port."""
    with drill.step("Find the port mismatch: targetPort against the pods' container ports"):
        found = _service(routing, service)
        ports = routing.container_ports_of(shop.name)
        fix = port_fix(found, ports)
        drill.record_since_fault(
            "broken layer named",
            detail=f"{found.describe()}; the pods serve {ports}",
            no_target=_NAMED,
        )
        if fix is None:
            raise AssertionError(f"{found.describe()} already targets a port the pods serve")
    port_name = found.ports[0].name
    with drill.step(f"kubectl patch svc {service}: port {port_name} targetPort {fix}"):
        routing.set_target_port(service, port_name, fix)
    return f"service/{service} port {port_name}"


def _fix_policy(drill: Drill, routing: Routing) -> str:
    """Runbook step 5: find the deny-all policy and delete it alone (never `--all`, §5.2)."""
    with drill.step("kubectl get networkpolicy; kubectl describe networkpolicy"):
        offending = [p for p in routing.policies() if p.denies_all_ingress]
        drill.record_since_fault(
            "broken layer named",
            detail=", ".join(p.name for p in offending) or "no deny-all policy",
            no_target=_NAMED,
        )
        if not offending:
            raise AssertionError("no NetworkPolicy denies all ingress, yet users cannot reach pods")
    names = " ".join(p.name for p in offending)
    with drill.step(f"kubectl delete networkpolicy {names} (not --all)"):
        drill.say(
            f"Deleting {names} alone: the runbook's `kubectl delete networkpolicy --all` would "
            "also remove every legitimate policy of the namespace (RUNBOOKS.md §5.2)."
        )
        for policy in offending:
            routing.delete_policy(policy.name)
    return f"networkpolicy/{names}"


def _confirm(drill: Drill, listed: Condition, routing: Routing, service: str, fixed: str) -> None:
    """The fix took: the shop Service lists its pods again (checked at once, bounded).

    A fix applied to the wrong object leaves the Service empty: FAIL here, naming it, rather
    than waiting out the whole RTO.
    """
    with drill.step(f"kubectl get endpoints {service}: pod IPs listed again"):
        back = drill.wait_until(listed, timeout_s=FIX_TAKES_S, raise_on_timeout=False)
        now = routing.service(service)
        if not back.met:  # raised, not asserted: the reason is the message alone
            raise AssertionError(
                f"service/{service} in {routing.namespace} still lists no endpoint serving the "
                f"shop's pods {FIX_TAKES_S:.0f} s after the fix was applied to {fixed}: "
                f"{back.last.detail}; now {now.describe() if now else 'gone'}"
            )
        drill.record_since_fault(
            "endpoints listed again",
            detail=back.last.detail,
            no_target="the serving path back; TTR (users served for the window) is judged",
        )
