"""The portal's flows in a real browser against a real three-node lake, in the order a
consortium lives them: a data officer uploads (fixing a validation error on the way), an
analyst asks for an overlap table, two owners approve in their own portals, the analyst
sees the result and downloads the report, an approver rejects another request and the
analyst sees why, and the audit page verifies. Each flow's deciding action is done with
the keyboard only, and every form field must have a label.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sharelake.monitoring.analyses import keys_table, upload_frames, upload_schema
from sharelake.monitoring.model import validate_frame

from .conftest import Portal, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# The NGO's own export: Dutch column names, day-first dates, its own labels.
NGO_EXPORT = """\
dossier,voornaam,achternaam,geboren,geslacht,land,status
D-1,Ana Maria,Popescu,14-03-1998,V,RO,slachtoffer
D-2,Olena,Kovalenko,07-1991,V,UA,slachtoffer
D-3,Blessing,Okafor,30-02-1996,V,NG,slachtoffer
D-4,Mehmet,Yilmaz,,M,TR,verdachte
D-5,Thi Lan,Nguyen,1989,V,VN,slachtoffer
D-6,Zsófia,Quixtlehorn,02-02-1990,V,HU,slachtoffer
"""
FIXED_EXPORT = NGO_EXPORT.replace("30-02-1996", "28-02-1996")
POLICE = pd.DataFrame(
    {
        "record_id": ["P-10", "P-11", "P-12", "P-13"],
        "given_name": ["ANA MARIA", "Blessing", "Lan Thi", "Pieter"],
        "family_name": ["POPESCU", "Okafor", "Nguyen", "Jansen"],
        "date_of_birth": ["1998-03-14", "1996", "1989-01", "1970"],
        "role": ["victim", "victim", "victim", "suspect"],
    }
)
SECRET_VALUES = ["Quixtlehorn", "Zsófia", "D-6", "Popescu", "P-13", "Jansen"]


def new_page(browser: Any, portal: Portal) -> Any:
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(portal.start_url())
    return page


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (fails if it is not reachable)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def rendered_table(page: Any, selector: str) -> pd.DataFrame:
    """A table as the page shows it (header row, then the cells as text)."""
    rows = page.eval_on_selector_all(
        selector + " tr", "trs => trs.map(tr => [...tr.cells].map(c => c.innerText))"
    )
    return pd.DataFrame(rows[1:], columns=rows[0]).astype({rows[0][-1]: int})


def choose(page: Any, selector: str, value: str, limit: int = 40) -> None:
    """Pick ``value`` in the focused select with the arrow keys."""
    page.keyboard.press("Home")
    for _ in range(limit):
        if page.input_value(selector) == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{value!r} cannot be chosen in {selector} with the keyboard")


def assert_labelled(page: Any) -> None:
    """Every visible form field has a label (or is a hidden CSRF field)."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
        .map(e => e.name || e.id)"""
    )
    assert unlabelled == [], f"fields without a label on {page.url}: {unlabelled}"


@pytest.fixture(scope="module")
def police_list(portals: dict[str, Portal]) -> None:
    """The police's list, uploaded with the client as the wizard does (names stay home)."""
    s = portals["police"].session
    frame = upload_frames({"police_list": validate_frame(POLICE, source="police.csv")})
    df = frame["police_list"]
    s.upload(df, "police_list", schema=upload_schema(), progress=False)
    keys = [c for c in upload_schema() if c.name in ("record_id", "person_key", "victim")]
    policy = {"min_group_size": 1, "columns": {"person_key": "match", "victim": "match"}}
    s.upload(
        df[[c.name for c in keys]],
        keys_table("police_list"),
        schema=keys,
        policy=policy,
        progress=False,
    )


def test_a_data_officer_uploads_with_a_mapping_and_fixes_a_validation_error_on_the_way(
    browser: Any, portals: dict[str, Portal], tmp_path: Path
) -> None:
    bad, good = tmp_path / "export.csv", tmp_path / "export-fixed.csv"
    bad.write_text(NGO_EXPORT, encoding="utf-8")
    good.write_text(FIXED_EXPORT, encoding="utf-8")
    page = new_page(browser, portals["ngo_a"])
    page.goto(portals["ngo_a"].url + "/upload")
    assert_labelled(page)
    shot(page, "upload-1-file")
    page.set_input_files("#file", str(bad))
    page.fill("#table", "ngo_a_list")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/upload/.+/map$"))
    # the suggestions map the Dutch columns; the data officer says dates are day-first
    assert page.input_value("#map_1") == "given_name"
    assert page.input_value("#map_2") == "family_name"
    assert page.input_value("#map_3") == "date_of_birth"
    page.select_option("#map_6", "role")
    page.select_option("#date_date_of_birth", "dmy")
    page.click("text=Check every row")
    # labels that are not codes are asked for, never guessed
    assert page.locator("#recode").is_visible()
    assert_labelled(page)
    shot(page, "upload-2-mapping")
    page.select_option("label:has-text('sex: “V” means') >> xpath=following-sibling::select", "F")
    page.select_option(
        "label:has-text('role: “slachtoffer” means') >> xpath=following-sibling::select", "victim"
    )
    page.select_option(
        "label:has-text('role: “verdachte” means') >> xpath=following-sibling::select", "suspect"
    )
    page.click("text=Check every row")
    problems = page.locator("#problems").inner_text()
    assert "row 3" in problems and "date_of_birth" in problems and "1996-02-30" in problems
    shared = {t.name for t in portals["ngo_a"].session.tables()}
    assert "ngo_a_list" not in shared, "nothing may be shared while a problem remains"
    page.set_input_files("form[action$='/file'] #file", str(good))
    page.click("text=Read the corrected file")
    page.select_option("#date_date_of_birth", "dmy")
    page.click("text=Check every row")
    page.wait_for_url(re.compile(r"/upload/.+/policy$"))
    assert "All 6 rows are valid" in page.content()
    assert "Names are not uploaded" in page.content()
    assert_labelled(page)
    shot(page, "upload-3-policy")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#upload-done", timeout=60_000)
    shot(page, "upload-4-done")
    names = {t.name for t in portals["ngo_a"].session.tables()}
    assert {"ngo_a_list", "ngo_a_list_keys"} <= names
    info = portals["ngo_a"].session.table_info("ngo_a_list")
    assert info.rows == 6 and "given_name" not in info.columns


def test_an_analyst_asks_for_an_overlap_table_and_two_owners_approve_it_in_their_portals(
    browser: Any, portals: dict[str, Portal], police_list: None
) -> None:
    analyst = new_page(browser, portals["analyst"])
    analyst.goto(portals["analyst"].url + "/analyses")
    assert_labelled(analyst)
    shot(analyst, "analyst-1-analyses")
    analyst.check("#ov_ngo_a_list_keys")
    analyst.check("#ov_police_list_keys")
    analyst.click("text=Set up the overlap analysis")
    assert analyst.inner_text("#verdict") == "needs_approval"
    analyst.fill("#explanation", "overlap of the two lists for the 2026 national estimate")
    tab_to(analyst, "form[action$='/request'] button")
    analyst.keyboard.press("Enter")
    assert analyst.inner_text("#request-status") == "pending"
    shot(analyst, "analyst-2-requested")
    for owner in ("ngo_a", "police"):
        page = new_page(browser, portals[owner])
        assert page.locator("#inbox-link .count").inner_text() == "1"
        page.goto(portals[owner].url + "/inbox")
        shot(page, f"approver-1-inbox-{owner}")
        page.click("#waiting-list a")
        assert "overlap of the two lists for the 2026 national estimate" in page.inner_text(
            "#purpose"
        )
        assert "(recomputed here from the plan below: it matches)" in page.content()
        assert_labelled(page)
        shot(page, f"approver-2-request-{owner}")
        page.fill("#reason", "for the national estimate only")
        tab_to(page, "button[value=approve]")
        with page.expect_navigation():  # the decision is posted and the page reloads
            page.keyboard.press("Enter")
        assert page.locator("#decisions li", has_text=owner).count() == 1
        assert page.inner_text("#req-status") in ("pending", "approved")
    analyst.reload()
    assert analyst.inner_text("#request-status") == "approved"
    tab_to(analyst, "#run")
    analyst.keyboard.press("Enter")
    analyst.wait_for_selector("#estimate")
    result = analyst.inner_text("table.data")
    # ANA MARIA POPESCU (same birth year) and Blessing Okafor are on both lists
    got = rendered_table(analyst, "section[aria-labelledby=res-h] table.data")
    both = got[(got.iloc[:, 0].astype(str) == "True") & (got.iloc[:, 1].astype(str) == "True")]
    assert int(both["count"].sum()) >= 2, result
    assert int(got["count"].sum()) == 6 + 4 - int(both["count"].sum())
    shot(analyst, "analyst-3-result")
    with analyst.expect_download() as dl:
        analyst.click("#report-link")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "Overlap of ngo_a_list_keys, police_list_keys" in text and "Population estimate" in text


def test_an_approver_rejects_another_request_and_the_analyst_sees_the_reason(
    browser: Any, portals: dict[str, Portal], police_list: None
) -> None:
    # the whole flow with the keyboard only: Tab, arrows, typing, Space and Enter
    analyst = new_page(browser, portals["analyst"])
    analyst.goto(portals["analyst"].url + "/analyses")
    tab_to(analyst, "#mo_table")
    choose(analyst, "#mo_table", "police_list")
    tab_to(analyst, "#mo_col")
    choose(analyst, "#mo_col", "role")
    tab_to(analyst, "button[value=modus]")
    analyst.keyboard.press("Enter")
    analyst.wait_for_selector("#verdict")
    assert analyst.inner_text("#verdict") == "needs_approval"
    tab_to(analyst, "#explanation")
    analyst.keyboard.type("roles of the persons on the police list")
    tab_to(analyst, "form[action$='/request'] button")
    analyst.keyboard.press("Enter")
    analyst.wait_for_selector("#request-status")
    police = new_page(browser, portals["police"])
    police.goto(portals["police"].url + "/inbox")
    tab_to(police, "#waiting-list a")
    police.keyboard.press("Enter")
    police.wait_for_selector("#reason")
    tab_to(police, "#reason")
    police.keyboard.type("roles of 4 persons identify the suspects")
    tab_to(police, "button[value=reject]")
    police.keyboard.press("Enter")
    police.wait_for_selector("#req-status")
    assert police.inner_text("#req-status") == "rejected"
    analyst.reload()
    assert analyst.inner_text("#request-status") == "rejected"
    assert "roles of 4 persons identify the suspects" in analyst.inner_text("#request-decisions")
    analyst.goto(portals["analyst"].url + "/inbox")
    assert "roles of 4 persons identify the suspects" in analyst.inner_text("#my-requests")
    shot(analyst, "analyst-4-rejected")


def test_the_audit_page_verifies_the_three_nodes_logs(
    browser: Any, portals: dict[str, Portal]
) -> None:
    page = new_page(browser, portals["hotline"])
    page.goto(portals["hotline"].url + "/audit")
    for _ in range(50):  # the nodes log a refusal a moment after the first one answered
        if page.inner_text("#audit-status").startswith("Verified"):
            break
        page.wait_for_timeout(200)
        page.reload()
    assert page.inner_text("#audit-status").startswith("Verified")
    assert "approval" in page.inner_text("ol.timeline")
    shot(page, "audit")
    for path, name in (("/", "home"), ("/help", "help"), ("/roles", "roles")):
        page.goto(portals["hotline"].url + path)
        assert_labelled(page)
        shot(page, name)


def test_no_page_of_another_member_shows_a_value_of_the_ngos_list(
    browser: Any, portals: dict[str, Portal]
) -> None:
    for member in ("police", "analyst", "hotline"):
        page = new_page(browser, portals[member])
        seen = []
        for path in (
            "/",
            "/tables",
            "/tables/ngo_a_list",
            "/tables/ngo_a_list_keys",
            "/inbox",
            "/audit",
            "/roles",
            "/help",
        ):
            page.goto(portals[member].url + path)
            seen.append(page.content())
        for link in page.locator("a[href^='/requests/'], a[href^='/analyses/']").all()[:10]:
            page.goto(portals[member].url + link.get_attribute("href"))
            seen.append(page.content())
        text = "\n".join(seen)
        for value in SECRET_VALUES[:3]:
            assert value not in text, f"{member}'s portal shows {value!r}"


def test_an_analyst_sets_up_a_name_list_comparison_that_the_policies_let_it_ask_for(
    browser: Any, portals: dict[str, Portal], police_list: None
) -> None:
    analyst = new_page(browser, portals["analyst"])
    analyst.goto(portals["analyst"].url + "/analyses")
    analyst.check("#cmp_ngo_a_list_keys")
    analyst.check("#cmp_police_list_keys")
    analyst.click("text=Set up the comparison")
    assert analyst.inner_text("#verdict") in ("allow", "needs_approval")
    assert_labelled(analyst)


def test_a_data_officer_changes_a_policy_and_drops_a_table_in_the_portal(
    browser: Any, portals: dict[str, Portal]
) -> None:
    s = portals["ngo_a"].session
    s.upload(
        pd.DataFrame({"n": [1, 2, 3]}),
        "scratch",
        policy={"columns": {"n": "aggregate"}},
        progress=False,
    )
    page = new_page(browser, portals["ngo_a"])
    page.goto(portals["ngo_a"].url + "/tables/scratch")
    assert_labelled(page)
    shot(page, "provider-table")
    page.select_option("#class_n", "private")
    page.fill("#min_group_size", "7")
    tab_to(page, "form[action$='/policy'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"changed=1"))
    info = s.table_info("scratch")
    assert info.policy_version == 2 and info.policy["columns"]["n"] == "private"
    assert info.policy["min_group_size"] == 7
    page.fill("#confirm", "not-the-name")
    page.click("text=Drop scratch")
    assert "type the table's name" in page.inner_text("main")
    page.goto(portals["ngo_a"].url + "/tables/scratch")
    page.fill("#confirm", "scratch")
    tab_to(page, "form[action$='/drop'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tables$"))
    assert "scratch" not in {t.name for t in s.tables()}


def test_the_report_command_writes_the_same_report_from_the_shell_once_approved(
    portals: dict[str, Portal], police_list: None, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from sharelake.cli.main import app

    cons = str(portals["analyst"].session.consortium.path)
    base = ["report", "monitoring", "--as", "analyst", "--consortium", cons]
    run = CliRunner().invoke
    # the overlap was approved in the portal (same plan, same hash): it runs
    done = run(app, [*base, "--lists", "ngo_a_list_keys,police_list_keys", "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    html_text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Overlap of ngo_a_list_keys, police_list_keys" in html_text
    assert "Population estimate" in html_text and "<script" not in html_text
    # a count nobody approved is not run; --request files it for the owners
    waiting = run(app, [*base, "--cases", "police_list", "--by", "sex", "--out", str(tmp_path)])
    assert waiting.exit_code == 1 and "needs the owners' approval (not requested)" in waiting.output
    filed = run(
        app,
        [
            *base,
            "--cases",
            "police_list",
            "--by",
            "sex",
            "--request",
            "--explanation",
            "sex of the persons, for the annual report",
        ],
    )
    assert filed.exit_code == 1 and "filed for the owners" in filed.output
    police = portals["police"].session
    assert any(
        r["explanation"] == "sex of the persons, for the annual report" for r in police.approvals()
    )
