"""The portal acts with its member's key, so only that member's own browser may use it:
start-token sign-in, cookie sessions, CSRF tokens, same-origin POSTs, the Host check,
security headers, and a loopback-only default address."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from typer.testing import CliRunner

from sharelake.cli.main import app as cli
from sharelake.portal.access import COOKIE, CSP, Access

from .conftest import Portal, free_port

pytestmark = pytest.mark.timeout(120)


def signed_in(portal: Portal) -> tuple[httpx.Client, str]:
    """A client signed in through the start link, and its CSRF token."""
    c = httpx.Client(base_url=portal.url, follow_redirects=False)
    r = c.get("/start", params={"token": portal.access.new_start_token()})
    assert r.status_code == 303 and COOKIE in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
    page = c.get("/tables").text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m is not None
    return c, m.group(1)


def test_a_browser_without_the_start_link_gets_only_the_sign_in_page(
    portals: dict[str, Portal],
) -> None:
    with httpx.Client(base_url=portals["ngo_a"].url) as c:
        for path in ("/", "/tables", "/inbox", "/audit", "/upload", "/analyses"):
            r = c.get(path)
            assert r.status_code == 401 and "belongs to ngo_a" in r.text
            assert "Signed in as" not in r.text
        assert c.post("/tables/x/drop", data={"confirm": "x"}).status_code == 401


def test_a_start_link_works_once_in_one_browser(portals: dict[str, Portal]) -> None:
    p = portals["police"]
    token = p.access.new_start_token()
    with httpx.Client(base_url=p.url, follow_redirects=False) as first:
        assert first.get("/start", params={"token": token}).status_code == 303
    with httpx.Client(base_url=p.url, follow_redirects=False) as second:
        assert second.get("/start", params={"token": token}).status_code == 401
        assert second.get("/", follow_redirects=False).status_code == 401


def test_another_members_session_cookie_does_not_open_this_portal(
    portals: dict[str, Portal],
) -> None:
    police, _ = signed_in(portals["police"])
    cookie = police.cookies[COOKIE]
    with httpx.Client(base_url=portals["ngo_a"].url, cookies={COOKIE: cookie}) as c:
        assert c.get("/inbox").status_code == 401
    police.close()


def test_a_post_without_the_forms_csrf_token_is_refused(portals: dict[str, Portal]) -> None:
    c, csrf = signed_in(portals["ngo_a"])
    r = c.post("/analyses", data={"kind": "overlap"})
    assert r.status_code == 403 and "out of date" in r.text
    r = c.post("/analyses", data={"kind": "overlap", "csrf": csrf + "x"})
    assert r.status_code == 403
    c.close()


def test_a_cross_site_post_is_refused_even_with_the_cookie_and_token(
    portals: dict[str, Portal],
) -> None:
    c, csrf = signed_in(portals["ngo_a"])
    for origin in ("http://evil.example", "null"):
        r = c.post(
            "/requests/abc/decide",
            data={"csrf": csrf, "decision": "approve"},
            headers={"Origin": origin},
        )
        assert r.status_code == 403 and "cross-site" in r.text
    c.close()


def test_a_request_naming_another_host_is_refused(portals: dict[str, Portal]) -> None:
    p = portals["ngo_a"]
    with httpx.Client(base_url=p.url) as c:
        assert c.get("/signin", headers={"Host": "rebind.example:80"}).status_code == 400


def test_every_page_carries_a_strict_content_security_policy(portals: dict[str, Portal]) -> None:
    c, _ = signed_in(portals["hotline"])
    for path in ("/", "/help", "/signin"):
        r = c.get(path)
        assert r.headers["content-security-policy"] == CSP
        assert "script-src" not in CSP and "default-src 'none'" in CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert "<script" not in r.text and "http://" not in r.text.replace(
            portals["hotline"].url, ""
        )
    c.close()


def test_the_portal_listens_on_this_computer_only_unless_told_otherwise(
    portals: dict[str, Portal],
) -> None:
    cons = str(portals["ngo_a"].session.consortium.path)
    out = CliRunner().invoke(
        cli, ["portal", "--as", "ngo_a", "--consortium", cons, "--host", "0.0.0.0"]
    )
    assert out.exit_code == 2 and "127.0.0.1 unless you add --allow-remote" in out.output
    port = free_port()
    exe = str(Path(sys.executable).parent / "sharelake")
    proc = subprocess.Popen(
        [exe, "portal", "--as", "ngo_a", "--consortium", cons, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert f"http://127.0.0.1:{port}/start?token=" in lines[1], lines
        deadline = time.time() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.ConnectError:
                assert time.time() < deadline, "the portal did not start"
                time.sleep(0.1)
        assert r.status_code == 401
        listening = {
            c.laddr.ip
            for c in psutil.Process(proc.pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN
        }
        assert listening == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_access_rules_in_isolation() -> None:
    a = Access({"127.0.0.1:1"})
    assert a.sign_in("wrong") is None
    token = a.start_token
    assert token is not None
    v = a.sign_in(token)
    assert v is not None and a.start_token is None and a.sign_in(token) is None
    assert a.visitor(v.cookie) is v and a.visitor("other") is None
    assert a.csrf_ok(v, v.csrf) and not a.csrf_ok(v, None) and not a.csrf_ok(v, "x")
    assert a.same_origin("http://127.0.0.1:1", None) and not a.same_origin("null", None)
    assert not a.same_origin(None, "http://127.0.0.1:2/x")
    a.sign_out(v.cookie)
    assert a.visitor(v.cookie) is None
