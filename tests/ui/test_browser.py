"""The app in a real browser: served on 127.0.0.1 by `streamlit run` (the command `cpmsurvey
ui` runs), driven by Playwright on Debian's chromium. Each page loads and shows what a person
sees; a survey written through the form has citation links to arxiv.org/abs/ID whose card
shows the paper's abstract on hover, and whose reference expands to the abstract.
Screenshots of each page are saved under the test's folder and their paths printed."""

from __future__ import annotations

import json
import re

import pytest
from served_app import app_environment, browser_missing, chromium_page, served_app

expect = pytest.importorskip("playwright.sync_api").expect if browser_missing() is None else None

pytestmark = [pytest.mark.slow, pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))]

TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 400_000  # a whole run on a busy 2-core machine
ARXIV_LINK = re.compile(r"^https://arxiv\.org/abs/(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")


@pytest.fixture()
def app_url(tmp_path, built_library, scripted_server):
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(built_library, data_dir)
    environment = app_environment(data_dir, scripted_server)
    with served_app(environment, tmp_path / "streamlit.log") as url:
        yield url, data_dir


def _shoot(page, folder, name: str, shots: list) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shots.append(path)
    print(f"screenshot: {path}")


def test_every_page_in_chromium_and_a_survey_with_arxiv_links(app_url, tmp_path):
    url, data_dir = app_url
    shots_dir = tmp_path / "screenshots"
    shots_dir.mkdir()
    shots: list = []
    with chromium_page() as page:
        page.set_default_timeout(TIMEOUT_MS)
        for path, heading in [("library", "Library"), ("history", "History"), ("evaluate", "Evaluate")]:
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=heading).wait_for()
            expect(page).to_have_title(f"{heading} · cpmsurvey")
            if path == "library":
                page.get_by_text("Papers by month").wait_for()
                page.get_by_role("button", name="Search").wait_for()
            if path == "evaluate":  # the page's last element: the shot shows it whole
                page.get_by_text("No evaluation report").wait_for()
            _shoot(page, shots_dir, path, shots)

        page.goto(url)
        page.get_by_role("heading", name="New survey").wait_for()
        expect(page).to_have_title("New survey · cpmsurvey")
        topic = page.get_by_role("textbox", name="Topic")
        topic.wait_for()
        page.get_by_role("button", name="Write survey").wait_for()  # may render after the textbox
        _shoot(page, shots_dir, "new_survey_form", shots)
        topic.fill("reasoning in large language models")
        page.get_by_role("button", name="Write survey").click()
        page.get_by_text("Open the result").wait_for(timeout=RUN_TIMEOUT_MS)
        _shoot(page, shots_dir, "new_survey_finished", shots)

        page.get_by_text("Open the result").click()
        page.get_by_role("heading", name="References").wait_for()
        run_id = re.search(r"run=([^&]+)", page.url).group(1)
        survey = json.loads((data_dir / "outputs" / run_id / "survey.json").read_text(encoding="utf-8"))
        links = page.locator("span.cite > a")
        links.first.wait_for()
        assert links.count() >= 2
        hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
        assert all(ARXIV_LINK.match(href) for href in hrefs), hrefs
        assert {href.rsplit("/", 1)[1] for href in hrefs} == set(survey["references"])

        first = links.first
        cited = next(p for p in survey["papers"] if p["id"] == first.get_attribute("data-arxiv-id"))
        card = page.locator("span.cite").first.locator(".cite-card")
        assert not card.is_visible()
        first.hover()
        card.wait_for(state="visible")
        assert cited["abstract"][:50] in card.inner_text()
        _shoot(page, shots_dir, "result_hover_card", shots)

        page.get_by_text("[1] abstract and link").click()
        page.get_by_text(cited["abstract"][:50]).last.wait_for(state="visible")
        for label in ("Markdown", "BibTeX", "LaTeX", "JSON"):
            assert page.get_by_role("button", name=label).is_visible()
        _shoot(page, shots_dir, "result", shots)

        page.goto(f"{url}/history")
        page.get_by_role("heading", name="History").wait_for()
        page.get_by_text(run_id).first.wait_for()
        _shoot(page, shots_dir, "history_with_run", shots)
    assert all(path.stat().st_size > 10_000 for path in shots)
