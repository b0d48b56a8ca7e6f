"""The app served for real (`streamlit run` on 127.0.0.1, as `cpmsurvey ui` does) and Debian's
chromium driven by Playwright (never a browser Playwright downloads). Used by the browser
test and by bench/ui_browser.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from ui_scripted_server import MODEL

from app.interfaces.ui.launch import HOST, streamlit_command

CHROMIUM = Path(os.environ.get("CPMSURVEY_CHROMIUM", "/usr/bin/chromium"))
# Flags that let Debian's chromium run headless in a container without a GPU or network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if not CHROMIUM.is_file() and shutil.which(str(CHROMIUM)) is None:
        return f"no chromium at {CHROMIUM} (CI installs it with apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def app_environment(data_dir: Path, server) -> dict[str, str]:
    """The settings, as environment variables, that point the app at `data_dir` and `server`."""
    return {
        "CPMSURVEY_DATA_DIR": str(data_dir),
        "CPMSURVEY_LLM__BACKEND": "openai",
        "CPMSURVEY_LLM__BASE_URL": server.base_url,
        "CPMSURVEY_LLM__MODEL": MODEL,
        "CPMSURVEY_LLM__MAX_RETRIES": "0",
        "CPMSURVEY_RETRIEVAL__EMBEDDING_BACKEND": "torch",
        "CPMSURVEY_GENERATE__SECTIONS": "3",
        "CPMSURVEY_GENERATE__WORDS_PER_SECTION": "80",
        "CPMSURVEY_GENERATE__CANDIDATES": "40",
        "HF_HUB_OFFLINE": "1",
    }


@contextmanager
def served_app(environment: dict[str, str], log_path: Path):
    """Serve the app with `environment` added to this process's; yields its URL."""
    port = free_port()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            streamlit_command(port),
            env={**os.environ, **environment},
            cwd=log_path.parent,  # no cpmsurvey.toml of the checkout is read
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://{HOST}:{port}"
        try:
            _wait_healthy(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer at {url} within {START_SECONDS} s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def chromium_page(viewport=(1400, 1000)):
    """A Playwright page in Debian's chromium, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()
