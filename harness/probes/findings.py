"""Generated findings kept as reproducers, the same way for every generator (memgen, simdgen,
tablegen): reports/findings/<generator>-<hash>/ holds the module (probe.wat), the case
(case.json: what the next run replays first, on every row), the command that replays it and
the verdict (result.json). `shrink` asks Hypothesis for the smallest input that still shows
a finding, for rows where a finding does not fail the test (so Hypothesis did not shrink it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FINDINGS_DIR = Path(__file__).resolve().parent.parent.parent / "reports" / "findings"


def keep(generator: str, case: dict, wat: str, runtime: str, config: str, outcome: str, reason: str, described: str,
         command: str, root: Path = FINDINGS_DIR) -> Path:
    """Write the reproducer; the folder is named by the case, so a finding kept twice is one folder."""
    d = root / f"{generator}-{hashlib.sha256(json.dumps(case, sort_keys=True).encode()).hexdigest()[:12]}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "probe.wat").write_text(wat)
    (d / "case.json").write_text(json.dumps(case, indent=1))
    (d / "command.txt").write_text(command + "\n")
    (d / "result.json").write_text(json.dumps({"runtime": runtime, "engine_config": config, "outcome": outcome,
                                               "reason": reason, "input": described}, indent=1))
    return d


def saved(generator: str, case_from, root: Path = FINDINGS_DIR) -> list:
    """The cases earlier runs kept for this generator, read by `case_from` (unreadable ones skipped)."""
    out = []
    for path in sorted(root.glob(f"{generator}-*/case.json")):
        try:
            out.append(case_from(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def shrink(strategy, shows, max_examples: int = 300):
    """The smallest drawn input for which `shows(input)` holds (Hypothesis' find), or None when
    none turns up within `max_examples`."""
    from hypothesis import find, settings
    from hypothesis.errors import NoSuchExample

    try:
        return find(strategy, shows, settings=settings(max_examples=max_examples, database=None, deadline=None))
    except NoSuchExample:
        return None


def command(suite_test: str, runtime: str, config: str, note: str = "") -> str:
    """The pytest command that replays a kept case (saved cases run first)."""
    return (f"pytest --suite security --runtime {runtime.replace('@', '==')} -k '{suite_test} and {config}'"
            f"  # saved cases run first{'; ' + note if note else ''}")
