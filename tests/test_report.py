"""`dcsim report` (issue 18.6): one self-contained HTML page per run or sweep, checked as text
and rendered in headless Chromium (skipped when /usr/bin/chromium is absent)."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.sweep import plan_sweep, run_sweep
from dcsim.viz.report import pareto_front, render_report

runner = CliRunner()
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    spec = {
        "name": "pick",
        "steps": 3,
        "linked": [{"cluster.hardware": ["H100-SXM", "H200"], "cooling.type": ["air", "liquid"]}],
        "parameters": {"cluster.topology": ["leaf_spine_256.yaml", "leaf_spine_256_oversub4.yaml"]},
    }
    f = tmp / "pick.yaml"
    f.write_text(yaml.safe_dump(spec, sort_keys=False))
    run_sweep(plan_sweep(f), tmp / "out")
    return tmp / "out" / "pick"


def test_pareto_front_is_the_non_dominated_set():
    pts = [(1, 5, 5), (2, 2, 2), (3, 3, 3), (5, 1, 5), (2, 2, 2.5), (1, 5, 6)]
    # (3,3,3) is dominated by (2,2,2); (2,2,2.5) too; (1,5,6) by (1,5,5)
    assert pareto_front(pts) == [0, 1, 3]
    assert pareto_front([(1, 1, 1), (1, 1, 1)]) == [0, 1]  # ties dominate nobody


def test_report_is_self_contained_with_figures_tables_sources_and_config(sweep_dir):
    page = render_report(sweep_dir)
    # no external fetch: no http(s) src/href, no <script src>, no <link> stylesheet
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    imgs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(imgs) == 2  # Pareto front and cost breakdown
    for b in imgs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.count('<tr class="front">') >= 1  # at least one design on the front
    rows = re.findall(r"<tr class=\"(?:front)?\"><td>(\d+)</td>", page)
    assert rows == ["1", "2", "3", "4"]
    # linked group labelled together with the varying topology
    assert "leaf_spine_256_oversub4 | H200 / liquid" in page
    # assumptions: hardware sources, price book, rack limit source; and the sweep file itself
    assert "NVIDIA H200 datasheet" in page and "Price book" in page
    assert "rack power limit" in page and "415 V" in page
    assert "linked:" in page and "resolved config of" in page
    assert "Cheapest per run" in page


def test_report_of_a_single_run_and_the_cli(tmp_path, sweep_dir):
    res = runner.invoke(
        app, ["run", "--steps", "2", "--no-plot", "--out", str(tmp_path / "r"), "--json"]
    )
    assert res.exit_code == 0, res.output
    import json

    run_dir = Path(json.loads(res.stdout)["run_dir"])
    out = tmp_path / "page.html"
    res = runner.invoke(app, ["report", str(run_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "run " + run_dir.name in page and "Hardware profile H100-SXM" in page
    bad = runner.invoke(app, ["report", str(tmp_path)])
    assert bad.exit_code == 2 and "not a run directory" in bad.output


def _without_cost_keys(sweep_dir: Path, dest: Path) -> Path:
    """A copy of the sweep whose run summaries predate the cost model (no cost keys)."""
    import json
    import shutil

    shutil.copytree(sweep_dir, dest)
    for f in dest.rglob("summary.json"):
        summary = json.loads(f.read_text())
        keep = {k: v for k, v in summary.items() if "usd" not in k and "kgco2e" not in k}
        f.write_text(json.dumps(keep))
    return dest


def test_report_computes_cost_for_summaries_without_it(tmp_path, sweep_dir):
    page = render_report(_without_cost_keys(sweep_dir, tmp_path / "old"))
    assert "computed by the report" in page
    assert "computed by the report" not in render_report(sweep_dir)  # runs carry their cost


def test_report_says_when_cost_is_missing(tmp_path, sweep_dir, monkeypatch):
    import dcsim.cost as cost

    monkeypatch.setattr(cost, "cost_report", lambda *a, **k: None)
    page = render_report(_without_cost_keys(sweep_dir, tmp_path / "old"))
    assert "no server price" in page and "cannot be drawn" in page
    assert page.count("data:image/png") == 0  # no figure drawn from missing numbers


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium (/usr/bin/chromium) absent")
def test_report_renders_in_headless_chromium(sweep_dir, tmp_path):
    page = sweep_dir / "report.html"
    res = runner.invoke(app, ["report", str(sweep_dir)])
    assert res.exit_code == 0 and page.is_file()
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [str(CHROMIUM), *FLAGS, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<img alt="') == 2 and 'id="runs"' in dom.stdout
    assert "Assumptions and their sources" in dom.stdout
    for bad in ("Uncaught", ":CONSOLE(", "Failed to load resource", "net::ERR_"):
        assert bad not in dom.stderr, dom.stderr[-2000:]
    shot = tmp_path / "page.png"
    subprocess.run(
        [str(CHROMIUM), *FLAGS, "--window-size=1280,2600", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    saturated = (px.max(axis=2) - px.min(axis=2)) > 80  # coloured plot marks and bars
    assert saturated.mean() > 0.005, "the embedded figures did not render"


def test_report_prefers_the_cost_keys_of_the_run_summary(tmp_path, sweep_dir):
    """Runs whose summary carries the cost model's keys are taken as they are."""
    import json
    import shutil

    copy = tmp_path / "pick"
    shutil.copytree(sweep_dir, copy)
    for f in copy.glob("runs/*/summary.json"):
        s = json.loads(f.read_text())
        s.update(
            {
                "cost_usd_per_training_run": 1.0e6,
                "training_run_hours": 48.0,
                "carbon_kgco2e_per_training_run": 2.0e5,
                "cost_usd_per_accel_hour": 2.0,
                "capex_usd": 5.0e7,
                "capex_servers_usd": 4.0e7,
            }
        )
        f.write_text(json.dumps(s))
    page = render_report(copy)
    assert "computed by the report" not in page
    assert "$1.00 M per run, 2.0 days, 200 tCO2e" in page
    assert page.count("data:image/png") == 2  # Pareto front and the breakdown from summary keys


def test_report_counts_runs_read_and_figures_drawn(sweep_dir, tmp_path):
    """Issue 19.6: `dcsim report` on the README's 90-run sweep takes ~15 s; it reports
    counted progress: every run read, then every figure drawn."""
    from dcsim.viz.report import write_report

    tasks: list[tuple[str, int]] = []
    steps: list[list[int]] = []

    def start(label: str, total: int) -> None:
        tasks.append((label, total))
        steps.append([])

    write_report(
        sweep_dir, tmp_path / "r.html", on_start=start, on_step=lambda k: steps[-1].append(k)
    )
    assert [t for _, t in tasks] == [4, 2]  # 4 runs, then 2 figures
    assert steps == [[1, 2, 3, 4], [1, 2]]
