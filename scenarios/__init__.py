"""Bundled YAML (package data of dcsim.scenarios); found through dcsim.resources."""
