"""Start-up cost (issue 17.5): building any env must not import scipy.signal, matplotlib,
networkx or scipy.sparse.csgraph.

`import scipy.signal` alone costs ~1-2 s CPU (its lfilter was replaced by `dcsim.stochastic.ar1`);
matplotlib belongs to `dcsim.viz` only; networkx (~0.1 s) serves `Fabric.graph()` (inspection)
only; csgraph (~0.1 s over scipy.sparse) found connected parts, now
`topology.component_labels` (tested equal below). Checked in a fresh interpreter through
sys.modules, not by timing (no timed asserts in tests). The replacements are tested against
what they replace: component labels against csgraph, libyaml against the pure-Python loader.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim import jit, schema
from dcsim.network import load_topology
from dcsim.network.topology import component_labels, list_presets
from dcsim.resources import bundled_dir

ENVS = ("Cooling", "Datacenter", "PowerCap", "Placement", "FlowSplit", "CoDesign")
HEAVY = ("scipy.signal", "matplotlib", "networkx", "scipy.sparse.csgraph")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_envs_is_light() -> None:
    mods = _modules_after("import dcsim.envs")
    assert not [m for m in HEAVY if m in mods]


@pytest.mark.parametrize("env", ENVS)
def test_make_and_reset_is_light(env: str) -> None:
    mods = _modules_after(
        "import gymnasium as gym, dcsim.envs\n"
        f"e = gym.make('dcsim/{env}-v0')\ne.reset(seed=0)\ne.step(e.action_space.sample())"
    )
    assert not [m for m in HEAVY if m in mods], [m for m in HEAVY if m in mods]


NUMBA_ON = pytest.mark.skipif(not jit.jit_enabled(), reason="numba not installed or DCSIM_NO_JIT")


@NUMBA_ON
@pytest.mark.parametrize("env", ENVS)
def test_make_and_reset_do_not_load_numba(env: str) -> None:
    """Loading numba and its cached kernels costs ~0.5 CPU-s; building an env runs its few
    small kernel calls interpreted instead (`Kernel.runner`), so numba loads at the first
    step that needs it. scipy.sparse (~0.1 s) is imported where a matrix is built: by
    Datacenter-v0's and CoDesign-v0's collective timing (`route`), not by the other envs."""
    mods = _modules_after(
        f"import gymnasium as gym, dcsim.envs\ne = gym.make('dcsim/{env}-v0')\ne.reset(seed=0)"
    )
    assert "numba" not in mods
    if env not in ("Datacenter", "CoDesign"):
        assert "scipy.sparse" not in mods


_TRACE = (
    "import hashlib, numpy as np, gymnasium as gym, dcsim.envs, dcsim.jit\n"
    "{preload}"
    "e = gym.make('dcsim/{env}-v0')\n"
    "obs, _ = e.reset(seed=3)\n"
    "e.action_space.seed(5)\n"
    "h = hashlib.sha256()\n"
    "for _ in range(4):\n"
    "    obs, r, *_ = e.step(e.action_space.sample())\n"
    "    h.update(np.asarray(gym.spaces.flatten(e.observation_space, obs)).tobytes())\n"
    "    h.update(np.float64(r).tobytes())\n"
    "print(h.hexdigest())\n"
)


@NUMBA_ON
@pytest.mark.parametrize("env", ("Datacenter", "FlowSplit", "CoDesign", "Placement"))
def test_an_env_built_interpreted_equals_one_built_compiled(env: str) -> None:
    """The same env built with its start-up kernel calls interpreted (numba not loaded yet)
    and compiled (numba loaded first) steps bit for bit alike."""

    def digest(preload: str) -> str:
        code = _TRACE.format(env=env, preload=preload)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert digest("") == digest("assert dcsim.jit.numba_module()\n")


def test_the_cold_runner_is_the_interpreted_kernel_until_its_budget_is_spent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    k = jit.kernel(lambda x: x + 1)
    monkeypatch.setattr(jit, "_NUMBA", None)
    monkeypatch.setattr(jit, "jit_enabled", lambda: True)
    monkeypatch.setattr(jit, "_cold_spent", 0.0)
    assert k.runner(jit.COLD_WORK) == k._timed_py and k.runner(jit.COLD_WORK)(1) == 2
    monkeypatch.setattr(jit, "_NUMBA", False)  # numba off: the caller's NumPy path
    assert k.runner(1) is None
    monkeypatch.setattr(jit, "_NUMBA", None)
    monkeypatch.setattr(jit, "_cold_spent", jit.COLD_BUDGET_S)  # budget spent: compile
    monkeypatch.setattr(jit, "numba_module", lambda: False)
    assert k.runner(1) is None


def test_scenario_grid_carbon_does_not_import_the_engine() -> None:
    """dcsim.tenancy exports lazily: the grid's carbon table alone stays light."""
    mods = _modules_after("import dcsim.tenancy.grid")
    assert "dcsim.tenancy.engine" not in mods and "dcsim.polca" not in mods
    import dcsim.tenancy as tenancy

    for name in tenancy.__all__:  # every export still resolves to its submodule's object
        assert getattr(tenancy, name) is getattr(
            __import__(f"dcsim.tenancy.{tenancy._WHERE[name]}", fromlist=[name]), name
        )


def _csgraph_labels(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)))
        )
    )
)
def test_component_labels_equal_csgraph(graph: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = graph
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    assert np.array_equal(component_labels(n, u, v), _csgraph_labels(n, u, v))


def test_component_labels_long_chain_and_presets() -> None:
    """A shuffled 20k-node chain (worst case for hooking) and every bundled fabric."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(20_000)
    u, v = perm[:-1], perm[1:]
    got = component_labels(20_000, u, v)
    assert np.array_equal(got, _csgraph_labels(20_000, u, v)) and got.max() == 0
    for preset in list_presets():
        f = load_topology(preset)
        keep = rng.random(f.n_links) > 0.5  # also cut into parts
        u, v = f.link_src[keep], f.link_dst[keep]
        assert np.array_equal(
            component_labels(f.n_nodes, u, v), _csgraph_labels(f.n_nodes, u, v)
        ), preset.name


LIBYAML = pytest.mark.skipif(
    schema._LOADER is yaml.SafeLoader, reason="libyaml >= 0.2.5 not installed"
)


def _bundled_yaml() -> list[Path]:
    """Scenarios, sweeps, tasks, topologies and everything under dcsim/data (hardware...)."""
    data = Path(schema.__file__).parent / "data"
    roots = (bundled_dir("scenarios"), bundled_dir("topologies"), data)
    return sorted({p for r in roots for p in r.rglob("*.yaml")})


@LIBYAML
def test_libyaml_loads_every_bundled_file_as_the_python_loader() -> None:
    files = _bundled_yaml()
    assert len(files) > 20
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert schema._load_limited(text) == schema._load_limited(text, yaml.SafeLoader), f


@pytest.mark.parametrize(
    "text, expect",
    [("a: !\n", {"a": None}), ("a: 1\t\n", "found character '\\t'"), ("a: |#\n", "chomping")],
)
def test_a_users_file_keeps_the_python_loader(tmp_path: Path, text: str, expect: object) -> None:
    """Where libyaml reads odd text differently (a bare `!` as '', tabs, `|#` accepted),
    a file outside the shipped folders loads as it always did."""
    f = tmp_path / "odd.yaml"
    f.write_text(text)
    assert not schema._shipped(f)
    if isinstance(expect, dict):
        assert schema.read_yaml(f) == expect
    else:
        with pytest.raises(schema.InputError, match="invalid YAML at line 1") as err:
            schema.read_yaml(f)
        assert str(expect) in str(err.value)


def test_shipped_files_are_recognised() -> None:
    files = _bundled_yaml()
    assert all(schema._shipped(f) for f in files)


@pytest.mark.parametrize(
    "text, line",
    [
        ("cluster: {servers: 4\n  bad", 2),
        ("a: 1\n  b: 2\n", 2),
        ("a: &x 1\nb: [*x, *y]\n", 2),
        ("x: !!python/object/apply:os.system ['echo pwned']\n", 1),
    ],
)
def test_invalid_yaml_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(schema.InputError, match=f"invalid YAML at line {line}") as err:
        schema.read_yaml(f)
    assert err.value.file == str(f)


def test_grid_carbon_table_equals_the_csv_module_reading() -> None:
    """np.loadtxt (C) gives the same float64 values, bit for bit, as float() over csv rows."""
    import csv

    from dcsim.tenancy.grid import GRID_FILE, REGIONS, carbon_table

    with GRID_FILE.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(ln for ln in fh if not ln.startswith("#")))
    table = carbon_table()
    assert list(table) == list(REGIONS)
    for r in REGIONS:
        want = np.array([float(x[r]) for x in rows])
        assert table[r].shape == (8760,) and np.array_equal(table[r], want), r


def test_hardware_names_read_from_the_name_line_are_the_validated_names() -> None:
    """profile_files() reads names without parsing YAML; they must be the profiles' own."""
    from dcsim.hardware import HARDWARE_DIR, HardwareProfile, profile_files

    files = sorted(HARDWARE_DIR.glob("*.yaml"))
    want = {schema.load_model(HardwareProfile, f).name: f for f in files}
    assert list(profile_files().items()) == list(want.items())


def test_a_run_reads_only_the_hardware_profile_it_uses() -> None:
    code = (
        "from dcsim import hardware, schema\n"
        "seen = []\n"
        "real = schema.load_model\n"
        "def spy(model, path):\n"
        "    seen.append(path)\n"
        "    return real(model, path)\n"
        "hardware.load_model = spy\n"
        "hardware.get_profile('h100-sxm'); hardware.get_profile('H100-SXM')\n"
        "print(len(seen))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_name_line_quotes_and_comments() -> None:
    from dcsim.hardware import _NAME_LINE

    for line, name in [
        ("name: H100-SXM\n", "H100-SXM"),
        ("name: 'GB200'  # NVL72\n", "GB200"),
        ('name: "MI300X"\n', "MI300X"),
    ]:
        m = _NAME_LINE.search("kind: hardware\n" + line + "vendor: x\n")
        assert m is not None and m.group(2) == name
    assert _NAME_LINE.search("training:\n  name: nested\n") is None
