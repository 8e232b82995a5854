"""The sandbox's Redis: its settings and address, without starting a server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from drills.core.errors import DrillError
from drills.sandbox.redis import LocalRedis, _port_free, ping


def test_the_settings_listen_on_the_host_daemonised_with_every_write_fsynced(
    tmp_path: Path,
) -> None:
    redis = LocalRedis(tmp_path / "redis", host="10.244.1.1")
    settings = redis._settings(7001)
    assert "port 7001\nbind 10.244.1.1\nprotected-mode no\ndaemonize yes\n" in settings
    assert f"pidfile {tmp_path / 'redis' / 'redis.pid'}" in settings
    assert "appendonly yes\nappendfsync always\n" in settings


def test_the_address_is_the_last_start_s_port(tmp_path: Path) -> None:
    redis = LocalRedis(tmp_path, host="10.244.1.1")
    with pytest.raises(DrillError, match="never started"):
        redis.url()
    assert not redis.running()
    assert not redis.answers().ok
    redis.port_file.write_text("7001\n")
    assert redis.url() == "redis://10.244.1.1:7001/0"


def test_a_port_in_use_is_busy_and_a_closed_one_free() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = int(sock.getsockname()[1])
        assert not _port_free("127.0.0.1", port)
        assert not ping("127.0.0.1", port, timeout_s=0.2).ok  # it listens, never answers PONG
    assert _port_free("127.0.0.1", port)
