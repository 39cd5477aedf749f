"""Long commands report counted progress (issue 19.6): the library calls behind
`reproduce polca`, `cooling year`, `evaluate` and `compare` announce a total and count up to it."""

from __future__ import annotations


class Recorder:
    def __init__(self):
        self.total = None
        self.steps: list[int] = []

    def start(self, _label: str, total: int) -> None:
        self.total = total

    def step(self, k: int, *_: object) -> None:
        self.steps.append(k)

    def check(self) -> None:
        assert self.total is not None and self.total >= 1
        assert self.steps == sorted(self.steps) and self.steps[-1] == self.total


def test_cooling_year_counts_hours():
    from dcsim.cooling_study import plant_year

    rec = Recorder()
    plant_year(days=3, on_start=rec.start, on_step=rec.step)
    assert rec.total == 72
    rec.check()


def test_cooling_compare_counts_plants():
    from dcsim.cooling_study import compare_plants

    rec = Recorder()
    rows = compare_plants(days=1, on_start=rec.start, on_step=rec.step)
    assert rec.total == len(rows) == 8
    rec.check()


def test_polca_reproduction_counts_server_counts():
    from dcsim.polca import reproduce_paper

    rec = Recorder()
    report = reproduce_paper(
        hours=0.1, max_extra=10, step=10, quick=True, on_start=rec.start, on_step=rec.step
    )
    assert rec.total == len(report.rows) == 2
    rec.check()


def test_evaluate_and_compare_count_episodes(tmp_path):
    from dcsim.rl import compare_agents, evaluate_agent

    rec = Recorder()
    evaluate_agent(
        "random",
        "scenarios/tasks/flowsplit.yaml",
        episodes=3,
        max_steps=2,
        on_start=rec.start,
        on_episode=rec.step,
    )
    assert rec.total == 3
    rec.check()
    rec = Recorder()
    compare_agents(
        ["random", "ecmp"],
        "scenarios/tasks/flowsplit.yaml",
        seeds=2,
        max_steps=2,
        out=tmp_path,
        plot=False,
        on_start=rec.start,
        on_episode=rec.step,
    )
    assert rec.total == 4
    rec.check()


def test_sweep_planning_counts_points(tmp_path):
    """Planning validates and builds every run's scenario (~5 s for the README's 90-run
    codesign sweep, also with --dry-run): it counts the points it has checked."""
    import yaml

    from dcsim.sweep import sweep_file

    base = "scenarios/sweeps/training_base.yaml"
    f = tmp_path / "s.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "name": "p",
                "base": str(__import__("pathlib").Path(base).resolve()),
                "parameters": {
                    "cluster.hardware": ["H100-SXM", "B200"],
                    "cooling.type": ["air", "liquid"],
                },
                "seeds": [0, 1],
            }
        )
    )
    rec = Recorder()
    sr = sweep_file(f, dry_run=True, on_plan_start=rec.start, on_plan_step=rec.step)
    assert rec.total == 4 and len(sr.plan.runs) == 8  # points, each with two seeds
    rec.check()
