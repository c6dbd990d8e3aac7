"""Activates the wasm-claims plugin for in-repo runs when the package is not installed
(an installed package activates it through its pytest11 entry point instead, and pytest
refuses `pytest_plugins` here when this folder is not the rootdir, as in pytester runs)."""

from importlib.metadata import entry_points

if not any(ep.name == "wasm_claims" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["harness.plugin"]
