"""boto3 WAFv2 as the WebFirewall port (RUNBOOKS.md §3.18 steps 1 and 4).

Regional web ACLs, found by name. On the sandbox the client points at moto, which stores web
ACLs, IP sets and associations and enforces none of them: the DDoS drill reports those steps as
state only. A block rule is an IP set of /32 addresses referenced by a rule with action Block;
its IP set is named `<acl>-<rule>`, so deleting the rule can delete its set too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import boto3
import botocore.exceptions

from drills.core.errors import DrillError
from drills.targets.adapters.aws import translate

__all__ = ["MOTO_CREDENTIALS", "Wafv2Firewall"]

SCOPE = "REGIONAL"  # an Application Load Balancer's scope
MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
T = TypeVar("T")


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": name}


def _rate_rule() -> dict[str, Any]:
    """Block a client IP over 2000 requests in 5 min (AWS's suggested starting limit)."""
    return {
        "Name": "rate-per-ip",
        "Priority": 0,
        "Action": {"Block": {}},
        "Statement": {"RateBasedStatement": {"Limit": 2000, "AggregateKeyType": "IP"}},
        "VisibilityConfig": _visibility("rate-per-ip"),
    }


def _call(doing: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise translate(exc, doing) from exc


class Wafv2Firewall:
    """The WebFirewall port on one region's WAFv2 API (moto's when `endpoint_url` is set)."""

    def __init__(self, client: Any, *, endpoint: str) -> None:
        self.client = client
        self._endpoint = endpoint

    @classmethod
    def connect(cls, *, region: str, endpoint_url: str | None = None) -> Wafv2Firewall:
        """A client for `region`; with `endpoint_url` (moto) the dummy credentials moto takes."""
        moto = MOTO_CREDENTIALS if endpoint_url else {}
        client: Any = boto3.client(
            "wafv2",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=moto.get("aws_access_key_id"),
            aws_secret_access_key=moto.get("aws_secret_access_key"),
        )
        return cls(client, endpoint=endpoint_url or f"wafv2.{region}.amazonaws.com")

    @property
    def endpoint(self) -> str:
        """Where the API answers."""
        return self._endpoint

    def create_acl(self, name: str) -> str:
        """Create web ACL `name`: default allow, one rate-based rule per client IP; its ARN.

        The rate-based rule is what a DDoS web ACL carries anyway, and it keeps the rule list
        from ever being empty: moto's update_web_acl ignores an empty list (the last rule
        could not be removed).
        """
        created = _call(
            f"create web ACL {name}",
            lambda: self.client.create_web_acl(
                Name=name,
                Scope=SCOPE,
                DefaultAction={"Allow": {}},
                VisibilityConfig=_visibility(name),
                Rules=[_rate_rule()],
            ),
        )
        return str(created["Summary"]["ARN"])

    def delete_acl(self, name: str) -> bool:
        """Delete the ACL, then its block rules' IP sets; False when there was no ACL."""
        summary = self._acl_summary(name)
        if summary is None:
            return False
        acl, token = self._acl(summary)
        _call(
            f"delete web ACL {name}",
            lambda: self.client.delete_web_acl(
                Name=name, Scope=SCOPE, Id=summary["Id"], LockToken=token
            ),
        )
        for rule in acl.get("Rules", []):
            self._delete_ip_set(f"{name}-{rule['Name']}")
        return True

    def associate(self, acl_name: str, resource_arn: str) -> None:
        """`aws wafv2 associate-web-acl --resource-arn ... --web-acl-arn ...`."""
        summary = self._acl_summary(acl_name)
        if summary is None:
            raise DrillError(f"no web ACL {acl_name} to associate with {resource_arn}")
        _call(
            f"associate web ACL {acl_name} with {resource_arn}",
            lambda: self.client.associate_web_acl(
                WebACLArn=summary["ARN"], ResourceArn=resource_arn
            ),
        )

    def disassociate(self, resource_arn: str) -> bool:
        """Take any web ACL off `resource_arn`; False when none was associated."""
        if self.associated_acl(resource_arn) is None:
            return False
        _call(
            f"disassociate the web ACL from {resource_arn}",
            lambda: self.client.disassociate_web_acl(ResourceArn=resource_arn),
        )
        return True

    def associated_acl(self, resource_arn: str) -> str | None:
        """The name of the web ACL on `resource_arn`, or None."""
        found = _call(
            f"read the web ACL of {resource_arn}",
            lambda: self.client.get_web_acl_for_resource(ResourceArn=resource_arn),
        )
        acl = found.get("WebACL") or {}
        return str(acl["Name"]) if acl.get("Name") else None

    def block(self, acl_name: str, rule: str, addresses: Sequence[str]) -> None:
        """An IP set `<acl>-<rule>` of /32s and a Block rule referencing it, added to the ACL."""
        summary = self._acl_summary(acl_name)
        if summary is None:
            raise DrillError(f"no web ACL {acl_name} to add the block rule {rule} to")
        created = _call(
            f"create IP set {acl_name}-{rule}",
            lambda: self.client.create_ip_set(
                Name=f"{acl_name}-{rule}",
                Scope=SCOPE,
                IPAddressVersion="IPV4",
                Addresses=[f"{address}/32" for address in addresses],
            ),
        )
        acl, token = self._acl(summary)
        rules = list(acl.get("Rules", []))
        rules.append(
            {
                "Name": rule,
                "Priority": 1 + max((int(r["Priority"]) for r in rules), default=0),
                "Action": {"Block": {}},
                "Statement": {"IPSetReferenceStatement": {"ARN": created["Summary"]["ARN"]}},
                "VisibilityConfig": _visibility(rule),
            }
        )
        self._update_rules(summary, acl, token, rules)

    def unblock(self, acl_name: str, rule: str) -> bool:
        """Remove rule `rule` from the ACL and delete its IP set; False when neither was there."""
        removed = False
        summary = self._acl_summary(acl_name)
        if summary is not None:
            acl, token = self._acl(summary)
            rules = [r for r in acl.get("Rules", []) if r["Name"] != rule]
            if len(rules) != len(acl.get("Rules", [])):
                self._update_rules(summary, acl, token, rules)
                removed = True
        return self._delete_ip_set(f"{acl_name}-{rule}") or removed

    def blocked(self, acl_name: str) -> list[str]:
        """Every address the ACL's Block rules reference through IP sets, without the /32."""
        summary = self._acl_summary(acl_name)
        if summary is None:
            return []
        arns = {
            r["Statement"]["IPSetReferenceStatement"]["ARN"]
            for r in self._acl(summary)[0].get("Rules", [])
            if "Block" in r.get("Action", {}) and "IPSetReferenceStatement" in r["Statement"]
        }
        addresses: set[str] = set()
        for ip_set in self._ip_sets():
            if ip_set["ARN"] in arns:
                addresses.update(self._addresses(ip_set))
        return sorted(addresses)

    # -- reading -------------------------------------------------------------------------------
    def _acl_summary(self, name: str) -> dict[str, Any] | None:
        listed = _call("list web ACLs", lambda: self.client.list_web_acls(Scope=SCOPE))
        return next((a for a in listed.get("WebACLs", []) if a["Name"] == name), None)

    def _acl(self, summary: dict[str, Any]) -> tuple[dict[str, Any], str]:
        got = _call(
            f"read web ACL {summary['Name']}",
            lambda: self.client.get_web_acl(Name=summary["Name"], Scope=SCOPE, Id=summary["Id"]),
        )
        return dict(got["WebACL"]), str(got["LockToken"])

    def _update_rules(
        self, summary: dict[str, Any], acl: dict[str, Any], token: str, rules: list[Any]
    ) -> None:
        _call(
            f"update web ACL {summary['Name']}",
            lambda: self.client.update_web_acl(
                Name=summary["Name"],
                Scope=SCOPE,
                Id=summary["Id"],
                DefaultAction=acl.get("DefaultAction") or {"Allow": {}},
                Rules=rules,
                VisibilityConfig=acl.get("VisibilityConfig") or _visibility(summary["Name"]),
                LockToken=token,
            ),
        )

    def _ip_sets(self) -> list[dict[str, Any]]:
        listed = _call("list IP sets", lambda: self.client.list_ip_sets(Scope=SCOPE))
        return list(listed.get("IPSets", []))

    def _ip_set_summary(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self._ip_sets() if s["Name"] == name), None)

    def _delete_ip_set(self, name: str) -> bool:
        ip_set = self._ip_set_summary(name)
        if ip_set is None:
            return False
        _call(
            f"delete IP set {name}",
            lambda: self.client.delete_ip_set(
                Name=name, Scope=SCOPE, Id=ip_set["Id"], LockToken=ip_set["LockToken"]
            ),
        )
        return True

    def _addresses(self, summary: dict[str, Any]) -> list[str]:
        got = _call(
            f"read IP set {summary['Name']}",
            lambda: self.client.get_ip_set(Name=summary["Name"], Scope=SCOPE, Id=summary["Id"]),
        )
        return [str(a).removesuffix("/32") for a in got["IPSet"].get("Addresses", [])]
