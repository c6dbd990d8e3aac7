"""Sandbox probes for SAFETY-2 (and the limit guests for SAFETY-3): the registry of probe
guests, their parameters, builds and the runner that judges each run by its canaries."""

from harness.probes.registry import BY_NAME, LIMIT_GUESTS, PROBES, Probe, probe

__all__ = ["BY_NAME", "LIMIT_GUESTS", "PROBES", "Probe", "probe"]
