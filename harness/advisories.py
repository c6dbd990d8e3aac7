"""The advisory table (advisories.yaml): which installed Wasm runtime versions fall in a known
advisory's affected range, and which probe shows it."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

ADVISORIES_FILE = Path(__file__).with_name("advisories.yaml")
_VERSION = re.compile(r"\d+(?:\.\d+)+")


class AdvisoryError(Exception):
    """advisories.yaml holds an entry that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Advisory:
    id: str
    runtimes: tuple[str, ...]
    affected: tuple[str, ...]
    probes: tuple[str, ...]
    summary: str
    cve: str = ""

    def affects(self, runtime: str, version: str) -> bool:
        v = parse_version(version)
        return runtime in self.runtimes and v is not None and any(v in SpecifierSet(r) for r in self.affected)

    def to_dict(self) -> dict:
        return {"id": self.id, "cve": self.cve, "affected": list(self.affected), "probes": list(self.probes),
                "summary": self.summary}


def parse_version(text: str) -> Version | None:
    """The first dotted number in a runtime's version string ('wasmtime 49.0.3 (...)', 'v20.1.0')."""
    m = _VERSION.search(text or "")
    try:
        return Version(m.group(0)) if m else None
    except InvalidVersion:
        return None


@functools.cache
def table(path: Path = ADVISORIES_FILE) -> tuple[Advisory, ...]:
    entries = yaml.safe_load(Path(path).read_text()) or []
    out = []
    for i, e in enumerate(entries):
        try:
            adv = Advisory(e["id"], tuple(e["runtimes"]), tuple(e["affected"]), tuple(e.get("probes", [])),
                           e["summary"], e.get("cve", ""))
            for r in adv.affected:
                SpecifierSet(r)
        except (KeyError, TypeError) as exc:
            raise AdvisoryError(f"{path}: entry {i}: missing or bad field {exc}") from None
        except InvalidSpecifier as exc:
            raise AdvisoryError(f"{path}: entry {i} ({e.get('id')}): bad version range: {exc}") from None
        out.append(adv)
    return tuple(out)


def flagged(runtime: str, version: str, probe: str | None = None, path: Path = ADVISORIES_FILE) -> list[Advisory]:
    """Advisories whose range holds this runtime version (only those naming `probe`, if given).
    A pinned row (`wasmtime-py@6.0.0`) is looked up under its runtime's name."""
    runtime = runtime.partition("@")[0]
    return [a for a in table(path) if a.affects(runtime, version) and (probe is None or probe in a.probes)]
