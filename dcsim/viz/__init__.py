"""All figures of dcsim, apart from the physics: import a submodule when you draw.

    timeseries  one run's power, temperature and throughput over time
    sweep       sweep tables: Pareto fronts, effect panels, metric-vs-parameter paths
    compare     agent comparison bars (`dcsim rl compare`)
    network     per-link utilization heat maps
    cooling     a plant's year: weather, PUE, economizer share
    polca       POLCA row power under oversubscription

Each submodule uses matplotlib (Agg); nothing here is imported by the physics modules, and
this package imports no submodule itself (only matplotlib, to turn axis offset notation
off for every figure), so `import dcsim` never loads matplotlib.
"""

import matplotlib as _mpl

# No offset notation on any axis: a flat year-long PUE of 1.2301..1.2304 would otherwise be
# labelled "+1.23" with ticks 0.0001..0.0004, which reads like variation (issue 19.7).
_mpl.rcParams["axes.formatter.useoffset"] = False
