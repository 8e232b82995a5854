"""Find, or fetch into the cache, the Allure 2 command line that `drills report --allure` runs.

Where it is looked for, first hit wins:

1. ``$DRILLS_ALLURE``: the path of an ``allure`` executable (an error when it is not one);
2. ``allure`` on ``PATH``;
3. the project's cached copy, ``<cache_root>/allure/<version>/bin/allure`` (``cache_root`` is
   the one the sandbox's Go builds use: ``$DRILLS_CACHE_DIR`` or ``~/.cache/drills``).

The cached copy is fetched only when asked (``make allure``, or ``python -m
drills.cli.allure_fetch``): the ``allure-commandline`` archive from Maven Central (about 25 MB),
checked against the ``.sha256`` file Maven Central publishes beside it and, for the pinned
version, against the digest pinned here too, then unpacked into the cache. Allure 2 is a Java
program: it runs where ``java`` is on ``PATH`` or ``$JAVA_HOME/bin/java`` exists (Java 8+).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drills.core.cache import cache_root
from drills.core.errors import ConfigError

__all__ = [
    "ALLURE_VERSION",
    "AllureTool",
    "allure_cache_dir",
    "fetch_allure",
    "find_allure",
    "find_java",
    "how_to_get",
]

ALLURE_VERSION = "2.34.1"
# sha256 of allure-commandline-2.34.1.tgz as Maven Central publishes it (…tgz.sha256).
PINNED_SHA256 = {"2.34.1": "df13c5883429edd5041a24d6d072a8944e65274d1d76a441fd45d2585511349a"}
MAVEN = "https://repo1.maven.org/maven2/io/qameta/allure/allure-commandline"
HOW_TO_GET = (
    "get it with `make allure` (fetches Allure {version} from Maven Central into {cache}, "
    "about 25 MB), or point DRILLS_ALLURE at an `allure` executable (Allure 2.24 or later), "
    "or install the Allure command line so that `allure` is on PATH"
)
DOWNLOAD_TIMEOUT_S = 120.0
CHUNK = 1 << 20


@dataclass(frozen=True)
class AllureTool:
    """An Allure command line and where it was found (`DRILLS_ALLURE`, `PATH` or `cache`)."""

    path: Path
    source: str


def allure_cache_dir(version: str = ALLURE_VERSION, env: Mapping[str, str] | None = None) -> Path:
    """Where the fetched Allure `version` lives: <cache_root>/allure/<version>."""
    return cache_root(env) / "allure" / version


def how_to_get(env: Mapping[str, str] | None = None) -> str:
    """The sentence that says how to obtain the command line."""
    return HOW_TO_GET.format(version=ALLURE_VERSION, cache=allure_cache_dir(env=env))


def find_allure(env: Mapping[str, str] | None = None) -> AllureTool | None:
    """The Allure command line to run, or None when there is none (see the module docstring).

    Raises ConfigError when DRILLS_ALLURE names something that is not an executable file.
    """
    env = os.environ if env is None else env
    named = env.get("DRILLS_ALLURE", "")
    if named:
        path = Path(named).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"DRILLS_ALLURE={named} is not an executable file")
        return AllureTool(path, "DRILLS_ALLURE")
    on_path = shutil.which("allure", path=env.get("PATH", os.defpath))
    if on_path:
        return AllureTool(Path(on_path), "PATH")
    cached = allure_cache_dir(env=env) / "bin" / "allure"
    if cached.is_file() and os.access(cached, os.X_OK):
        return AllureTool(cached, "cache")
    return None


def find_java(env: Mapping[str, str] | None = None) -> Path | None:
    """The java the `allure` script will use: $JAVA_HOME/bin/java, else java on PATH."""
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME", "")
    if home and (Path(home) / "bin" / "java").is_file():
        return Path(home) / "bin" / "java"
    found = shutil.which("java", path=env.get("PATH", os.defpath))
    return Path(found) if found else None


def fetch_allure(
    version: str = ALLURE_VERSION,
    *,
    env: Mapping[str, str] | None = None,
    base_url: str = MAVEN,
    force: bool = False,
) -> Path:
    """Download, verify and unpack Allure `version` into the cache; return its `bin/allure`.

    A cache hit returns at once. Raises ConfigError when the download fails or the digest does
    not match (nothing is left in the cache then).
    """
    target = allure_cache_dir(version, env)
    executable = target / "bin" / "allure"
    if executable.is_file() and not force:
        return executable
    name = f"allure-commandline-{version}.tgz"
    url = f"{base_url}/{version}/{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{version}-", dir=target.parent) as tmp:
        archive = Path(tmp) / name
        published = _read_url(f"{url}.sha256").split()[0].lower()
        pinned = PINNED_SHA256.get(version)
        if pinned is not None and published != pinned:
            raise ConfigError(f"{url}.sha256 says {published}, drills pins {pinned}; not used")
        actual = _download(url, archive)
        if actual != published:
            raise ConfigError(f"{url}: sha256 {actual} does not match the published {published}")
        unpacked = _unpack(archive, Path(tmp) / "unpacked", version)
        if force and target.exists():
            shutil.rmtree(target)
        with contextlib.suppress(FileExistsError, OSError):
            unpacked.rename(target)  # a concurrent fetch that won the race is as good
    if not executable.is_file():
        raise ConfigError(f"{name} did not contain allure-{version}/bin/allure")
    return executable


def _read_url(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            body: bytes = response.read(4096)
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"cannot fetch {url}: {exc}") from exc
    return body.decode("ascii", errors="replace").strip() or "-"


def _download(url: str, to: Path) -> str:
    """Stream `url` into `to`; return its sha256."""
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
            to.open("wb") as out,
        ):
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(f"cannot download {url}: {exc}") from exc
    return digest.hexdigest()


def _unpack(archive: Path, into: Path, version: str) -> Path:
    """Extract the archive (data filter: no absolute paths, links out or devices)."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ConfigError(f"cannot unpack {archive.name}: {exc}") from exc
    top = into / f"allure-{version}"
    script = top / "bin" / "allure"
    if script.is_file():
        script.chmod(0o755)
    return top
