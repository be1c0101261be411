"""First use of a new DB path by commands started together: a read that starts while a write
command creates the DB waits for it rather than saying "no jobctl database"."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.pg import PgServer, require
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _start(jc: Jobctl, *args: str, out: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*jc.argv0, *args], env=jc.env, cwd=jc.tmp, stdout=out, stderr=out,
        start_new_session=True,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Jobctl]:
    """A jobctl on a DB nobody created yet: no SQLite file / an empty PostgreSQL database."""
    url = None
    if request.param == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        require(server)
        url = server.fresh(migrated=False)
    jc = Jobctl(tmp_path, url)
    try:
        yield jc
    finally:
        if url is not None:
            server.drop(url)


def test_lock_list_started_with_the_first_lock_holder_sees_its_lock(new_db: Jobctl) -> None:
    jc = new_db
    # Given no DB yet, when `lock list` and the first lock holder start together (as the
    # black-box check and a provisioning script do; the reader first)
    reader = _start(jc, "-o", "json", "lock", "list", out=subprocess.PIPE)
    holder = _start(jc, "lock", "deploy", "--", "sleep", "20")
    try:
        # Then the reader waits for the DB the holder creates instead of exiting 3
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert {lock["name"] for lock in json.loads(out)} <= {"deploy"}

        # and `lock list` soon lists the lock
        def names() -> set[str]:
            res = jc.run("-o", "json", "lock", "list")
            assert res.rc == 0, res
            return {lock["name"] for lock in json.loads(res.out)}

        wait_until(lambda: "deploy" in names(), 30, 0.05, "the lock in `lock list`")
    finally:
        holder.terminate()  # the wrapper ends its command, then itself
        holder.wait(30)


def test_a_read_of_a_missing_db_in_an_existing_directory_is_still_not_found(jc: Jobctl) -> None:
    res = jc.run("list")
    assert (res.rc, res.err) == (3, f"jobctl: error: no jobctl database at {jc.db}\n")
    assert not jc.db.exists()
