"""The child side of a wasmtime-py row: a small JSON-lines server run as its own Python
process, with one wasmtime-py version first on sys.path, so a guest that crashes the engine
(a segfault, an abort) ends this process and is an observation for the parent, never a lost
run. Standard library and `wasmtime` only: it must import under any wasmtime-py version.

The API has changed across wasmtime-py generations (1.0 .. today); every difference is
feature-detected here and reported by `info` (`features`), so the parent can say which probe
is not tested and why:
  fuel      Store.set_fuel (>= 13) | Store.add_fuel (older)
  limits    Store.set_limits (memory cap)                  -- missing before ~8
  stdio     WasiConfig.stdout_custom | stdout_file to a temp file
  readonly  WasiConfig.preopen_dir(..., fs_mutable=False) (>= 48) or dir_perms=/file_perms= (26 .. 47)
  split     DirPerms x FilePerms given apart (a writable folder of read-only files): 26 .. 47 only;
            wasmtime 48 folded both into one read/write switch
  epoch     Config.epoch_interruption + Store.set_epoch_deadline
Requests (one JSON object per line): info, run (a WASI command), memprobe (one export, a
canary Store and a host buffer beside it), invoke (one export of a fuzzed module).
"""

from __future__ import annotations

import base64
import ctypes
import functools
import gc
import hashlib
import inspect
import json
import mmap
import os
import resource
import struct
import sys
import tempfile
import threading
import time

import wasmtime

EPOCH_TICK_S = 0.01
HOST_BUFFER = 256 << 10
MAX_DIFFS = 16


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("wasmtime")
    except Exception:  # noqa: BLE001 - an old layout without metadata
        return getattr(wasmtime, "__version__", "unknown")


def features() -> dict:
    store_attrs = set(dir(wasmtime.Store))
    wasi_attrs = set(dir(wasmtime.WasiConfig))
    cfg_attrs = set(dir(wasmtime.Config))
    try:
        params = inspect.signature(wasmtime.WasiConfig.preopen_dir).parameters
    except (TypeError, ValueError):
        params = {}
    split = "file_perms" in params and hasattr(wasmtime, "DirPerms") and hasattr(wasmtime, "FilePerms")
    readonly = "fs_mutable" in params or split
    return {
        "fuel": "set_fuel" if "set_fuel" in store_attrs else "add_fuel" if "add_fuel" in store_attrs else None,
        "limits": "set_limits" in store_attrs,
        "stdio": "custom" if "stdout_custom" in wasi_attrs else "file",
        "readonly": readonly,
        "split": split,
        "epoch": "epoch_interruption" in cfg_attrs and "set_epoch_deadline" in store_attrs,
        "config_knobs": sorted(a for a in cfg_attrs if not a.startswith("_")),
    }


FEATURES = features()


@functools.lru_cache(maxsize=16)
def fill(seed: bytes, size: int) -> bytes:
    """The per-run pattern (the parent's model computes the same bytes)."""
    return hashlib.shake_256(seed).digest(size)


class Unsupported(Exception):
    """The requested engine configuration needs a Config knob this version lacks."""


_ENGINES: dict[str, wasmtime.Engine] = {}


def _knobs(config: dict) -> dict:
    """The first of the configuration's knob sets (newest names first) this version has."""
    choices = config.get("knobs") or [{}]
    for knobs in choices:
        if all(k in FEATURES["config_knobs"] for k in knobs):
            return knobs
    wanted = " or ".join("+".join(f"Config.{k}" for k in knobs) for knobs in choices)
    raise Unsupported(f"wasmtime-py {_version()} has no {wanted}")


def _tick(engine):
    while True:
        time.sleep(EPOCH_TICK_S)
        engine.increment_epoch()


def engine(config: dict) -> wasmtime.Engine:
    key = json.dumps(config, sort_keys=True)
    if key not in _ENGINES:
        cfg = wasmtime.Config()
        cfg.consume_fuel = FEATURES["fuel"] is not None
        if FEATURES["epoch"]:
            cfg.epoch_interruption = True
        for knob, value in _knobs(config).items():
            try:
                setattr(cfg, knob, value)
            except Exception as exc:  # noqa: BLE001 - the engine's own refusal, passed on
                raise Unsupported(f"Config.{knob}={value!r}: {exc}") from None
        _ENGINES[key] = eng = wasmtime.Engine(cfg)
        if FEATURES["epoch"]:
            threading.Thread(target=_tick, args=(eng,), daemon=True).start()
    return _ENGINES[key]


def new_store(eng, fuel, timeout_s, memory_bytes):
    store = wasmtime.Store(eng)
    if FEATURES["fuel"] == "set_fuel":
        store.set_fuel(fuel if fuel is not None else 2**63 - 1)
    elif FEATURES["fuel"] == "add_fuel":
        store.add_fuel(fuel if fuel is not None else 2**63 - 1)
    if FEATURES["epoch"]:
        store.set_epoch_deadline(max(1, int(timeout_s / EPOCH_TICK_S)))
    if FEATURES["limits"] and memory_bytes:
        store.set_limits(memory_size=memory_bytes)
    return store


def trap_kind(trap) -> str:
    try:
        code = getattr(trap, "trap_code", None)
    except ValueError:  # a code this version's Python enum lacks (6.0.0: 11, out of fuel): read the message
        code = None
    if code is not None:
        return code.name.lower().replace("_", "-")
    text = str(trap).lower()
    for word, kind in (("out of bounds memory", "memory-out-of-bounds"), ("unreachable", "unreachable"),
                       ("fuel", "out-of-fuel"), ("interrupt", "interrupt"), ("stack overflow", "stack-overflow"),
                       ("divide by zero", "integer-division-by-zero"), ("integer overflow", "integer-overflow")):
        if word in text:
            return kind
    return "trap"


def _memory_bytes(store, mem) -> bytes:
    ptr = ctypes.cast(mem.data_ptr(store), ctypes.c_void_p).value
    return ctypes.string_at(ptr, mem.data_len(store))


def _memory_base(store, mem) -> int:
    return ctypes.cast(mem.data_ptr(store), ctypes.c_void_p).value


def _write_memory(store, mem, data: bytes) -> None:
    ctypes.memmove(_memory_base(store, mem), data, len(data))


def _module(eng, path: str):
    return wasmtime.Module(eng, open(path, "rb").read())


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- requests --------------------------------------------------------------------------------

def _preopen(wasi, host, guest, writable, files_writable):
    """One preopen with the permissions this version can express (the parent only asks a
    read-only one of a version with `readonly`, and a split one of a version with `split`);
    read-only files in a writable folder without `split` make the whole folder read-only (the
    guest gets less than asked, never more)."""
    if FEATURES["split"]:
        wasi.preopen_dir(host, guest, dir_perms=wasmtime.DirPerms.READ_WRITE if writable else wasmtime.DirPerms.READ_ONLY,
                         file_perms=wasmtime.FilePerms.READ_WRITE if files_writable else wasmtime.FilePerms.READ_ONLY)
    elif FEATURES["readonly"]:
        wasi.preopen_dir(host, guest, fs_mutable=writable and files_writable)
    else:
        wasi.preopen_dir(host, guest)


def op_info(req):
    return {"version": _version(), "features": FEATURES, "pid": os.getpid()}


def op_run(req):
    """A WASI command (_start) with stdin, grants and limits: what WasmtimePySession.run does."""
    eng = engine(req.get("config") or {})
    module = _module(eng, req["module"])
    store = new_store(eng, req.get("fuel"), req["timeout_s"], req.get("memory_bytes"))
    linker = wasmtime.Linker(eng)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    grant = req.get("wasi") or {}
    wasi.argv = ["module.wasm", *grant.get("args", [])]
    wasi.env = [list(kv) for kv in grant.get("env", [])]
    for host, guest, writable, *files in grant.get("preopens", []):
        _preopen(wasi, host, guest, writable, files[0] if files and files[0] is not None else writable)
    tmp = tempfile.mkdtemp(prefix="wc-child-")
    stdin_path, out_path, err_path = (os.path.join(tmp, n) for n in ("in", "out", "err"))
    with open(stdin_path, "wb") as f:
        f.write(base64.b64decode(req.get("stdin", "")))
    wasi.stdin_file = stdin_path
    wasi.stdout_file, wasi.stderr_file = out_path, err_path  # every generation has *_file
    store.set_wasi(wasi)
    res = {"exit_code": None, "trap": None, "error": None}
    instance = None
    start = time.perf_counter()
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
        res["exit_code"] = 0
    except wasmtime.ExitTrap as exc:
        res["exit_code"] = exc.code
    except wasmtime.Trap as exc:
        res["trap"] = trap_kind(exc)
    except wasmtime.WasmtimeError as exc:
        res["error"] = f"wasmtime: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        res["error_text"] = str(exc)[:4000]
    res["wall_s"] = time.perf_counter() - start
    mem = instance.exports(store).get("memory") if instance is not None else None
    res["memory_kb"] = mem.data_len(store) // 1024 if isinstance(mem, wasmtime.Memory) else None
    del mem, instance, store, linker, wasi  # the Store holds the guest's descriptors: release them first
    gc.collect()
    for key, path in (("stdout", out_path), ("stderr", err_path)):
        data = open(path, "rb").read() if os.path.exists(path) else b""
        res[key] = base64.b64encode(data).decode()
        if os.path.exists(path):
            os.unlink(path)
    os.unlink(stdin_path)
    os.rmdir(tmp)
    res["maxrss_kb"] = _maxrss_kb()
    return res


def diffs(before: bytes, after: bytes, chunk: int = 256) -> list:
    """Changed byte ranges [start, end, first bytes hex] (at most MAX_DIFFS), equal chunks skipped fast."""
    out, n = [], min(len(before), len(after))
    start = None
    for base in range(0, n, chunk):
        if start is None and before[base:base + chunk] == after[base:base + chunk]:
            continue
        for i in range(base, min(base + chunk, n)):
            same = before[i] == after[i]
            if start is None and not same:
                start = i
            elif start is not None and same:
                out.append([start, i, after[start:i][:32].hex()])
                start = None
                if len(out) >= MAX_DIFFS:
                    return out
    if start is not None:
        out.append([start, n, after[start:n][:32].hex()])
    return out


def _call(store, func, args):
    params = [str(t) for t in func.type(store).params]
    vals = []
    for t, a in zip(params, args):
        if t == "i32":
            vals.append(struct.unpack("<i", struct.pack("<I", a & 0xFFFFFFFF))[0])
        elif t == "i64":
            vals.append(struct.unpack("<q", struct.pack("<Q", a & 0xFFFFFFFFFFFFFFFF))[0])
        elif t == "f32":
            vals.append(wasmtime.Val.f32(struct.unpack("<f", struct.pack("<I", a & 0xFFFFFFFF))[0]))
        elif t == "f64":
            vals.append(struct.unpack("<d", struct.pack("<Q", a & 0xFFFFFFFFFFFFFFFF))[0])
        else:
            raise Unsupported(f"parameter type {t}")
    out = func(store, *vals)
    out = [] if out is None else list(out) if isinstance(out, (list, tuple)) else [out]
    results = []
    for t, v in zip([str(t) for t in func.type(store).results], out):
        if t == "i32":
            results.append(v & 0xFFFFFFFF)
        elif t == "i64":
            results.append(v & 0xFFFFFFFFFFFFFFFF)
        elif t == "f32":
            results.append(struct.unpack("<I", struct.pack("<f", v))[0])
        elif t == "f64":
            results.append(struct.unpack("<Q", struct.pack("<d", v))[0])
        else:
            results.append(repr(v))
    return results


def op_memprobe(req):
    """One generated memory access. Canaries first (mmap places later mappings lower, so a
    canary Store made before the guest sits *above* it, where an unwrapped address reaches):
    a Store holding the same module with its memory filled with the secret, and a host buffer
    filled with the secret. Then the guest, its memory filled with the nonce, and the call."""
    eng = engine(req.get("config") or {})
    module = _module(eng, req["module"])
    secret, nonce = bytes.fromhex(req["secret"]), bytes.fromhex(req["nonce"])
    host = mmap.mmap(-1, HOST_BUFFER)
    host.write(fill(secret + b"host", HOST_BUFFER))
    canary_store = new_store(eng, None, req["timeout_s"], None)
    canary = wasmtime.Instance(canary_store, module, [])
    cmem = canary.exports(canary_store)["memory"]
    canary_fill = fill(secret + b"store", cmem.data_len(canary_store))
    _write_memory(canary_store, cmem, canary_fill)
    store = new_store(eng, None, req["timeout_s"], None)
    inst = wasmtime.Instance(store, module, [])
    mem = inst.exports(store)["memory"]
    before = fill(nonce, mem.data_len(store))
    _write_memory(store, mem, before)
    res = {"results": None, "trap": None, "error": None,
           "layout": {"guest": _memory_base(store, mem), "canary_store": _memory_base(canary_store, cmem),
                      "host_buffer": ctypes.addressof(ctypes.c_char.from_buffer(host))}}
    try:
        res["results"] = _call(store, inst.exports(store)[req.get("func", "probe")], req["args"])
    except wasmtime.Trap as exc:
        res["trap"] = trap_kind(exc)  # (its message symbolises a backtrace: 100 ms, so not read)
    except wasmtime.WasmtimeError as exc:
        res["error"] = str(exc).splitlines()[0][:300]
    after = _memory_bytes(store, mem)
    res["memory_size"] = len(after)
    res["diffs"] = diffs(before, after)
    res["canary_store_intact"] = _memory_bytes(canary_store, cmem) == canary_fill
    host.seek(0)
    res["host_buffer_intact"] = host.read(HOST_BUFFER) == fill(secret + b"host", HOST_BUFFER)
    return res


def op_invoke(req):
    """Each listed export (no arguments, one result: harness.fuzzdriver's driver exports) on a
    fresh instance of a module without imports: {"value"} or {"trap"} or {"error"} each."""
    eng = engine(req.get("config") or {})
    module = _module(eng, req["module"])
    out = []
    for name in req["exports"]:
        store = new_store(eng, req.get("fuel"), req["timeout_s"], req.get("memory_bytes"))
        try:
            value = wasmtime.Instance(store, module, []).exports(store)[name](store)
            out.append({"value": getattr(value, "value", value) & 0xFFFFFFFFFFFFFFFF})
        except wasmtime.Trap as exc:
            out.append({"trap": trap_kind(exc)})
        except wasmtime.WasmtimeError as exc:
            out.append({"error": str(exc).splitlines()[0][:200]})
    return {"results": out}


OPS = {"info": op_info, "run": op_run, "memprobe": op_memprobe, "invoke": op_invoke}


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # only replies go to the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            res = OPS[req["op"]](req)
        except Unsupported as exc:
            res = {"unsupported": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one request failed, the server goes on
            res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
