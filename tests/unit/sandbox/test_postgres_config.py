"""The local server's configuration as written to drills.conf (no process started)."""

from __future__ import annotations

from pathlib import Path

from drills.sandbox.postgres import LocalPostgres, PostgresBinaries


def test_settings_for_drills(tmp_path: Path) -> None:
    pg = LocalPostgres(tmp_path, max_connections=22, archive_timeout_s=2)
    settings = pg.settings(5999)
    assert settings["listen_addresses"] == "'127.0.0.1'"
    assert settings["unix_socket_directories"] == "''"
    assert settings["max_connections"] == "22"
    assert settings["wal_level"] == "replica"
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "2s"
    command = settings["archive_command"]
    assert f"test ! -f {tmp_path}/archive/%f" in command  # never overwrite an archived segment
    assert ".part" in command  # copied under a temporary name, then renamed


def test_restore_targets_do_not_archive(tmp_path: Path) -> None:
    pg = LocalPostgres(tmp_path, name="restored", archive=False)
    assert pg.settings(5998)["archive_mode"] == "off"
    assert pg.home == tmp_path / "restored"


def test_binaries_come_from_the_pgserver_wheel() -> None:
    binaries = PostgresBinaries.locate()
    assert Path(binaries.path("pg_basebackup")).exists()
    assert Path(binaries.path("pg_waldump")).exists()
