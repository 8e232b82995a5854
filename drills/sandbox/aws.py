"""A moto server (S3 and RDS APIs over real HTTP) on a free loopback port, as a subprocess.

The sandbox's stand-in for AWS. boto3 clients reach it through `endpoint_url`; credentials are
dummies (moto accepts any). moto completes every operation at once, so whoever needs realistic
durations (an RDS restore takes minutes) models them and labels them as modelled.

How the sandbox helper uses it::

    from drills.sandbox.aws import MotoServer

    moto = MotoServer(log_path=repo_root / ".drills" / "sandbox" / "moto.log")
    endpoint = moto.start()     # "http://127.0.0.1:<port>", answers when this returns
    ...
    moto.stop()

With ``backing_root`` (the sandbox's PostgreSQL root) it runs `drills.moto_rds` instead: the same
server with RDS restores backed by real local PostgreSQL instances (the RDS profile's drills).

The sandbox daemon passes ``host=<pod-network gateway>``: pods reach the host only there (their
backup Jobs upload to S3), and the host reaches the same address, so one endpoint serves both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from drills.core.clock import DrillClock, SystemClock
from drills.core.conditions import Observation
from drills.core.errors import ConfigError, DrillError
from drills.core.waiting import wait_until

__all__ = [
    "BACKED_MODULE",
    "BACKING_ROOT_ENV",
    "DUMMY_CREDENTIALS",
    "RECORDING_NAME",
    "MotoServer",
    "set_recording",
]

BACKED_MODULE = "drills.moto_rds"  # moto with restores backed by local PostgreSQL
BACKING_ROOT_ENV = "DRILLS_RDS_BACKING_ROOT"  # read by drills.moto_rds: the PostgreSQL root
RECORDING_NAME = "moto-recording.jsonl"  # beside moto.log in the sandbox's state directory

DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",  # moto accepts anything; not a secret
    "region_name": "us-east-1",
}


def _moto_executable() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise ConfigError(
            "moto_server not found beside this Python nor on PATH. "
            "Fix: .venv/bin/pip install -c constraints.txt 'moto[server]'"
        )
    return found


def _free_port(host: str) -> int:
    """A TCP port on `host` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Start, probe and stop one `moto_server` process."""

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        recording_path: Path | None = None,
        clock: DrillClock | None = None,
        host: str = "127.0.0.1",
        backing_root: Path | None = None,
    ) -> None:
        self.host = host
        self.backing_root = backing_root
        self.log_path = log_path
        self.recording_path = recording_path
        self.clock = clock or SystemClock()
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL boto3 clients use."""
        if self.port is None:
            raise DrillError("moto server not started; call start() first")
        return f"http://{self.host}:{self.port}"

    def answers(self) -> Observation:
        """One probe of moto's own API."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2) as resp:
                return Observation(ok=resp.status == 200, detail=f"HTTP {resp.status}")
        except (urllib.error.URLError, OSError) as exc:
            return Observation(ok=False, detail=str(exc))

    def start(self, *, timeout_s: float = 30.0) -> str:
        """Start the server and wait until it answers; return the endpoint URL."""
        if self.running():
            return self.endpoint
        self.port = _free_port(self.host)
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                [*self._command(), "-H", self.host, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environment(),
            )
        finally:
            if self.log_path and not isinstance(log, int):
                log.close()
        wait_until(
            self._alive_and_answering,
            clock=self.clock,
            timeout_s=timeout_s,
            poll_s=0.1,
            description=f"moto server on port {self.port} answers",
        )
        return self.endpoint

    def _command(self) -> list[str]:
        """`moto_server`, or with `backing_root` moto with RDS backed by local PostgreSQL."""
        if self.backing_root is None:
            return [_moto_executable()]
        _moto_executable()  # the same check: moto[server] installed
        return [sys.executable, "-m", BACKED_MODULE]

    def _environment(self) -> dict[str, str]:
        """The recorder writes where `recording_path` says; it records only once started."""
        environ = {k: v for k, v in os.environ.items() if k != "MOTO_ENABLE_RECORDING"}
        if self.recording_path is not None:
            environ["MOTO_RECORDER_FILEPATH"] = str(self.recording_path)
        if self.backing_root is not None:
            environ[BACKING_ROOT_ENV] = str(self.backing_root)
        return environ

    def _alive_and_answering(self) -> Observation:
        if self._proc is not None and self._proc.poll() is not None:
            raise DrillError(
                f"moto_server exited with {self._proc.returncode} before answering; "
                f"see {self.log_path or 'its output'}"
            )
        return self.answers()

    def running(self) -> bool:
        """True while the subprocess lives."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Terminate the process (kill it if it does not exit in time)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=timeout_s)
        self._proc = None


def set_recording(endpoint: str, *, on: bool, timeout_s: float = 5.0) -> None:
    """Start or stop moto's request recording (every request's headers and body, as JSON lines).

    A certification practical records while the trainee works: the signed requests name the
    trainee's access key and the body names RDS/EC2 actions, which the request log cannot show.
    Raises DrillError when moto does not answer.
    """
    action = "start-recording" if on else "stop-recording"
    request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DrillError(f"moto at {endpoint} did not {action.replace('-', ' ')}: {exc}") from exc
