"""Take a PNG screenshot of a Snakemake report in headless Chromium (for docs/).

Usage: .venv/bin/python tools/report_screenshot.py results/report.html docs/report.png
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright


def main(report: str, png: str, category: str | None = None) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=exe,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.goto(Path(report).resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(1000)
        if category:
            page.get_by_text(category).first.click()
            page.wait_for_timeout(800)
        page.screenshot(path=png)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
