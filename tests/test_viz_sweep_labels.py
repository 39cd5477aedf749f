"""`dcsim plot` on a sweep whose parameter values are inline mappings (issue 19.3): short stable
labels, a legend with the full values, and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from dcsim.cli import app
from dcsim.resources import find_bundled

FABRIC = {
    "kind": "leaf_spine",
    "leaves": 8,
    "hosts_per_leaf": 32,
    "host_link_gbps": 400,
}


def run_sweep(tmp_path: Path, topologies: list[dict]) -> Path:
    base = find_bundled("scenarios", Path("training_base.yaml"), ("sweeps",))
    sweep = {
        "name": "inline-fabrics",
        "base": str(base),
        "method": "grid",
        "parameters": {"cluster.hardware": ["H100-SXM", "B200"], "cluster.topology": topologies},
        "steps": 4,
    }
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump(sweep, sort_keys=False))
    res = CliRunner().invoke(app, ["sweep", str(f), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    return tmp_path / "out" / "inline-fabrics"


def plot(sweep_dir: Path) -> dict:
    res = CliRunner().invoke(app, ["plot", str(sweep_dir), "--json"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    return json.loads(res.stdout)


def test_mapping_values_without_names_get_numbered_labels_and_a_legend(tmp_path):
    a = FABRIC | {"spines": 4, "oversubscription": 1.0}
    b = FABRIC | {"spines": 2, "oversubscription": 2.0}
    out = plot(run_sweep(tmp_path, [a, b]))
    assert out["labels"]["cluster.topology"] == {"topology#1": a, "topology#2": b}
    # every Pareto label uses the short label, never the raw JSON of the mapping
    for p in out["pareto"]:
        assert "{" not in p["label"] and "topology#" in p["label"]
    assert Path(out["png"]).stat().st_size > 10_000


def test_named_mappings_are_labelled_by_their_name(tmp_path):
    a = FABRIC | {"name": "ls-1to1", "spines": 4, "oversubscription": 1.0}
    b = FABRIC | {"name": "ls-2to1", "spines": 2, "oversubscription": 2.0}
    out = plot(run_sweep(tmp_path, [a, b]))
    assert set(out["labels"]["cluster.topology"]) == {"ls-1to1", "ls-2to1"}
    # both fabrics and both chips show up in the figure data: 4 runs, markers per fabric
    assert out["runs"] == 4
