"""The data disk full or read-only: clear errors (503 storage_full, a one-line refusal to start), never a 500,
no corruption (SQLite integrity check after), and the appliance carries on once space is back.
Needs root (tmpfs and read-only bind mounts of the test's own directories)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs and read-only binds: needs root")


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0 and "permission denied" in done.stderr.lower():
        pytest.skip(f"mount is not permitted here: {done.stderr.strip()}")
    done.check_returncode()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk))
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def integrity(db_file: Path) -> str:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_disk_full_gives_503_storage_full_and_no_corruption(small_disk: Path) -> None:
    server = ServerProcess(small_disk / "data", env={"APPLIANCE_TELEPHONY": "false"}).start()
    try:
        with server.client() as api:
            agent = api.post("/v1/agents", json={"name": "before", "type": "outbound"}).json()
            filler = fill(small_disk)
            call = {"agent_id": agent["id"], "to": "+12025550102", "context": {"k": "v" * 9000}}
            refused = [
                api.post("/v1/agents", json={"name": "full", "type": "outbound", "persona": "x" * 20_000}),
                api.post("/v1/calls", json=call),
            ]
            for r in refused:
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "storage_full" and "disk is full" in r.json()["error"]
                assert r.headers["retry-after"] == "60"
            assert api.get("/v1/agents").status_code == 200  # reads still work
            filler.unlink()
            assert api.post("/v1/agents", json={"name": "after", "type": "outbound"}).status_code == 201
        assert server.proc is not None and server.proc.poll() is None
        assert not [line for line in server.output if "http.unhandled_error" in line]
    finally:
        server.stop()
    db_file = small_disk / "data" / "appliance.db"
    assert integrity(db_file) == "ok"
    with sqlite3.connect(db_file) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM agents ORDER BY created_at")]
    assert names == ["before", "after"]


@pytest.mark.parametrize("existing", [False, True], ids=["empty-dir", "dir-with-database"])
def test_read_only_data_dir_refuses_to_start_with_one_clear_line(tmp_path: Path, existing: bool) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "APPLIANCE_DATA_DIR": str(data), "APPLIANCE_TELEPHONY": "false",
           "APPLIANCE_PORT": str(free_port()), "APPLIANCE_HOST": "127.0.0.1"}  # fmt: skip
    if existing:
        subprocess.run([sys.executable, "-m", "appliance.cli", "keys", "create", "--name", "k"], env=env, check=True,
                       capture_output=True)  # fmt: skip
    mount("--bind", str(data), str(data))
    try:
        mount("-o", "remount,bind,ro", str(data))
        done = subprocess.run([sys.executable, "-m", "appliance.cli", "serve"], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "storage error: cannot open the database" in done.stderr and "writable" in done.stderr
    assert "Traceback" not in done.stderr
    if existing:
        assert integrity(data / "appliance.db") == "ok"
