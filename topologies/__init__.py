"""Bundled YAML (package data of dcsim.topologies); found through dcsim.resources."""
