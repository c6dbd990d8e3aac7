"""results.json: the versioned schema, the environment it was measured in, verdicts per
claim, and merging of several machines' results (a CI matrix) into one."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import __version__, claims

SCHEMA = "wasm-claims/1"
SUITES = ("smoke", "security", "portability", "performance", "parity", "agent")
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


def suite_implemented(name: str) -> bool:
    """A suite exists when its folder under suites/ holds test modules."""
    return any((SUITES_DIR / name).glob("test_*.py"))


class ResultsError(Exception):
    """A results file that cannot be read or merged; the message says which and why."""


def _cmd(*cmd: str, timeout: float = 20) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _governor() -> str:
    p = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    return p.read_text().strip() if p.exists() else "not readable"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    return _cmd("git", "-C", str(root), "rev-parse", "--short", "HEAD") or "unknown"


def _docker_image() -> str:
    """The local Python image's tag and id (its content digest), so a report says which image was measured."""
    from harness.images import PYTHON_IMAGE_TAG

    image_id = _cmd("docker", "image", "inspect", "--format", "{{.Id}}", PYTHON_IMAGE_TAG)
    return f"{PYTHON_IMAGE_TAG} {image_id}" if image_id.startswith("sha256:") else f"{PYTHON_IMAGE_TAG}: not built (wasm-claims image build)"


def _gpu() -> str:
    if shutil.which("nvidia-smi"):
        return _cmd("nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader") or "nvidia-smi failed"
    return "none detected (no nvidia-smi)"


def harness_emulation() -> str | None:
    """How this harness runs when it is itself emulated (the ARM leg: qemu-user hands the
    machine's x86_64 /proc/cpuinfo to an aarch64 Python), else None."""
    from harness.toolchain import host_arch

    if os.environ.get("WASM_CLAIMS_EMULATED"):
        return os.environ["WASM_CLAIMS_EMULATED"]
    try:
        x86_cpu = re.search(r"^vendor_id\s*:\s*(GenuineIntel|AuthenticAMD)", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        return None
    return "qemu-user (an x86_64 host)" if x86_cpu and host_arch() != "x86_64" else None


@functools.cache
def environment() -> dict:
    """What the numbers were measured on: every version that could change a result."""
    from harness import arch as arch_mod
    from harness.runtimes import RUNTIMES
    from harness.toolchain import ToolMissing, host_arch, zig_version

    try:
        zig = zig_version()
    except ToolMissing as exc:
        zig = f"missing: {exc}"
    runtimes = {}
    for name, rt in RUNTIMES.items():
        av = rt.availability()
        runtimes[name] = av.version if av.available else f"not available: {av.reason}"
    return {
        "machine": platform.node(),
        "arch": host_arch(),
        "emulated": harness_emulation(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "governor": _governor(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "zig": zig,
        "runtimes": runtimes,
        "docker": _cmd("docker", "version", "--format", "{{.Server.Version}}") or "not reachable",
        "docker_image": _docker_image(),
        "qemu": {s.arch: (s.version if s.available else f"not available: {s.reason}") for s in arch_mod.all_support()},
        "gpu": _gpu(),
        "harness_version": __version__,
        "git_commit": _git_commit(),
    }


def build_results(records: list[dict], *, skips: list[dict], suites_run: list[str], meta: dict,
                  env: dict | None = None, errors: list[dict] = ()) -> dict:
    """The whole results document, verdicts included. `errors`: tests that failed or errored
    (a harness failure), which reach their claims' verdicts as error rows, never as passes."""
    verdicts = [claims.decide(c, records, _not_tested_reason(c, skips, suites_run),
                              [s for s in skips if s.get("claim") == c.id],
                              [e for e in errors if e.get("claim") == c.id]).to_dict()
                for c in claims.registry()]
    return {
        "schema": SCHEMA,
        "environment": env if env is not None else environment(),
        "run": {**meta, "suites": suites_run},
        "claims": verdicts,
        "records": records,
        "skips": skips,
        "errors": list(errors),
    }


def _not_tested_reason(claim: claims.Claim, skips: list[dict], suites_run: list[str]) -> str:
    mine = sorted({s["reason"] for s in skips if s.get("claim") == claim.id})
    if mine:
        return "skipped: " + "; ".join(mine[:4]) + (f" (+{len(mine) - 4} more)" if len(mine) > 4 else "")
    if claim.suite not in suites_run:
        if not suite_implemented(claim.suite):
            return f"the {claim.suite} suite is not implemented yet"
        return f"the {claim.suite} suite was not run (pytest --suite {claim.suite})"
    return f"the {claim.suite} suite ran but recorded no evidence for {claim.id}"


def check_destination(path: Path, what: str) -> Path:
    """Fail before any work when `path` cannot hold a report: it must be a folder, or be
    creatable, and writable. Leaves nothing behind (the folder is made when written).
    Raises ResultsError naming `what` (the option)."""
    path = Path(path).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ResultsError(f"{what} {path}: {existing} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".wc-probe-", dir=existing))
    except OSError as exc:
        raise ResultsError(f"{what} {path}: cannot write there ({exc.strerror or exc})") from None
    return path


def write_complete(out_dir: Path, write) -> Path:
    """Run write(folder) into a temporary folder beside the final files, then move each file
    into out_dir: an interrupted write never leaves a half-written report over the last one."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=out_dir))
    try:
        write(tmp)
        for src in sorted(tmp.rglob("*"), key=lambda p: len(p.parts)):
            dest = out_dir / src.relative_to(tmp)
            if src.is_dir():
                dest.mkdir(exist_ok=True)
            else:
                os.replace(src, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def write_json(path: Path, results: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str))
    tmp.replace(path)
    return path


def load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read results: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ResultsError(f"{path}: schema {found!r} is not {SCHEMA!r}; re-run that machine with this harness version")
    validate(data, path)
    return data


SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


@functools.cache
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def validate(doc: dict, path: Path | str = "results") -> None:
    """Check a results document against results.schema.json; the error names the first wrong
    field (e.g. `records[3].metric`), so a hand-edited or truncated file is one clear line."""
    errors = list(_validator().iter_errors(doc))
    if not errors:
        return
    first = min(errors, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))
    steps = list(first.absolute_path)
    if first.validator == "required":  # name the missing field itself, not its parent
        steps.append(next(k for k in first.validator_value if k not in first.instance))
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in steps).lstrip(".") or "(top level)"
    message = "missing" if first.validator == "required" else first.message
    raise ResultsError(f"{path}: field '{where}': {message[:200]} (schema: harness/{SCHEMA_FILE.name})")


def merge(paths: list[Path]) -> dict:
    """One results document from several machines: records tagged with their machine,
    each machine's environment kept, verdicts recomputed over everything."""
    if not paths:
        raise ResultsError("merge needs at least one results.json")
    from harness.distributed import combine

    docs = [load(p) for p in paths]
    machines: dict[str, dict] = {}
    shards: dict[str, dict[str | None, set[str]]] = {}  # machine -> shard -> test ids
    records, skips, errors, suites = [], [], [], []
    for path, doc in zip(paths, docs):
        env = doc["environment"]
        key = f"{env.get('machine', '?')}/{env.get('arch', '?')}"
        _check_shard(path, key, doc, shards.setdefault(key, {}))
        machines[key] = env
        records += [_on_machine(r, key, env) for r in doc["records"]]
        skips += [{**s, "machine": key} for s in doc.get("skips", [])]
        errors += [{**e, "machine": key} for e in doc.get("errors", [])]
        suites += [s for s in doc["run"].get("suites", []) if s not in suites]
    records = combine(records)
    records += cross_machine_records(records)
    meta = {"merged_from": [str(p) for p in paths], "started": min(d["run"].get("started", "") for d in docs),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if any(None not in s for s in shards.values()):
        meta["shards"] = {m: sorted(s) for m, s in shards.items() if None not in s}
    merged = build_results(records, skips=skips, errors=errors, suites_run=suites, meta=meta, env={"machines": machines})
    return merged


def _check_shard(path: Path, machine: str, doc: dict, seen: dict) -> None:
    """Shards of one machine's run may be joined; the same run twice, or shards that ran a test
    twice, may not."""
    shard = doc["run"].get("shard")
    tests = {r["test"] for r in [*doc["records"], *doc.get("skips", [])] if "::" in str(r.get("test"))}
    if seen and (shard is None or None in seen or shard in seen):
        what = f"shard {shard} of machine {machine}" if shard else f"machine {machine}"
        raise ResultsError(f"{path}: {what} appears twice in the inputs (same results given twice?)")
    for other, other_tests in seen.items():
        if overlap := sorted(tests & other_tests):
            raise ResultsError(f"{path}: shard {shard} of machine {machine} overlaps shard {other} in "
                               f"{len(overlap)} test(s), e.g. {overlap[0]}")
    seen[shard] = tests


def _on_machine(record: dict, key: str, env: dict) -> dict:
    """Tag a record with its machine and, where the test did not say, whether its arch was
    that machine's own (native) or emulated; everything a harness that was itself emulated
    (the ARM leg) measured is emulated."""
    details = dict(record.get("details") or {})
    if record.get("arch") and env.get("arch") and "emulated" not in details:
        details["emulated"] = record["arch"] != env["arch"]
    if env.get("emulated"):
        details["emulated"], details["harness_emulated"] = True, env["emulated"]
    return {**record, "machine": key, "details": details}


# What a transcript difference between machines means, per kind of row (output_transcript's group).
_CROSS_METRIC = {"wasm": ("wasm_output_mismatch", "PORT-2"), "native": ("native_not_portable", "PORT-1")}


def cross_machine_records(records: list[dict]) -> list[dict]:
    """Compare output transcripts (input hash -> outcome digest, written by the portability
    suite) of rows that ran on different machines: the same module (wasm) or the same source
    (native) on the same inputs. The first machine's first row of a group is the baseline;
    each row of another machine gets a record saying whether its answers matched on the
    inputs both saw."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r.get("metric") == "output_transcript" and (r.get("details") or {}).get("group"):
            groups.setdefault(r["details"]["group"], []).append(r)
    out = []
    for group, rows in groups.items():
        metric, claim = _CROSS_METRIC.get(group.split(":", 1)[0], (None, None))
        base = rows[0]
        others = [r for r in rows if r.get("machine") != base.get("machine")]
        if metric is None or not others:
            continue
        ref = base["details"].get("transcript") or {}
        for row in others:
            mine = row["details"].get("transcript") or {}
            common = sorted(set(ref) & set(mine))
            if not common:
                continue
            bad = [k for k in common if ref[k] != mine[k]]
            out.append({
                "suite": row.get("suite", "portability"), "test": "wasm-claims merge (cross-machine)", "claim": claim,
                "workload": row.get("workload"), "form": row.get("form"), "runtime": row.get("runtime"),
                "arch": row.get("arch"), "machine": row.get("machine"), "metric": metric, "value": 1 if bad else 0,
                "unit": "bool", "outcome": "mismatch" if bad else "identical",
                "details": {"cross_machine": True, "group": group, "emulated": row["details"].get("emulated"),
                            "module_sha256": row["details"].get("module_sha256"),
                            "compared_with": {k: base.get(k) for k in ("machine", "form", "runtime", "arch")}
                            | {"emulated": base["details"].get("emulated")},
                            "common_inputs": len(common), "mismatched_input_sha256": bad[:10]},
            })
    return out
