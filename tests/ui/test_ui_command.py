"""`cpmsurvey ui`: the server it becomes, on 127.0.0.1, with the CLI's settings passed on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from served_app import free_port

from app.interfaces.ui import APP_SCRIPT
from app.interfaces.ui.launch import settings_environment, streamlit_command
from app.settings import load_settings


def test_the_command_serves_the_app_headless_on_localhost():
    command = streamlit_command(8600)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8600"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert options["--client.showErrorDetails"] == "none"


def test_cli_settings_reach_the_app_as_its_environment(tmp_path):
    config = tmp_path / "cpmsurvey.toml"
    config.write_text('[llm]\nbackend = "openai"\n', encoding="utf-8")
    overrides = {"llm.model": "served-name", "generate.sections": 6, "generate.categories": ["cs.CL", "cs.LG"]}
    environment = settings_environment(config, overrides)
    # the app's process reads them as any process does: the file named by CPMSURVEY_CONFIG, then variables
    loaded = load_settings(environ=environment, config_file=Path(environment["CPMSURVEY_CONFIG"]))
    assert loaded.settings.llm.backend == "openai" and loaded.settings.llm.model == "served-name"
    assert loaded.settings.generate.sections == 6 and loaded.settings.generate.categories == ["cs.CL", "cs.LG"]


@pytest.mark.slow
def test_cpmsurvey_ui_answers_on_the_port_it_was_given(tmp_path):
    port = free_port()
    cpmsurvey = Path(sys.executable).with_name("cpmsurvey")
    environment = {**os.environ, "CPMSURVEY_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [str(cpmsurvey), "ui", "--port", str(port)], cwd=tmp_path, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                    assert answer.read() == b"ok"
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "cpmsurvey ui did not answer within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/host-config", timeout=5) as answer:
            json.loads(answer.read())
    finally:
        process.send_signal(signal.SIGTERM)  # the CLI became the server: the signal reaches it
        assert process.wait(20) is not None
