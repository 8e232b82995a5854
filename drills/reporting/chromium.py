"""A headless Chromium for `drills report --pdf`, fetched from the npm registry into a cache.

Machines without a browser (CI, this project's build machines) get one from the npm package
``@sparticuz/chromium``: a headless Chromium for Linux x64 shipped inside the package as
brotli-compressed files (``bin/chromium.br``, ``bin/swiftshader.tar.br``, ``bin/fonts.tar.br``).
``npm pack`` downloads the tarball (npm checks its integrity; we check the pinned sha512 too),
and it is unpacked once per machine into::

    <cache_root>/chromium/<version>/chromium       the browser (headless shell)
    <cache_root>/chromium/<version>/lib*.so         SwiftShader/ANGLE, loaded from beside the binary
    <cache_root>/chromium/<version>/fonts/          Open Sans, so text renders without system fonts
    <cache_root>/chromium/<version>/fonts.conf      the system's fontconfig plus fonts/
    <cache_root>/chromium/<version>/fetch.json      what was fetched, how long it took, its size

``<cache_root>`` is ``$DRILLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/drills``, else
``~/.cache/drills`` (as for the sandbox's Kubernetes builds). The first fetch takes seconds
(70 MB download, 210 MB unpacked); later calls are cache hits.

    python -m drills.reporting.chromium [--best-effort]     (also: make chromium)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from drills.core.cache import cache_root
from drills.core.clock import SystemClock
from drills.core.errors import ConfigError

__all__ = [
    "PACKAGE",
    "VERSION",
    "cache_root",
    "cached_chromium",
    "chromium_dir",
    "fetch_chromium",
    "main",
]

PACKAGE = "@sparticuz/chromium"
VERSION = "153.0.0"
# The registry's `dist.integrity` of the pinned version: a different tarball is refused.
INTEGRITY = (
    "sha512-jiGWqSvPMdu4+P9TilYqAR7yEGPEHINx+lCvE/NqNO/"
    "EHYzF/x1hUiI5T6ioVIt7dEy7n88byyT0vk+dnsgQwA=="
)
BINARY = "chromium"
FONTS_CONF = "fonts.conf"
RECORD = "fetch.json"
_NPM_TIMEOUT_S = 300.0


def chromium_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the pinned version is (or would be) unpacked."""
    return cache_root(env) / "chromium" / VERSION


def cached_chromium(env: Mapping[str, str] | None = None) -> Path | None:
    """The cached browser when a complete fetch left one, else None (never fetches)."""
    where = chromium_dir(env)
    binary = where / BINARY
    if (where / RECORD).is_file() and os.access(binary, os.X_OK):
        return binary
    return None


def fetch_chromium(env: Mapping[str, str] | None = None, *, npm: str | None = None) -> Path:
    """Return the cached browser, fetching and unpacking it first when it is not there.

    Raises ConfigError when npm is missing or the registry cannot be reached.
    """
    found = cached_chromium(env)
    if found is not None:
        return found
    npm = npm or shutil.which("npm")
    if npm is None:
        raise ConfigError(
            f"npm is not installed, so {PACKAGE} cannot be fetched; install Node.js/npm, "
            "or provide a browser another way (DRILLS_CHROMIUM, or chromium on PATH)"
        )
    where = chromium_dir(env)
    where.parent.mkdir(parents=True, exist_ok=True)
    with _locked(where.parent / f".{VERSION}.lock"):
        found = cached_chromium(env)  # another process may have fetched it meanwhile
        return found if found is not None else _fetch_into(where, npm)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_into(where: Path, npm: str) -> Path:
    clock = SystemClock()
    started = clock.now()
    with tempfile.TemporaryDirectory(dir=where.parent, prefix=".fetch-") as tmp:
        tarball = _npm_pack(npm, Path(tmp))
        downloaded_s = clock.now() - started
        staging = Path(tmp) / "unpacked"
        staging.mkdir()
        _unpack(tarball, staging)
        _write_fonts_conf(staging, final=where)
        record = {
            "package": f"{PACKAGE}@{VERSION}",
            "download_mb": round(tarball.stat().st_size / 1e6, 1),
            "unpacked_mb": round(_size(staging) / 1e6, 1),
            "download_s": round(downloaded_s, 2),
            "total_s": round(clock.now() - started, 2),
        }
        (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if where.exists():  # an incomplete earlier attempt (no fetch.json)
            shutil.rmtree(where)
        staging.rename(where)
    return where / BINARY


def _npm_pack(npm: str, dest: Path) -> Path:
    spec = f"{PACKAGE}@{VERSION}"
    try:
        done = subprocess.run(
            [npm, "pack", "--json", "--pack-destination", str(dest), spec],
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"`npm pack {spec}` took over {_NPM_TIMEOUT_S:.0f} s") from exc
    tarballs = sorted(dest.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConfigError(f"`npm pack {spec}` failed: " + " / ".join(tail))
    _check_integrity(tarballs[0])
    return tarballs[0]


def _check_integrity(tarball: Path) -> None:
    digest = hashlib.sha512()
    with tarball.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    got = "sha512-" + base64.b64encode(digest.digest()).decode("ascii")
    if got != INTEGRITY:
        raise ConfigError(f"{tarball.name}: integrity {got} is not the pinned {INTEGRITY}")


def _unpack(tarball: Path, into: Path) -> None:
    import brotli  # type: ignore[import-untyped]  # the [report] extra; only a fetch needs it

    with tarfile.open(tarball, "r:gz") as package:
        for name in ("chromium", "swiftshader.tar", "fonts.tar"):
            member = package.extractfile(f"package/bin/{name}.br")
            if member is None:
                raise ConfigError(f"{tarball.name} has no bin/{name}.br")
            data = brotli.decompress(member.read())
            if name == "chromium":
                binary = into / BINARY
                binary.write_bytes(data)
                binary.chmod(0o755)
                continue
            with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                inner.extractall(into, filter="data")


def _write_fonts_conf(into: Path, *, final: Path) -> None:
    """The system's fonts (when it has a fontconfig) plus the package's; its cache in `final`."""
    shipped = into / FONTS_CONF  # the package's own points at /tmp/fonts: replace it
    shipped.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{final / 'fonts'}</dir>\n  <cachedir>{final / 'fonts-cache'}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )


def _size(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    """`python -m drills.reporting.chromium`: fetch (or find) the cached browser, print its path."""
    parser = argparse.ArgumentParser(prog="python -m drills.reporting.chromium")
    parser.add_argument(
        "--best-effort",
        action="store_true",
        help="exit 0 with a warning when it cannot be fetched (the PDF test then skips)",
    )
    args = parser.parse_args(argv)
    try:
        binary = fetch_chromium()
    except ConfigError as exc:
        sys.stderr.write(f"chromium not fetched: {exc}\n")
        return 0 if args.best_effort else 2
    record = json.loads((binary.parent / RECORD).read_text(encoding="utf-8"))
    sys.stdout.write(
        f"{binary} ({record['package']}: {record['download_mb']} MB fetched, "
        f"{record['unpacked_mb']} MB unpacked in {record['total_s']} s when first fetched)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
