"""The web app in Debian's chromium on the 5,000-paper sample library: how long each page
takes to its first render, and how long from clicking "Write survey" to the first progress
event shown on the page.

    .venv/bin/python bench/ui_browser.py [--workdir /tmp/cpmsurvey-ui-bench] [--repeats 3]

The app is served as `cpmsurvey ui` serves it (streamlit run, 127.0.0.1) over a data folder
holding the sample, ingested and embedded once (kept in --workdir for later runs: setup_s
says what that cost). The model is bench/scripted_openai_server.py (0.3 s an answer): the
figures measure the app, not a model. Page load: from navigation start to the page's
heading, and for the Library page to its two charts; "cold" is the first view after the
server started (the library opens then), "warm" the median of --repeats later views.
First progress: from the click to the status panel's first line drawn from a workflow event
(the library check, then planning). Screenshots of each page go to --workdir/screenshots.
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "ui"))  # the served-app and chromium helpers of the browser test

from scripted_openai_server import MODEL, ScriptedServer  # noqa: E402
from served_app import browser_missing, chromium_page, served_app  # noqa: E402

from app.settings import Settings  # noqa: E402
from app.workflow import open_library  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"
# (name, path under the app's address, heading); New survey is the default page, at "/".
PAGES = [("new_survey", "", "New survey"), ("result", "result", "Result"), ("library", "library", "Library"),
         ("history", "history", "History"), ("evaluate", "evaluate", "Evaluate")]  # fmt: skip
# The status panel's label once an event has arrived: the step in progress ("... ..."), or done.
FIRST_EVENT = re.compile(
    r"(updating the index|embedding papers|ingesting|fetching papers|planning|retrieving|writing|checking|assembling)"
    r"[^\n]* \.\.\.|: complete"
)
TIMEOUT_MS = 300_000


def build_library(data_dir: Path) -> float:
    """Ingest and embed the sample into `data_dir` unless done before; seconds spent."""
    started = time.perf_counter()
    library = open_library(Settings(data_dir=data_dir, retrieval={"embedding_backend": "torch"}))
    try:
        library.ingest_jsonl(SAMPLE)
        library.update_index(show_progress=True)
        papers = library.stats()["papers"]
    finally:
        library.close()
    print(f"library: {papers} papers in {data_dir}", file=sys.stderr)
    return time.perf_counter() - started


def navigation_ms(page, url: str, heading: str, then: str | None = None) -> float:
    """Milliseconds from navigation start to `heading` (and `then`, when given) being visible."""
    started = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for()
    if then:
        page.get_by_text(then).first.wait_for()
    return 1000 * (time.perf_counter() - started)


def measure(url: str, repeats: int, shots: Path) -> dict:
    figures: dict = {"cold_ms": {}, "warm_ms": {}}
    with chromium_page() as page:
        page.set_default_timeout(TIMEOUT_MS)
        for name, path, heading in PAGES:
            then = "Papers by month" if name == "library" else None
            figures["cold_ms"][name] = round(navigation_ms(page, f"{url}/{path}", heading, then))
            warm = [navigation_ms(page, f"{url}/{path}", heading, then) for _ in range(repeats)]
            figures["warm_ms"][name] = round(statistics.median(warm))
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.goto(url)
        page.get_by_role("textbox", name="Topic").fill("reinforcement learning for large language model reasoning")
        clicked = time.perf_counter()
        page.get_by_role("button", name="Write survey").click()
        page.locator('[data-testid="stExpander"] summary').filter(has_text=FIRST_EVENT).first.wait_for()
        figures["click_to_first_event_ms"] = round(1000 * (time.perf_counter() - clicked))
        page.screenshot(path=str(shots / "new_survey_running.png"), full_page=True)
        page.get_by_text("Open the result").wait_for(timeout=3 * TIMEOUT_MS)
        figures["click_to_finished_s"] = round(time.perf_counter() - clicked, 1)
        page.screenshot(path=str(shots / "new_survey_finished.png"), full_page=True)
        page.get_by_text("Open the result").click()
        page.locator("span.cite > a").first.wait_for()
        page.locator("span.cite > a").first.hover()
        page.screenshot(path=str(shots / "result_hover.png"), full_page=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cpmsurvey-ui-bench"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if why := browser_missing():
        sys.exit(f"cannot run: {why}")
    data_dir = args.workdir / "data"
    shots = args.workdir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    setup_s = build_library(data_dir)
    for old in (data_dir / "runs.sqlite", data_dir / "runs.sqlite-wal", data_dir / "runs.sqlite-shm"):
        old.unlink(missing_ok=True)  # each bench run starts with no runs in History
    with ScriptedServer(delay=0.3) as server:
        environment = {
            "CPMSURVEY_DATA_DIR": str(data_dir),
            "CPMSURVEY_LLM__BACKEND": "openai",
            "CPMSURVEY_LLM__BASE_URL": server.base_url,
            "CPMSURVEY_LLM__MODEL": MODEL,
            "CPMSURVEY_RETRIEVAL__EMBEDDING_BACKEND": "torch",
            "HF_HUB_OFFLINE": "1",
        }
        with served_app(environment, args.workdir / "streamlit.log") as url:
            figures = measure(url, args.repeats, shots)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "")
    figures.update(
        setup_s=round(setup_s, 1),
        library_papers=5000,
        screenshots=sorted(str(path) for path in shots.glob("*.png")),
        load_average=[round(x, 2) for x in os.getloadavg()],
        machine=f"{model}, {os.cpu_count()} cores, {platform.python_version()}",
        date=datetime.now(UTC).isoformat(timespec="minutes"),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
