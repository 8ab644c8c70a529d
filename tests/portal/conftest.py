"""A real three-node lake, one real portal per member (uvicorn on loopback) and a real
headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

import sharelake
from sharelake.client.session import Session
from sharelake.consortium.cluster import init_cluster
from sharelake.node.local import LocalCluster
from sharelake.portal.access import Access
from sharelake.portal.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SHARELAKE_SCREENSHOTS", "")
"""Set to a folder (``make portal-screenshots`` sets docs/portal) to save each page."""

if not Path(CHROMIUM).exists():  # `make test` installs Debian's chromium first
    pytest.skip("chromium is not installed (make test installs it)", allow_module_level=True)


@dataclass
class Portal:
    """One member's running portal."""

    member: str
    url: str
    access: Access
    session: Session
    server: uvicorn.Server

    def start_url(self) -> str:
        token = self.access.start_token or self.access.new_start_token()
        return f"{self.url}/start?token={token}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    d = tmp_path_factory.mktemp("portal-lake")
    init_cluster(d)
    with LocalCluster(d) as c:
        yield c


def start_portal(session: Session) -> tuple[Portal, threading.Thread]:
    """Serve ``session``'s member's portal on a free loopback port (uvicorn in a thread)."""
    port = free_port()
    access = Access({f"127.0.0.1:{port}", f"localhost:{port}"})
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(session, access),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "a portal did not start"
        time.sleep(0.05)
    return Portal(session.member, f"http://127.0.0.1:{port}", access, session, server), t


def stop_portal(portal: Portal, thread: threading.Thread) -> None:
    portal.server.should_exit = True
    thread.join(timeout=10)
    portal.session.close()


@pytest.fixture(scope="package")
def portals(lake: LocalCluster) -> Iterator[dict[str, Portal]]:
    running = [
        start_portal(sharelake.connect(lake.consortium_path, m))
        for m in ("ngo_a", "police", "analyst", "hotline")
    ]
    yield {p.member: p for p, _ in running}
    for p, t in running:
        stop_portal(p, t)


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def shot(page: object, name: str) -> None:
    """Save a screenshot of the page when SHARELAKE_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
