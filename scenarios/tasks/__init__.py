"""Bundled YAML (package data of dcsim.scenarios.tasks); found through dcsim.resources."""
