"""Content digests of every file a run reads, so a run's id changes when any input changes.

A scenario names files (topology, weather, carbon) and an agent may be a saved model; the run id
hashes the resolved scenario, so without these digests an edited topology or weather file would
land on the old id and `--resume` would reuse a stale result (issue 14). Files are resolved
exactly as the Simulation and the agent loader resolve them.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from dcsim.config import TOPOLOGY_DIR, LoadedScenario, resolve_path

_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (cached by path, size and mtime: sweeps read the same files)."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    if not stat.S_ISREG(st.st_mode):
        return "not a file"
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            return "unreadable"  # the loader that reads it reports the error
        _CACHE[key] = "sha256:" + h.hexdigest()
    return _CACHE[key]


def input_digests(loaded: LoadedScenario, agent: str | None = None) -> dict[str, str]:
    """Field path -> digest of each input file the run reads (hardware by its profile content)."""
    from dcsim.climate import resolve_climate_file
    from dcsim.errors import InputError
    from dcsim.hardware import get_profile
    from dcsim.network.topology import resolve_topology_path

    sc = loaded.scenario
    out: dict[str, str] = {}
    try:
        prof = get_profile(sc.cluster.hardware).model_dump_json()
        out["cluster.hardware"] = "sha256:" + hashlib.sha256(prof.encode()).hexdigest()
    except InputError:
        out["cluster.hardware"] = "missing"
    if isinstance(sc.cluster.topology, str):
        topo = resolve_path(sc.cluster.topology, loaded.base_dir, TOPOLOGY_DIR)
        out["cluster.topology"] = file_digest(resolve_topology_path(topo))
    for name, sub in (("weather", sc.climate.weather), ("carbon", sc.climate.carbon)):
        path = getattr(sub, "path", None)
        if getattr(sub, "source", None) == "file" and path:
            try:
                out[f"climate.{name}.path"] = file_digest(
                    resolve_climate_file(path, loaded.base_dir, name)
                )
            except InputError:
                out[f"climate.{name}.path"] = "missing"
    if agent and ":" in agent:
        model = Path(agent.split(":", 1)[1])
        out["agent"] = file_digest(model)
        norm = model.parent / "obs_norm.json"
        if norm.is_file():
            out["agent.obs_norm"] = file_digest(norm)
    return out
