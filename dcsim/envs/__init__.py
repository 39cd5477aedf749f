"""Gymnasium environments. Importing dcsim.envs registers every env id.

Every env follows `dcsim.envs.contract`: `Kwargs` (pydantic), `reward_weights`, declared
observation `features` and `METRICS` with their episode aggregation.

Besides the envs, each shipped task file (`scenarios/tasks/*.yaml`) is registered as its
own id, the env's name plus the task's name without the env prefix: `cooling-hot-dry` on
Cooling-v0 is `dcsim/Cooling-hot-dry-v0` (its kwargs and reward weights, as `dcsim train`
reads it). Every spec has `max_episode_steps`: the length the env truncates itself at with
those arguments. `gym.make(id, <a longer episode>)` also needs `max_episode_steps=N` (or -1).
"""

from __future__ import annotations

import math
from typing import Any

from gymnasium.envs.registration import register, registry

ENV_IDS = {
    "dcsim/Datacenter-v0": "dcsim.envs.datacenter:DatacenterEnv",
    "dcsim/Cooling-v0": "dcsim.envs.cooling:CoolingEnv",
    "dcsim/PowerCap-v0": "dcsim.envs.power_cap:PowerCapEnv",
    "dcsim/FlowSplit-v0": "dcsim.envs.flow_split:FlowSplitEnv",
    "dcsim/Placement-v0": "dcsim.envs.placement:PlacementEnv",
    "dcsim/CoDesign-v0": "dcsim.envs.codesign:CoDesignEnv",
}

# Episode length per env from its constructor arguments; the literal defaults are the envs'
# own (Kwargs field defaults, default scenario's time.steps), checked by tests/test_env_registry.py.
EPISODE_STEPS = {
    "dcsim/Datacenter-v0": lambda kw: kw.get("steps") or 1440,
    "dcsim/Cooling-v0": lambda kw: kw.get("episode_steps", 1440),
    "dcsim/PowerCap-v0": lambda kw: math.ceil(
        float(kw.get("horizon_s", 1800.0)) / float(kw.get("control_period_s", 5.0))
    ),
    "dcsim/FlowSplit-v0": lambda kw: kw.get("episode_steps", 32),
    "dcsim/Placement-v0": lambda kw: kw.get("n_jobs", 128),
    "dcsim/CoDesign-v0": lambda kw: kw.get("episode_steps", 576),
}


def episode_steps(env_id: str, kwargs: dict[str, Any]) -> int:
    """How many steps an episode of `env_id` with these constructor arguments lasts (at most)."""
    return int(EPISODE_STEPS[env_id](kwargs))


def task_env_id(env_id: str, task_name: str) -> str:
    """'dcsim/Cooling-v0' + 'cooling-hot-dry' -> 'dcsim/Cooling-hot-dry-v0'."""
    base = env_id.removeprefix("dcsim/").removesuffix("-v0")
    words = task_name.split("-")
    for i in range(1, len(words) + 1):  # drop the leading words that spell the env's name
        if "".join(words[:i]).lower() == base.lower():
            words = words[i:]
            break
    rest = "-".join(words)
    return f"dcsim/{base}-{rest}-v0" if rest else f"dcsim/{base}-task-v0"


def task_specs() -> dict[str, tuple[str, dict[str, Any], str]]:
    """id -> (base env id, kwargs incl. reward_weights, task file) for the shipped task files."""
    import yaml

    from dcsim.resources import list_bundled

    # libyaml (~6x faster) reads these shipped files as the Python loader does (tested in
    # tests/test_startup_imports.py)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: dict[str, tuple[str, dict[str, Any], str]] = {}
    for f in list_bundled("scenarios", "tasks"):
        data = yaml.load(f.read_text(encoding="utf-8"), Loader=loader) or {}
        env_id = data.get("env")
        if env_id not in ENV_IDS:
            continue
        kwargs = dict(data.get("kwargs") or {})
        if data.get("reward"):
            kwargs["reward_weights"] = dict(data["reward"])
        out[task_env_id(env_id, str(data.get("name") or f.stem))] = (env_id, kwargs, str(f))
    return out


for _id, _entry in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry, max_episode_steps=episode_steps(_id, {}))

TASK_IDS: dict[str, str] = {}  # registered task id -> task file
for _id, (_env, _kwargs, _file) in task_specs().items():
    TASK_IDS[_id] = _file
    if _id not in registry:
        register(
            id=_id,
            entry_point=ENV_IDS[_env],
            kwargs=_kwargs,
            max_episode_steps=episode_steps(_env, _kwargs),
        )
