"""Bundled YAML (package data of dcsim.scenarios.sweeps); found through dcsim.resources."""
