"""``tunewise dashboard`` as a user starts it: a real uvicorn process, its printed lines, GET."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.dashboard import studies
from tunewise.storage import StudyHandle

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dashboard(*args: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``tunewise dashboard ARGS --port P``; yields the base URL and the lines printed so far
    once it answers (stdout and stderr together)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tunewise.cli", "dashboard", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                httpx.get(f"{base}/api/studies", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        lines: list[str] = []
        yield base, lines
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
        lines.extend(out.splitlines())


def test_command_binds_localhost_and_serves_the_root(root: Path, study: StudyHandle) -> None:
    with dashboard(str(root), "--study", "runs") as (base, lines):
        summary = httpx.get(f"{base}/api/study/runs/summary").json()
        assert summary["counts"]["succeeded"] == 8
        home = httpx.get(f"{base}/", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/study/runs"
        assert httpx.post(f"{base}/api/studies").status_code == 405
    text = "\n".join(lines)
    assert f"tunewise dashboard of {root.resolve()} at http://127.0.0.1:" in text
    assert "bound to 127.0.0.1: only this machine can open it" in text
    assert "ssh -L" in text


def test_command_never_prints_the_password(postgres_url: str) -> None:
    secret = "pr1nted-never"
    user, rest = postgres_url.split("://", 1)[1].split("@", 1)
    url = f"postgresql://{user.split(':')[0]}:{secret}@{rest}"
    name = unique_name("dash")
    handle = studies.create(storage=url, name=name)
    try:
        studies.rung_study(handle)
        with dashboard(url, "--study", name) as (base, lines):
            assert httpx.get(f"{base}/api/study/{name}/figures").status_code == 200
            assert httpx.get(f"{base}/api/study/nope/summary").status_code == 404
        text = "\n".join(lines)
        assert "tunewise dashboard of postgresql+psycopg://" in text and "***" in text
        assert secret not in text
    finally:
        handle.store.close()
