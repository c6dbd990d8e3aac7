"""`--runtime NAME==VERSION`: a runtime row pinned to an installable version. `resolve`
turns a spec into a row (installing the version into the cache through the row's
`for_version`); `register` adds it to the registry so every test parametrised over runtimes
sees it under its own name (`NAME@VERSION`)."""

from __future__ import annotations

from harness.runtimes import RUNTIMES, VersionUnavailable, WasmRuntime


def parse(spec: str) -> tuple[str, str | None]:
    """('wasmtime-py', '6.0.0') from 'wasmtime-py==6.0.0' or 'wasmtime-py@6.0.0'; version None if absent."""
    spec = spec.strip()
    for sep in ("==", "@"):
        if sep in spec:
            name, _, version = spec.partition(sep)
            return name.strip(), version.strip() or None
    return spec, None


def check_name(spec: str) -> str:
    """The spec back if its runtime name is known (a one-line ValueError otherwise)."""
    name, _ = parse(spec)
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r} (choose from {', '.join(RUNTIMES)}; NAME==VERSION pins a version)")
    return spec


def resolve(spec: str, progress=print) -> WasmRuntime:
    """The row for NAME or NAME==VERSION; raises VersionUnavailable with a one-line reason."""
    name, version = parse(spec)
    if name not in RUNTIMES:
        raise VersionUnavailable(f"unknown runtime {name!r} (known: {', '.join(RUNTIMES)})")
    if version is None:
        return RUNTIMES[name]
    if f"{name}@{version}" in RUNTIMES:
        return RUNTIMES[f"{name}@{version}"]
    row = RUNTIMES[name].for_version(version, progress)
    if row.name == name:  # pinned but still named like the unpinned row: give it its own row name
        row.name = f"{name}@{version}"
    return row


def register(row: WasmRuntime) -> str:
    RUNTIMES.setdefault(row.name, row)
    return row.name


def resolve_all(specs: list[str], progress=print) -> list[str]:
    """Row names for the specs, versioned rows registered (the first unavailable one raises)."""
    return list(dict.fromkeys(register(resolve(s, progress)) for s in specs))
