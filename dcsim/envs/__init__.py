"""Gymnasium environments. Importing dcsim.envs registers every env id.

Every env follows `dcsim.envs.contract`: `Kwargs` (pydantic), `reward_weights`, declared
observation `features` and `METRICS` with their episode aggregation.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_IDS = {
    "dcsim/Datacenter-v0": "dcsim.envs.datacenter:DatacenterEnv",
    "dcsim/Cooling-v0": "dcsim.envs.cooling:CoolingEnv",
    "dcsim/PowerCap-v0": "dcsim.envs.power_cap:PowerCapEnv",
    "dcsim/FlowSplit-v0": "dcsim.envs.flow_split:FlowSplitEnv",
    "dcsim/Placement-v0": "dcsim.envs.placement:PlacementEnv",
}

for _id, _entry in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry)
