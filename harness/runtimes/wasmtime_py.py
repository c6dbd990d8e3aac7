"""wasmtime embedded through its Python package: always there, in-process, compiled
modules cached (serialized) by module hash and engine version."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from importlib.metadata import version

import wasmtime

from harness.outcome import Outcome
from harness.runtimes import traps
from harness.runtimes.base import Availability, Limits, Session, VersionUnavailable, WasiSetup, WasmRuntime
from harness.runtimes.childproc import EngineChild
from harness.toolchain import cache_root, host_arch

EPOCH_TICK_S = 0.01
WASMTIME_PY_VERSION = version("wasmtime")
CHILD_SCRIPT = Path(__file__).with_name("wasmtime_child.py")
CHILD_PEAK = "child process peak RSS (ru_maxrss of the engine's own process)"


# The engine configurations every wasmtime-py row runs under (the one list: generated probes,
# differential fuzzing and the security suite's rows read it). name -> knob sets, newest names
# first; the child (wasmtime_child.engine) uses the first set its version can set, through
# the Config class or, where the class lacks the knob, the C API of the same wheel, and
# answers 'unsupported' (not tested) only where neither has it. "pooling" also makes each
# generated probe run in a slot a previous instance grew, wrote and left. Cranelift's
# opt level "speed" is the default row (its code is byte-identical), so it has no row of its own.
_POOL = {"total_core_instances": 16, "total_memories": 16, "total_tables": 16, "max_memory_size": 1 << 26}
_AVX512 = ("has_avx512bitalg", "has_avx512dq", "has_avx512f", "has_avx512vbmi", "has_avx512vl")
_NO_AVX512 = {f: "false" for f in _AVX512}
_NO_AVX = {**_NO_AVX512, "has_avx": "false", "has_avx2": "false", "has_fma": "false"}
# WebAssembly proposals a probe may need beyond a configuration's knobs: feature -> the knobs
# that turn it on (atomics need threads and shared memories).
FEATURE_KNOBS = {"threads": {"wasm_threads": True, "shared_memory": True}, "memory64": {"wasm_memory64": True}}


def with_features(knobs: list[dict], features) -> list[dict]:
    """A configuration's knob sets with the features' knobs added."""
    extra = {k: v for f in features for k, v in FEATURE_KNOBS[f].items()}
    return [dict(k, **extra) for k in knobs] if extra else knobs


CONFIGS = {
    "default": [{}],
    "dynamic-bounds": [{"memory_reservation": 0, "memory_guard_size": 0},
                       {"static_memory_maximum_size": 0, "dynamic_memory_guard_size": 0}],
    "small-reservation": [{"memory_reservation": 1 << 24, "memory_guard_size": 1 << 16},
                          {"static_memory_maximum_size": 1 << 24, "static_memory_guard_size": 1 << 16}],
    "guard-0": [{"memory_guard_size": 0}, {"static_memory_guard_size": 0, "dynamic_memory_guard_size": 0}],
    "no-signals": [{"signals_based_traps": False}],
    "no-signals-dynamic": [{"signals_based_traps": False, "memory_reservation": 0, "memory_guard_size": 0}],
    "no-cow": [{"memory_init_cow": False}],
    "pooling": [{"pooling": _POOL}],
    "pooling-keep-resident": [{"pooling": {**_POOL, "linear_memory_keep_resident": 1 << 20, "table_keep_resident": 1 << 16}}],
    "opt-none": [{"cranelift_opt_level": "none"}],
    "no-avx512": [{"cranelift_flags": _NO_AVX512}],  # the AVX2 lowering on an AVX-512 host
    "no-avx": [{"cranelift_flags": _NO_AVX}],  # SSE4.2: legacy-encoded SSE ops need aligned memory operands
    "no-sse41": [{"cranelift_flags": {**_NO_AVX, "has_sse41": "false", "has_sse42": "false"}}],  # SSSE3
    "sse2-only": [{"cranelift_flags": {**_NO_AVX, "has_sse41": "false", "has_sse42": "false", "has_sse3": "false",
                                       "has_ssse3": "false"}}],  # the x86-64 baseline
}


def trap_kind(trap: wasmtime.Trap) -> str:
    return traps.of_code(trap.trap_code)


class _EpochTicker:
    """One daemon thread per engine advancing its epoch, so deadlines are wall-clock bounded."""

    def __init__(self, engine: wasmtime.Engine):
        self._engine = engine
        threading.Thread(target=self._tick, name="wasm-claims-epoch", daemon=True).start()

    def _tick(self):
        while True:
            time.sleep(EPOCH_TICK_S)
            self._engine.increment_epoch()


_ENGINE_LOCK = threading.Lock()
_ENGINE: wasmtime.Engine | None = None


def engine() -> wasmtime.Engine:
    """The shared engine: fuel and epoch interruption on, so every limit is available."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            cfg = wasmtime.Config()
            cfg.consume_fuel = True
            cfg.epoch_interruption = True
            _ENGINE = wasmtime.Engine(cfg)
            _EpochTicker(_ENGINE)
        return _ENGINE


def load_module(path: Path) -> wasmtime.Module:
    """Compile once, then reuse the serialized machine code from the cache."""
    data = Path(path).read_bytes()
    key = hashlib.sha256(data + WASMTIME_PY_VERSION.encode()).hexdigest()
    cached = cache_root() / "cwasm" / f"{key}.cwasm"
    if cached.is_file():
        return wasmtime.Module.deserialize_file(engine(), str(cached))
    module = wasmtime.Module(engine(), data)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(module.serialize())
    tmp.replace(cached)
    return module


class WasmtimePySession(Session):
    def __init__(self, module: wasmtime.Module, limits: Limits):
        self.module = module
        self.limits = limits
        self.linker = wasmtime.Linker(engine())
        self.linker.define_wasi()

    def new_store(self, timeout_s: float) -> wasmtime.Store:
        store = wasmtime.Store(engine())
        store.set_fuel(self.limits.fuel if self.limits.fuel is not None else 2**63 - 1)
        store.set_epoch_deadline(max(1, int(timeout_s / EPOCH_TICK_S)))
        store.set_limits(memory_size=self.limits.memory_bytes)
        return store

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        store = self.new_store(timeout_s)
        out: list[bytes] = []
        err: list[bytes] = []
        setup, wasi = wasi, wasmtime.WasiConfig()
        if setup is not None:
            _grant(wasi, setup)
        with tempfile.NamedTemporaryFile(prefix="wc-stdin-") as f:
            f.write(stdin)
            f.flush()
            wasi.stdin_file = f.name
            wasi.stdout_custom = lambda b: out.append(bytes(b))
            wasi.stderr_custom = lambda b: err.append(bytes(b))
            store.set_wasi(wasi)
            start = time.perf_counter()
            result = Outcome()
            try:
                instance = self.linker.instantiate(store, self.module)
                instance.exports(store)["_start"](store)
                result.exit_code = 0
            except wasmtime.ExitTrap as exc:
                result.exit_code = exc.code
            except wasmtime.Trap as exc:
                kind = trap_kind(exc)
                result.trap = kind
                result.timed_out = kind == "interrupt"
                err.append(f"wasm trap: {kind}\n".encode())
            except wasmtime.WasmtimeError as exc:
                result.error = f"wasmtime: {str(exc).splitlines()[0]}"
                result.extra["error_text"] = str(exc)[:4000]  # the cause (e.g. a guest pointer out of bounds)
            result.wall_s = time.perf_counter() - start
        memory = _linear_memory_kb(store, locals().get("instance"))
        result.stdout, result.stderr = b"".join(out), b"".join(err)
        result.peak_memory_kb, result.memory_source = memory, "linear-memory" if memory else None
        return result


def _grant(wasi: wasmtime.WasiConfig, setup: WasiSetup) -> None:
    """Extra argv, env and preopens (read-only ones through fs_mutable=False; read-only files in
    a writable folder, which this version cannot grant, make the folder read-only: less, never more)."""
    wasi.argv = ["module.wasm", *setup.args]
    wasi.env = [list(kv) for kv in setup.env]
    for p in setup.preopens:
        wasi.preopen_dir(str(p.host), p.guest, fs_mutable=p.writable and p.files_writable is not False)


def _linear_memory_kb(store, instance) -> int | None:
    if instance is None:
        return None
    mem = instance.exports(store).get("memory")
    return mem.data_len(store) // 1024 if isinstance(mem, wasmtime.Memory) else None


class WasmtimePy(WasmRuntime):
    name = "wasmtime-py"
    engine = "wasmtime"
    capabilities = frozenset({"in-process", "fuel", "epoch", "memory-limit", "preopen", "preopen-readonly"})

    def availability(self, arch: str | None = None) -> Availability:
        if arch not in (None, host_arch()):
            return Availability(False, WASMTIME_PY_VERSION,
                                f"the embedded runtime runs only on the host arch ({host_arch()}); use wasmtime-cli under qemu")
        return Availability(True, WASMTIME_PY_VERSION)

    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session:
        return WasmtimePySession(load_module(module), limits)

    def for_version(self, version: str, progress=print) -> "WasmtimePyChild":
        return WasmtimePyChild(version, install(version, progress))

    def child(self) -> "WasmtimePyChild":
        """This (installed) version served from a child process: for guests that may crash it."""
        global _OWN_CHILD
        if _OWN_CHILD is None:
            _OWN_CHILD = WasmtimePyChild(WASMTIME_PY_VERSION, None, name=self.name)
        return _OWN_CHILD


_OWN_CHILD: "WasmtimePyChild | None" = None


def install_dir(version: str) -> Path:
    return cache_root() / "runtimes" / f"wasmtime-py-{version}"


def install(version: str, progress=print) -> Path:
    """wasmtime==VERSION with pip --target into the cache (once; tmp + rename, so a half
    install is never used). Raises VersionUnavailable with pip's own last words."""
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        raise VersionUnavailable(f"wasmtime-py=={version}: not a version number") from None
    target = install_dir(version)
    if (target / "wasmtime" / "__init__.py").is_file():
        return target
    progress(f"installing wasmtime-py {version} into {target} (once; cached)")
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                           "--target", str(tmp), f"wasmtime=={version}"], capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        why = next((ln for ln in lines if ln.startswith("ERROR:")), lines[-1] if lines else f"exit {proc.returncode}")
        raise VersionUnavailable(f"wasmtime-py=={version}: pip could not install it: {why[:200]}")
    try:
        tmp.rename(target)
    except OSError:  # another process installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# capability -> the API feature (wasmtime_child.features) it needs, and how its absence reads
_NEEDS = {"fuel": ("fuel", "no Store.set_fuel or Store.add_fuel"), "epoch": ("epoch", "no Config.epoch_interruption"),
          "memory-limit": ("limits", "no Store.set_limits"),
          "preopen-readonly": ("readonly", "no WasiConfig.preopen_dir(fs_mutable=) nor dir_perms="),
          "preopen-file-perms": ("split", "no DirPerms x FilePerms (wasmtime 48 folded them into one read/write switch; "
                                          "before 26 there were none)")}


class WasmtimePyChild(WasmRuntime):
    """A wasmtime-py version (installed into the cache, or the harness's own) whose guests run
    in a child process (harness.runtimes.wasmtime_child): a crash is an observation."""

    engine = "wasmtime"
    capabilities = frozenset()

    def __init__(self, version: str, target: Path | None, name: str | None = None):
        self.version, self.target = version, target
        self.name = name or f"wasmtime-py@{version}"
        self.child_process = EngineChild(CHILD_SCRIPT, target, self.name)
        self._info: dict | None = None

    @property
    def info(self) -> dict:
        if self._info is None:
            reply = self.child_process.request({"op": "info"}, 120)
            if "version" not in reply:
                tail = (reply.get("stderr_tail") or reply.get("error") or "no reply").strip().splitlines()
                raise VersionUnavailable(f"{self.name}: the child could not import it: {tail[-1][:200] if tail else '?'}")
            self._info = reply
        return self._info

    @property
    def features(self) -> dict:
        return self.info["features"]

    @property
    def capabilities(self) -> frozenset:  # type: ignore[override]
        have = {"preopen", "child-process"} | {cap for cap, (feat, _) in _NEEDS.items() if self.features.get(feat)}
        return frozenset(have)

    def missing(self) -> dict[str, str]:
        """capability -> why this version lacks it (the probe needing it is not tested)."""
        return {cap: f"wasmtime-py {self.info['version']} has {why}" for cap, (feat, why) in _NEEDS.items()
                if not self.features.get(feat)}

    def availability(self, arch: str | None = None) -> Availability:
        if arch not in (None, host_arch()):
            return Availability(False, self.version, f"wasmtime-py runs only on the host arch ({host_arch()})")
        try:
            return Availability(True, self.info["version"])
        except VersionUnavailable as exc:
            return Availability(False, self.version, str(exc))

    def open(self, module: Path, limits: Limits = Limits(), arch: str | None = None) -> Session:
        return ChildSession(self, Path(module), limits)

    def request(self, req: dict, timeout_s: float) -> dict:
        return self.child_process.request(req, timeout_s)


class ChildSession(Session):
    def __init__(self, row: WasmtimePyChild, module: Path, limits: Limits):
        self.row, self.module, self.limits = row, module, limits

    def run(self, stdin: bytes, timeout_s: float, wasi: WasiSetup | None = None) -> Outcome:
        grant = wasi or WasiSetup()
        req = {"op": "run", "module": str(self.module), "stdin": base64.b64encode(stdin).decode(), "timeout_s": timeout_s,
               "fuel": self.limits.fuel, "memory_bytes": self.limits.memory_bytes,
               "wasi": {"args": list(grant.args), "env": [list(kv) for kv in grant.env],
                        "preopens": [[str(p.host), p.guest, p.writable, p.files_writable] for p in grant.preopens]}}
        start = time.perf_counter()
        reply = self.row.request(req, timeout_s + 30)
        return outcome_from_reply(reply, time.perf_counter() - start)


def outcome_from_reply(reply: dict, wall_s: float) -> Outcome:
    """A child's reply (or its death) as an Outcome."""
    if reply.get("timed_out"):
        return Outcome(timed_out=True, wall_s=wall_s, error=None)
    if reply.get("died"):
        return Outcome(signal=reply.get("signal"), exit_code=reply.get("exit_code"), wall_s=wall_s,
                       stderr=(reply.get("stderr_tail") or "").encode(),
                       extra={"error_text": f"the engine's child process died: {(reply.get('stderr_tail') or '')[-600:]}"})
    out = Outcome(exit_code=reply.get("exit_code"), trap=reply.get("trap") and traps.normalise(reply["trap"]), wall_s=reply.get("wall_s", wall_s),
                  stdout=base64.b64decode(reply.get("stdout", "")), stderr=base64.b64decode(reply.get("stderr", "")),
                  error=reply.get("error") or (f"unsupported: {reply['unsupported']}" if reply.get("unsupported") else None),
                  peak_memory_kb=reply.get("maxrss_kb"), memory_source=CHILD_PEAK if reply.get("maxrss_kb") else None)
    out.timed_out = out.trap == "interrupt"
    if out.trap:
        out.stderr += f"wasm trap: {out.trap}\n".encode()
    if reply.get("error_text"):
        out.extra["error_text"] = reply["error_text"]
    out.extra["linear_memory_kb"] = reply.get("memory_kb")
    return out
