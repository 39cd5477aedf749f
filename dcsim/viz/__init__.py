"""All figures of dcsim, apart from the physics: import a submodule when you draw.

    timeseries  one run's power, temperature and throughput over time
    sweep       sweep tables: Pareto fronts, effect panels, metric-vs-parameter paths
    compare     agent comparison bars (`dcsim rl compare`)
    network     per-link utilization heat maps
    cooling     a plant's year: weather, PUE, economizer share
    polca       POLCA row power under oversubscription

Each submodule uses matplotlib (Agg); nothing here is imported by the physics modules, and
this package imports no submodule itself, so `import dcsim` never loads matplotlib.
"""
