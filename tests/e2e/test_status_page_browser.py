"""`GET /status` rendered by a real headless Chromium (Debian's `chromium`): the queue
table is in the DOM with the right figures, at a phone's width. A screenshot is written to
tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CONFIG = "queues:\n  - name: default\n  - name: bulk\n"


class Tables(HTMLParser):
    """Rows of every table by id: {"queues": [[cell, …], …]} (header rows included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.metas: list[dict[str, str | None]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or "?"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "meta":
            self.metas.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture
def bearer_proxy(jc: Jobctl) -> Iterator[tuple[str, Callable[[str, str], None]]]:
    """A local proxy that adds the bearer token (a browser cannot be told to send one)."""
    target: dict[str, str] = {}

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            r = httpx.get(target["url"] + self.path, headers=target["headers"], timeout=10)
            self.send_response(r.status_code)
            self.send_header("Content-Type", r.headers["content-type"])
            self.send_header("Content-Length", str(len(r.content)))
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def aim(url: str, token: str) -> None:
        target.update(url=url, headers={"Authorization": f"Bearer {token}"})

    yield f"http://127.0.0.1:{server.server_address[1]}", aim
    server.shutdown()
    server.server_close()


def test_status_page_in_headless_chromium(
    jc: Jobctl, bearer_proxy: tuple[str, Callable[[str, str], None]], tmp_path: Path
) -> None:
    browser = chromium()
    (tmp_path / "config.yaml").write_text(CONFIG)
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    token = jc.json("token", "create", "viewer", "--scope", "read")["token"]
    jc.start_daemon("--http", "127.0.0.1:0")
    addr = wait_until(
        lambda: re.search(r"event=http\.listening addr=(\S+)", jc.daemon_log(0)), 10, 0.05, "addr"
    ).group(1)
    jc.ok("queue", "pause", "bulk")
    for _ in range(3):
        jc.enqueue("-Q", "bulk", "--", "true")
    dead = jc.enqueue("--max-attempts", "1", "--", "sh", "-c", "echo '<b>boom</b>' >&2; exit 3")
    jc.wait_state(dead, "dead")
    jc.wait_state(jc.enqueue("--", "true"), "succeeded")
    proxy, aim = bearer_proxy
    aim(f"http://{addr}", token)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=390,844",  # a phone
            f"--screenshot={shot}",
            "--dump-dom",
            f"{proxy}/status",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = Tables()
    page.feed(proc.stdout)
    queues = page.tables.get("queues")
    assert queues, f"no queue table in the DOM:\n{proc.stdout[:3000]}"
    header, *rows = queues
    assert header[:5] == ["Queue", "Lag", "Failures (24h)", "Ready", "Running"], header
    by_queue = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_queue["bulk"]["Ready"] == "3" and by_queue["bulk"]["Paused"] == "yes"
    assert by_queue["bulk"]["Lag"] not in ("", "-")
    assert by_queue["default"]["Failures (24h)"] == "1"
    assert by_queue["default"]["Dead"] == "1" and by_queue["default"]["Ready"] == "0"
    dead_rows = page.tables.get("dead")
    assert dead_rows and [r[0] for r in dead_rows[1:]] == [str(dead)], dead_rows
    assert any(m.get("name") == "viewport" for m in page.metas), "readable on a phone"
    assert any((m.get("http-equiv") or "").lower() == "refresh" for m in page.metas)
    assert shot.stat().st_size > 1000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
