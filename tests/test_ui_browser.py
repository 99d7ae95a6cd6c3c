"""The Dagster UI tells the story: after a sample build and a blocked day, headless Chromium
opens the asset graph and the blocked check's page. Screenshots land in .test-artifacts/ui/."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / ".test-artifacts" / "ui"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    from pipeline.cli.build import run_build
    from pipeline.synth.generate import write_landing

    home = tmp_path_factory.mktemp("ui") / "home"
    saved = {k: os.environ.get(k) for k in ("PREFLINE_HOME", "DAGSTER_HOME")}
    os.environ["PREFLINE_HOME"], os.environ["DAGSTER_HOME"] = str(home), str(home / "dagster")
    write_landing(home / "landing", n=300, days=1, start=date(2026, 11, 1), seed=3)
    assert run_build(["2026-11-01"]).success
    broken = home / "landing" / "2026-11-02"
    broken.mkdir()
    (broken / "events.jsonl").write_text("\n".join('{"event_id": "x' + str(i) for i in range(50)) + "\n")
    assert not run_build(["2026-11-02"]).success
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
         "-m", "pipeline.definitions"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2) as r:
                    json.loads(r.read())
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("dagster-webserver did not start") from None
                time.sleep(1)
        yield base
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        yield context.new_page()
        browser.close()


def test_asset_graph_shows_every_stage(ui, page):
    page.goto(f"{ui}/asset-groups", wait_until="networkidle")
    page.wait_for_timeout(3000)
    page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)
    text = page.inner_text("body")
    for group in ("capture", "staging", "filtering", "template_normalization", "dedup", "pair_construction",
                  "judge_labeling", "upsampling", "final_preference_set"):
        assert group in text, group


def test_blocked_check_page_names_the_failing_gate(ui, page):
    page.goto(f"{ui}/assets/raw_feedback_events?view=checks", wait_until="networkidle")
    page.wait_for_timeout(3000)
    page.screenshot(path=str(ARTIFACTS / "blocked-check.png"), full_page=True)
    text = page.inner_text("body")
    assert "gate_quarantine_share" in text
    assert "Failed" in text or "failed" in text
