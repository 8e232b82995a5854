"""Running iproute2 for the pod network, and checking that this process may.

Every change goes through `ip -batch -` (one process for many commands); listing reads
/run/netns and `ip -j link show`, never /sys, which may show another namespace's links.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from drills.core.errors import ConfigError, DrillError

__all__ = [
    "NETNS_DIR",
    "delete",
    "effective_capabilities",
    "ipv6_off",
    "link_names",
    "missing_requirements",
    "netns_names",
    "require_privileges",
    "requirements_error",
    "run_batch",
]

NETNS_DIR = Path("/run/netns")  # where `ip netns add` mounts named namespaces
_IP_TIMEOUT_S = 10.0
_CAP_NET_ADMIN, _CAP_SYS_ADMIN = 12, 21  # bit numbers from linux/capability.h


def effective_capabilities(proc_status: str) -> int:
    """The CapEff bit mask from the text of /proc/<pid>/status (0 when absent)."""
    for line in proc_status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def missing_requirements(
    *, capabilities: int, tools: dict[str, str | None], netns_dir_writable: bool
) -> list[str]:
    """What is missing to build the pod network, in words; empty when nothing is.

    `tools` maps `ip` and `nsenter` to their paths (None when not found).
    """
    needs = [f"the `{tool}` command" for tool, path in sorted(tools.items()) if path is None]
    for bit, name, purpose in (
        (_CAP_NET_ADMIN, "CAP_NET_ADMIN", "to create the bridge and veths"),
        (_CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "to create and mount network namespaces"),
    ):
        if not capabilities >> bit & 1:
            needs.append(f"{name} ({purpose})")
    if not netns_dir_writable:
        needs.append(f"write access to {NETNS_DIR} (where `ip netns add` mounts namespaces)")
    return needs


def requirements_error(needs: Sequence[str]) -> ConfigError:
    """The ConfigError that names what is missing and how to run the sandbox instead."""
    return ConfigError(
        "the sandbox pod network cannot be built; missing: " + "; ".join(needs) + ". Every pod "
        "gets its own network namespace, which needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN), "
        "iproute2 (`ip`) and util-linux (`nsenter`): install them (`apt-get install iproute2 "
        "util-linux`) and run as root, e.g. `sudo .venv/bin/drills sandbox up`. A bare "
        "`unshare --user --map-root-user --net --mount` is not enough: `ip netns add` cannot "
        f"create {NETNS_DIR} there, as the real /run stays read-only to the namespace's root. "
        "Without root it works when the command inside mounts a private /run and brings lo up "
        "first: `unshare --user --map-root-user --net --mount sh -c 'mount -t tmpfs tmpfs /run "
        "&& ip link set lo up && exec <command>'`; everything the drill talks to must then run "
        "inside that namespace too."
    )


def require_privileges() -> None:
    """Raise requirements_error unless the capabilities, tools and /run/netns are there."""
    target = NETNS_DIR if NETNS_DIR.exists() else NETNS_DIR.parent
    needs = missing_requirements(
        capabilities=effective_capabilities(Path("/proc/self/status").read_text()),
        tools={tool: shutil.which(tool) for tool in ("ip", "nsenter")},
        netns_dir_writable=os.access(target, os.W_OK),
    )
    if needs:
        raise requirements_error(needs)


def _run_ip(
    args: Sequence[str], *, commands: Sequence[str] = (), check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *args]
    script = "".join(f"{command}\n" for command in commands) or None
    try:
        return subprocess.run(
            argv, input=script, check=check, capture_output=True, text=True, timeout=_IP_TIMEOUT_S
        )
    except subprocess.CalledProcessError as error:
        stderr = str(error.stderr).strip()
        if "Operation not permitted" in stderr:
            raise requirements_error([f"permission for `ip` ({stderr})"]) from error
        failed = DrillError(f"`{' '.join(argv)}` failed: {stderr}")
        failed.add_note("commands:\n" + (script or "(none)"))
        raise failed from error
    except (subprocess.TimeoutExpired, OSError) as error:
        raise DrillError(f"`{' '.join(argv)}` did not run: {error}") from error


def run_batch(commands: Sequence[str], *, netns: str | None = None) -> None:
    """Run `ip` commands in one process, in the root or the named namespace; stop at a failure.

    DrillError carries ip's stderr (ConfigError when the kernel says "Operation not permitted").
    """
    _run_ip([*(["-n", netns] if netns else []), "-batch", "-"], commands=commands)


def ipv6_off(device: str) -> list[str]:
    """The command that keeps `device` without an IPv6 link-local address (none without IPv6).

    Without it a pod has no IPv6 route at all: its only route is the IPv4 /24.
    """
    return [f"link set {device} addrgenmode none"] if Path("/proc/sys/net/ipv6").exists() else []


def netns_names() -> list[str]:
    """The named network namespaces (`ip netns list`)."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def link_names() -> list[str]:
    """The interfaces of this process's network namespace."""
    links: list[dict[str, object]] = json.loads(_run_ip(["-j", "link", "show"]).stdout or "[]")
    return [str(link["ifname"]) for link in links]


def delete(netns: Sequence[str], links: Sequence[str]) -> None:
    """Delete links (a veth takes its peer along), then namespaces; the already gone are fine.

    One `ip -force -batch` run; DrillError only if something named is still there afterwards.
    """
    commands = [*(f"link del {link}" for link in links), *(f"netns delete {ns}" for ns in netns)]
    done = _run_ip(["-force", "-batch", "-"], commands=commands, check=False)
    if done.returncode == 0:
        return
    present = set(netns_names()) | set(link_names())
    if left := [name for name in (*links, *netns) if name in present]:
        raise DrillError(f"could not remove {', '.join(left)}: {done.stderr.strip()}")
