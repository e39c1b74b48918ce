"""The HTML report in a real (headless) browser: loads offline, without errors, complete."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def browser_unavailable() -> str | None:
    if CHROMIUM is None:
        return "no chromium executable (Debian package chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


REASON = browser_unavailable()
skip_no_browser = pytest.mark.skipif(REASON is not None, reason=f"no browser: {REASON}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = {"console": [], "failed": [], "remote": []}
    page.on("console", lambda m: problems["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems["console"].append(str(e)))
    page.on("requestfailed", lambda r: problems["failed"].append(f"{r.url[:120]} {r.failure}"))
    page.on(
        "request",
        lambda r: (
            problems["remote"].append(r.url[:120])
            if r.url.startswith(("http:", "https:"))
            else None
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(1000)
    return page, problems


@skip_no_browser
def test_report_loads_offline_without_errors(browser, bulk_demo_run, tmp_path):
    report = bulk_demo_run / "results" / "report.html"
    page, problems = open_page(browser, report)
    assert problems == {"console": [], "failed": [], "remote": []}, problems
    nav = page.inner_text("body")
    for category in ("1. Bulk QC", "2. Bulk differential expression"):
        assert category in nav, nav[:2000]
    page.get_by_text("2. Bulk differential expression").first.click()
    page.wait_for_timeout(500)
    assert "pain_vs_sham" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert problems["console"] == [] and problems["failed"] == []


@skip_no_browser
def test_interactive_de_table_searches_and_sorts(browser, bulk_demo_run):
    table = bulk_demo_run / "results" / "bulk" / "de" / "pain_vs_sham.table.html"
    page, problems = open_page(browser, table)
    page.fill("#q", "Tiam1")
    page.wait_for_timeout(200)
    rows = page.locator("#body tr")
    assert rows.count() == 1
    assert "Tiam1" in rows.first.inner_text()
    page.fill("#q", "")
    page.locator("th", has_text="baseMean").click()
    first = float(page.locator("#body tr").first.locator("td").nth(2).inner_text())
    second = float(page.locator("#body tr").nth(1).locator("td").nth(2).inner_text())
    assert first <= second
    assert problems == {"console": [], "failed": [], "remote": []}, problems


@skip_no_browser
def test_start_page_shows_key_findings_and_heatmap_on_first_view(browser, bulk_demo_run):
    # The answer must be on the first screen a PI sees, before any click: the
    # key-findings sentences written from this run's rescue table and the NES heatmap.
    sentences = (bulk_demo_run / "results" / "key_findings.txt").read_text().splitlines()
    assert sentences, "the demo plants pathway changes; the findings table is empty"
    page, problems = open_page(browser, bulk_demo_run / "results" / "report.html")
    visible = page.inner_text("body")
    assert "Key findings" in visible and "Warnings" in visible
    for sentence in sentences:
        assert sentence in visible, (sentence, visible[:3000])
    # On the first screen, without scrolling: Snakemake centres an overflowing start page
    # vertically, cutting off its top, unless the workflow's report stylesheet is used.
    title = page.get_by_text("Key findings", exact=True).first.bounding_box()
    first = page.get_by_text(sentences[0]).first.bounding_box()
    assert 0 <= title["y"] < first["y"] < 900 - first["height"], (title, first)
    heatmap = page.locator("img[alt^='NES heatmap']")
    assert heatmap.count() == 1 and heatmap.first.is_visible()
    assert heatmap.first.evaluate("img => img.naturalWidth") > 100
    assert problems == {"console": [], "failed": [], "remote": []}, problems
