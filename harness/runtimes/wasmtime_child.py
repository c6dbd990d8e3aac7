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
canary Store and a host buffer beside it), invoke (exports of a fuzzed module), invoke_batch
(many fuzzed modules in one request), call (one export with arguments), engine (what a
configuration did: knobs, reservation, pool, code).
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
_APPLIED: dict[str, dict] = {}  # engine key -> knob -> how it was set ("Config", "C API")
_OPT_LEVELS = {"none": 0, "speed": 1, "speed_and_size": 2}
_POOL_FIELDS = ("total_core_instances", "total_memories", "total_tables", "max_memory_size",
                "linear_memory_keep_resident", "table_keep_resident", "max_unused_warm_slots")


def _ffi():
    """The wheel's own ctypes bindings of the C API (`wasmtime._bindings`), or None."""
    try:
        from wasmtime import _bindings

        return _bindings
    except ImportError:
        return None


def _c_setter(knob: str):
    ffi = _ffi()
    return getattr(ffi, f"wasmtime_config_{knob}_set", None) if ffi is not None else None


def has_knob(knob: str) -> bool:
    """Whether this version can set the knob: a Config attribute, or the C API of the same
    wheel (`wasmtime_config_<knob>_set`, the pooling allocator, Cranelift flags)."""
    if knob in FEATURES["config_knobs"]:
        return True
    ffi = _ffi()
    if knob == "pooling":
        return ffi is not None and hasattr(ffi, "wasmtime_pooling_allocation_strategy_set")
    if knob == "cranelift_flags":
        return "cranelift_flag_set" in FEATURES["config_knobs"] or (ffi is not None and hasattr(ffi, "wasmtime_config_cranelift_flag_set"))
    return _c_setter(knob) is not None


def _knobs(config: dict) -> dict:
    """The first of the configuration's knob sets (newest names first) this version has."""
    choices = config.get("knobs") or [{}]
    for knobs in choices:
        if all(has_knob(k) for k in knobs):
            return knobs
    wanted = " or ".join("+".join(f"Config.{k}" for k in knobs) for knobs in choices)
    raise Unsupported(f"wasmtime-py {_version()} has no {wanted} (neither in its Config class nor its C API)")


def _ptr(cfg):
    return cfg.ptr() if callable(getattr(cfg, "ptr", None)) else cfg._ptr


def _set(cfg, knob: str, value) -> str:
    """Set one knob; returns how ("Config" or "C API")."""
    ffi = _ffi()
    if knob == "pooling":  # no Python class for it in any wheel: the C API's pooling config
        pool = ffi.wasmtime_pooling_allocation_config_new()
        try:
            for field in _POOL_FIELDS:
                if field in value:
                    getattr(ffi, f"wasmtime_pooling_allocation_config_{field}_set")(pool, value[field])
            ffi.wasmtime_pooling_allocation_strategy_set(_ptr(cfg), pool)
        finally:
            ffi.wasmtime_pooling_allocation_config_delete(pool)
        return "C API"
    if knob == "cranelift_flags":
        for flag, v in value.items():
            if "cranelift_flag_set" in FEATURES["config_knobs"]:
                cfg.cranelift_flag_set(flag, v)
            else:
                ffi.wasmtime_config_cranelift_flag_set(_ptr(cfg), flag.encode(), v.encode())
        return "Config" if "cranelift_flag_set" in FEATURES["config_knobs"] else "C API"
    if knob in FEATURES["config_knobs"]:
        setattr(cfg, knob, value)
        return "Config"
    if knob == "cranelift_opt_level":
        value = _OPT_LEVELS[value]
    _c_setter(knob)(_ptr(cfg), value)
    return "C API"


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
        applied = {}
        for knob, value in _knobs(config).items():
            try:
                applied[knob] = _set(cfg, knob, value)
            except Exception as exc:  # noqa: BLE001 - the engine's own refusal, passed on
                raise Unsupported(f"Config.{knob}={value!r}: {exc}") from None
        try:
            eng = wasmtime.Engine(cfg)
        except Exception as exc:  # noqa: BLE001 - e.g. a Cranelift flag this version does not know
            raise Unsupported(f"configuration {config.get('name')!r} refused by the engine: {str(exc).splitlines()[0][:200]}") from None
        _ENGINES[key], _APPLIED[key] = eng, applied
        if FEATURES["epoch"]:
            threading.Thread(target=_tick, args=(eng,), daemon=True).start()
    return _ENGINES[key]


def applied(config: dict) -> dict:
    """knob -> how it was set, for the engine of this configuration (built if needed)."""
    engine(config)
    return _APPLIED[json.dumps(config, sort_keys=True)]


def new_store(eng, fuel, timeout_s, memory_bytes, table_elements=None):
    store = wasmtime.Store(eng)
    if FEATURES["fuel"] == "set_fuel":
        store.set_fuel(fuel if fuel is not None else 2**63 - 1)
    elif FEATURES["fuel"] == "add_fuel":
        store.add_fuel(fuel if fuel is not None else 2**63 - 1)
    if FEATURES["epoch"]:
        store.set_epoch_deadline(max(1, int(timeout_s / EPOCH_TICK_S)))
    if FEATURES["limits"] and (memory_bytes or table_elements):
        store.set_limits(**({"memory_size": memory_bytes} if memory_bytes else {}),
                         **({"table_elements": table_elements} if table_elements else {}))
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


_SHARED = getattr(wasmtime, "SharedMemory", None)


def _shared(mem) -> bool:
    """A shared memory (atomics) belongs to no store: its methods take none."""
    return _SHARED is not None and isinstance(mem, _SHARED)


def _data_len(store, mem) -> int:
    return mem.data_len() if _shared(mem) else mem.data_len(store)


def _memory_base(store, mem) -> int:
    ptr = mem.data_ptr() if _shared(mem) else mem.data_ptr(store)
    return ctypes.cast(ptr, ctypes.c_void_p).value


def _memory_bytes(store, mem) -> bytes:
    return ctypes.string_at(_memory_base(store, mem), _data_len(store, mem))


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


def diffs(before: bytes, after: bytes, chunk: int = 256, block: int = 1 << 16) -> list:
    """Changed byte ranges [start, end, first bytes hex] (at most MAX_DIFFS). Equal 64 KiB
    blocks, then equal chunks, are skipped with one comparison each (memories of hundreds of
    pages are compared in milliseconds)."""
    out, n = [], min(len(before), len(after))
    start = None
    for blk in range(0, n, block):
        if start is None and before[blk:blk + block] == after[blk:blk + block]:
            continue
        for base in range(blk, min(blk + block, n), chunk):
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


TENANT_GROW_PAGES = 4  # how far the previous tenant of a pooling slot grows its memory


def _tail_bytes(end: int) -> int | None:
    """The size of the inaccessible mapping that starts where linear memory ends: the rest
    of the engine's reservation and its guard (what memory_reservation / guard knobs set),
    from /proc/self/maps; None where there is none right there."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                span, perms = line.split()[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if lo == end:
                    return hi - lo if perms.startswith("---") else 0
    except OSError:
        return None
    return 0


def _previous_tenant(eng, module, secret: bytes, timeout_s: float) -> dict:
    """Under a pooling allocator: an instance that grows its memory and fills it with a secret,
    then goes away, so the next instance of the module is given its slot (what a multi-tenant
    host does). Returns its slot's base and size for the guest's check."""
    store = new_store(eng, None, timeout_s, None)
    inst = wasmtime.Instance(store, module, [])
    mem = inst.exports(store)["memory"]
    try:
        mem.grow(TENANT_GROW_PAGES) if _shared(mem) else mem.grow(store, TENANT_GROW_PAGES)
    except wasmtime.WasmtimeError:
        pass  # a pool too small to grow: the tenant leaves what it has
    size = _data_len(store, mem)
    _write_memory(store, mem, fill(secret + b"tenant", size))
    out = {"base": _memory_base(store, mem), "size": size}
    del mem, inst, store
    gc.collect()
    return out


def op_memprobe(req):
    """One generated memory access. Canaries first (mmap places later mappings lower, so a
    canary Store made before the guest sits *above* it, where an unwrapped address reaches):
    a Store holding the same module with its memory filled with the secret, and a host buffer
    filled with the secret. Under a pooling allocator a previous tenant then uses and leaves a
    slot, and the guest (in that slot) must start from zeros at its declared size. Then the
    guest, its memory filled with the nonce, and the call."""
    config = req.get("config") or {}
    eng = engine(config)
    module = _module(eng, req["module"])
    secret, nonce = bytes.fromhex(req["secret"]), bytes.fromhex(req["nonce"])
    host = mmap.mmap(-1, HOST_BUFFER)
    host.write(fill(secret + b"host", HOST_BUFFER))
    canary_store = new_store(eng, None, req["timeout_s"], None)
    canary = wasmtime.Instance(canary_store, module, [])
    cmem = canary.exports(canary_store)["memory"]
    canary_fill = fill(secret + b"store", _data_len(canary_store, cmem))
    _write_memory(canary_store, cmem, canary_fill)
    tenant = _previous_tenant(eng, module, secret, req["timeout_s"]) if "pooling" in applied(config) else None
    store = new_store(eng, None, req["timeout_s"], None)
    inst = wasmtime.Instance(store, module, [])
    mem = inst.exports(store)["memory"]
    res = {"results": None, "trap": None, "error": None, "applied": applied(config),
           "layout": {"guest": _memory_base(store, mem), "canary_store": _memory_base(canary_store, cmem),
                      "host_buffer": ctypes.addressof(ctypes.c_char.from_buffer(host))}}
    if tenant is not None:  # a reused slot must look like a fresh one: zeros, at the declared size
        fresh = _memory_bytes(store, mem)
        res["tenant"] = dict(tenant, slot_reused=tenant["base"] == res["layout"]["guest"])
        res["fresh_size"] = len(fresh)
        res["fresh_nonzero"] = next((i for i, b in enumerate(fresh) if b), None) if fresh.count(0) != len(fresh) else None
    before = fill(nonce, _data_len(store, mem))
    _write_memory(store, mem, before)
    try:
        res["results"] = _call(store, inst.exports(store)[req.get("func", "probe")], req["args"])
    except wasmtime.Trap as exc:
        res["trap"] = trap_kind(exc)  # (its message symbolises a backtrace: 100 ms, so not read)
    except wasmtime.WasmtimeError as exc:
        res["error"] = str(exc).splitlines()[0][:300]
    after = _memory_bytes(store, mem)
    res["memory_size"] = len(after)
    res["diffs"] = diffs(before + bytes(max(0, len(after) - len(before))), after)  # grown pages start as zeros
    if tenant is not None and res["diffs"]:
        res["tenant_bytes"] = _tenant_bytes(after, len(before), secret, tenant["size"])
    res["canary_store_intact"] = _memory_bytes(canary_store, cmem) == canary_fill
    host.seek(0)
    res["host_buffer_intact"] = host.read(HOST_BUFFER) == fill(secret + b"host", HOST_BUFFER)
    return res


def _tenant_bytes(after: bytes, start: int, secret: bytes, size: int) -> int | None:
    """The first offset at or past `start` (the guest's grown pages) that holds the previous
    tenant's secret byte there, in a run of 8: a grown page that was not zeroed."""
    tenant = fill(secret + b"tenant", size)
    for i in range(start, min(len(after), size) - 7, 8):
        if after[i:i + 8] == tenant[i:i + 8] and any(after[i:i + 8]):
            return i
    return None


def op_call(req):
    """One export of a module without imports, on a fresh instance, with arguments: its
    results (as bits), or the trap, or the error (the value probes: harness.probes.simdgen)."""
    eng = engine(req.get("config") or {})
    module = _module(eng, req["module"])
    store = new_store(eng, None, req["timeout_s"], None, req.get("table_elements"))
    res = {"results": None, "trap": None, "error": None, "applied": applied(req.get("config") or {})}
    try:
        inst = wasmtime.Instance(store, module, [])
        res["results"] = _call(store, inst.exports(store)[req.get("func", "probe")], req["args"])
    except wasmtime.Trap as exc:
        res["trap"] = trap_kind(exc)
    except wasmtime.WasmtimeError as exc:
        res["error"] = str(exc).splitlines()[0][:300]
    return res


def op_engine(req):
    """What an engine configuration did: how each knob was set, where a fresh instance's
    memory lies and how much inaccessible reservation follows it, and (`instances`: N) how
    many instances can live at once (a pooling allocator refuses past its pool)."""
    config = req.get("config") or {}
    eng = engine(config)
    module = _module(eng, req["module"])
    store = new_store(eng, None, 10.0, None)
    inst = wasmtime.Instance(store, module, [])
    mem = inst.exports(store)["memory"]
    base, size = _memory_base(store, mem), _data_len(store, mem)
    res = {"applied": applied(config), "base": base, "size": size, "tail_bytes": _tail_bytes(base + size)}
    alive, error = [], None
    for _ in range(req.get("instances", 0)):
        try:
            s = new_store(eng, None, 10.0, None)
            alive.append((s, wasmtime.Instance(s, module, [])))
        except wasmtime.WasmtimeError as exc:
            error = str(exc).splitlines()[0][:300]
            break
    res["instances_created"], res["instances_error"] = len(alive), error
    text = _elf_text(module.serialize())
    res["text_sha256"], res["text_bytes"] = (hashlib.sha256(text).hexdigest(), len(text)) if text is not None else (None, None)
    return res


def _elf_text(elf: bytes) -> bytes | None:
    """The machine code (.text) of a serialized module (an ELF64 file): what Cranelift flags
    and opt levels change, apart from the metadata that names them."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return None
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names_at = sections[shstrndx][4]
    for name, _type, _flags, _addr, offset, size in sections:
        if elf[names_at + name:elf.index(b"\0", names_at + name)] == b".text":
            return elf[offset:offset + size]
    return None


def op_invoke(req):
    """Each listed export (no arguments, one result: harness.fuzzdriver's driver exports) on a
    fresh instance of a module without imports: {"value"} or {"trap"} or {"error"} each."""
    eng = engine(req.get("config") or {})
    module = _module(eng, req["module"])
    return {"results": [_invoke_one(lambda: new_store(eng, req.get("fuel"), req["timeout_s"], req.get("memory_bytes")),
                                    module, name) for name in req["exports"]]}


def _invoke_one(new, module, name, retry=True):
    """`name` on a fresh instance in a fresh store (`new()`). A pooling allocator's slots come
    back only when earlier stores are freed, and a trap's reference cycles free them only at a
    collection: a "concurrent limit" refusal collects and tries once more, so a batch answers
    as its calls would one by one."""
    store = new()
    try:
        value = wasmtime.Instance(store, module, []).exports(store)[name](store)
        return {"value": getattr(value, "value", value) & 0xFFFFFFFFFFFFFFFF}
    except wasmtime.Trap as exc:
        return {"trap": trap_kind(exc)}
    except wasmtime.WasmtimeError as exc:
        if retry and "concurrent limit" in str(exc):
            del store, exc
            gc.collect()
            return _invoke_one(new, module, name, retry=False)
        return {"error": str(exc).splitlines()[0][:200]}


def op_invoke_batch(req):
    """Many modules in one request (differential fuzzing's batches): per job, each export of
    `exports` on a fresh instance, then, if the last of them did not return, the `on_trap`
    exports in order up to the first that does not return either (the trapping call's search).
    Each module is compiled once. A job whose module does not compile answers {"error"} for it."""
    eng = engine(req.get("config") or {})
    out = []
    for job in req["jobs"]:
        try:
            module = _module(eng, job["module"])
        except wasmtime.WasmtimeError as exc:
            out.append([{"error": str(exc).splitlines()[0][:200]}] * len(job["exports"]))
            continue

        def call(name):
            return _invoke_one(lambda: new_store(eng, req.get("fuel"), req["timeout_s"], req.get("memory_bytes")), module, name)

        got = [call(name) for name in job["exports"]]
        if got and "trap" in got[-1]:
            for name in job.get("on_trap", []):
                got.append(call(name))
                if "value" not in got[-1]:
                    break
        out.append(got)
    return {"results": out}


OPS = {"info": op_info, "run": op_run, "memprobe": op_memprobe, "invoke": op_invoke, "invoke_batch": op_invoke_batch,
       "engine": op_engine, "call": op_call}


def main() -> None:
    from childserve import serve  # this file's folder is first on sys.path when it runs as the child

    serve(OPS, (Unsupported,))


if __name__ == "__main__":
    main()
