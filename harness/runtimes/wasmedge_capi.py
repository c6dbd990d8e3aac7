"""WasmEdge through its own C API: differential fuzzing's batches for the `wasmedge` and
`wasmedge-aot` rows in ONE engine process instead of a `wasmedge --reactor` process per export
call. The library is libwasmedge, found next to the `wasmedge` program on PATH
(`<prefix>/lib/libwasmedge.so*` or lib64), so it is the same build the CLI rows run.

Run as a script this file is the child: a JSON-lines server (harness.runtimes.childserve), the
standard library only (ctypes for the engine), like harness.runtimes.wasmtime_child, so a guest
that crashes the engine ends only this process; the parent (childproc.batch_answers) records the
death and bisects the batch down to the module. Imported, it is the parent's side (child_for,
CapiChild).

How a call runs, and why so: each job's file is loaded once (WasmEdge_LoaderParseFromFile; for a
file from `wasmedge compile` that maps its native code), and each call runs on a FRESH instance
of it: WasmEdge_VMRunWasmFromASTModule (here its async form) validates the loaded module and
instantiates a new anonymous module each time, dropping the previous one, as `--reactor` does in
a new process. Loading per call (WasmEdge_VMRunWasmFromFile) would read, parse and dlopen the file
again for every call. A call that runs past its time is cancelled in the child (the interpreter,
and AOT code compiled --interruptible, stop on WasmEdge_AsyncCancel) and answers {"timed_out"}.
The interpreter row sets WasmEdge_ConfigureSetForceInterpreter, as its CLI runs
`--force-interpreter`; the AOT row leaves it off, so the loader takes the compiled code.

Answers are read as the CLI's are: WasmEdge logs a failure as "<phase> failed: <message>" and the
adapter reads a trap only in the "execution" and "wasmedge runtime" phases
(harness.runtimes.wasmedge.TRAP_LINE), so the child answers {"trap": message} in those phases
(the parent keeps it a trap only in known trap words, harness.runtimes.traps.kind) and
{"error": "<phase> failed: <message>"} in the others (loading, validation, instantiation).

ABI (include/wasmedge/wasmedge.h of 0.14.1): WasmEdge_String {uint32_t Length; const char *Buf}
and WasmEdge_Result {uint32_t Code} are passed and returned BY VALUE (early versions had a
uint8_t Code: only the library's own WasmEdge_Result* functions read it here); WasmEdge_Value is
{uint128_t Value; WasmEdge_ValType Type} (Type an 8-byte struct in 0.14, an enum before), so its
size differs across versions but Value always comes first: the result is written into a
16-aligned buffer big enough for either layout and its low 8 bytes are the i64. Functions are
looked up, not assumed: a library without one this needs is not used (the row answers a process
per call, and says why); without the async ones calls run synchronously with no time limit of
their own (`info` says which), the parent's deadline still ending a hung child.

Requests: info (the library's version and features), invoke_batch (jobs of module, exports,
on_trap: each export on a fresh instance, then, if the last trapped, the on_trap exports up to
the first that does not return; see CliRuntime.invoke_job).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

if __name__ != "__main__":  # the parent's side; the child imports nothing of the harness
    from harness.runtimes import traps
    from harness.runtimes.base import Invoked
    from harness.runtimes.childproc import EngineChild, answer_of, batch_answers

# WasmEdge's error code: phase in bits 8..15 (include/common/enum.inc, UseWasmPhase)
PHASES = {0: "wasmedge runtime", 1: "loading", 2: "validation", 3: "instantiation", 4: "execution", 5: "user defined"}
TRAP_PHASES = (0, 4)  # the phases the CLI's log line is read as a trap in (wasmedge.TRAP_LINE)
INFO_TIMEOUT_S = 60


class Result(ctypes.Structure):
    _fields_ = [("Code", ctypes.c_uint32)]


class String(ctypes.Structure):
    _fields_ = [("Length", ctypes.c_uint32), ("Buf", ctypes.c_char_p)]


_P, _U32, _BOOL = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_bool
API = {  # name -> (restype, argtypes)
    "WasmEdge_VersionGet": (ctypes.c_char_p, []),
    "WasmEdge_LogOff": (None, []),
    "WasmEdge_ConfigureCreate": (_P, []),
    "WasmEdge_ConfigureSetForceInterpreter": (None, [_P, _BOOL]),
    "WasmEdge_VMCreate": (_P, [_P, _P]),
    "WasmEdge_LoaderCreate": (_P, [_P]),
    "WasmEdge_LoaderParseFromFile": (Result, [_P, ctypes.POINTER(_P), ctypes.c_char_p]),
    "WasmEdge_ASTModuleDelete": (None, [_P]),
    "WasmEdge_VMRunWasmFromASTModule": (Result, [_P, _P, String, _P, _U32, _P, _U32]),
    "WasmEdge_ResultOK": (_BOOL, [Result]),
    "WasmEdge_ResultGetCode": (_U32, [Result]),
    "WasmEdge_ResultGetMessage": (ctypes.c_char_p, [Result]),
}
ASYNC_API = {
    "WasmEdge_VMAsyncRunWasmFromASTModule": (_P, [_P, _P, String, _P, _U32]),
    "WasmEdge_AsyncWaitFor": (_BOOL, [_P, ctypes.c_uint64]),
    "WasmEdge_AsyncCancel": (None, [_P]),
    "WasmEdge_AsyncGet": (Result, [_P, _P, _U32]),
    "WasmEdge_AsyncDelete": (None, [_P]),
}
VALUE_BYTES = 64  # room for any WasmEdge_Value layout (32 bytes in 0.14)


class Library:
    """libwasmedge with its functions typed, and a VM and loader per mode."""

    def __init__(self, path: str):
        self.lib = lib = ctypes.CDLL(path)
        missing = [name for name in API if not hasattr(lib, name)]
        if missing:
            raise RuntimeError(f"{path} lacks {', '.join(missing)}")
        self.has_async = all(hasattr(lib, name) for name in ASYNC_API)
        for name, (restype, argtypes) in {**API, **(ASYNC_API if self.has_async else {})}.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        lib.WasmEdge_LogOff()  # every trap would be logged to stderr; the answers carry them
        self.version = lib.WasmEdge_VersionGet().decode()
        self._modes: dict[bool, tuple[int, int]] = {}
        self._buffer = ctypes.create_string_buffer(VALUE_BYTES + 16)
        self.returns = (ctypes.addressof(self._buffer) + 15) & ~15  # uint128_t wants 16-byte alignment
        self.low = 0 if sys.byteorder == "little" else 8  # where the uint128's low 8 bytes are

    def mode(self, force_interpreter: bool) -> tuple[int, int]:
        """(VM, loader) configured to run the interpreter only, or compiled code where the file has it."""
        if force_interpreter not in self._modes:
            conf = self.lib.WasmEdge_ConfigureCreate()
            self.lib.WasmEdge_ConfigureSetForceInterpreter(conf, force_interpreter)
            self._modes[force_interpreter] = (self.lib.WasmEdge_VMCreate(conf, None), self.lib.WasmEdge_LoaderCreate(conf))
        return self._modes[force_interpreter]

    def answer(self, res: Result) -> dict:
        if self.lib.WasmEdge_ResultOK(res):
            return {"value": ctypes.c_uint64.from_address(self.returns + self.low).value}
        code = self.lib.WasmEdge_ResultGetCode(res)
        message = (self.lib.WasmEdge_ResultGetMessage(res) or b"?").decode("utf-8", "replace")
        phase = (code >> 8) & 0xFF
        if phase in TRAP_PHASES:
            return {"trap": message}
        return {"error": f"{PHASES.get(phase, f'phase {phase}')} failed: {message}"}

    def call(self, vm: int, module: int, name: str, timeout_s: float) -> dict:
        """`name` (no arguments, one result) on a fresh instance of the loaded module."""
        raw = name.encode()
        func = String(len(raw), raw)
        ctypes.memset(self.returns, 0, VALUE_BYTES)
        if not self.has_async:
            return self.answer(self.lib.WasmEdge_VMRunWasmFromASTModule(vm, module, func, None, 0, self.returns, 1))
        run = self.lib.WasmEdge_VMAsyncRunWasmFromASTModule(vm, module, func, None, 0)
        try:
            if not self.lib.WasmEdge_AsyncWaitFor(run, int(timeout_s * 1000)):
                self.lib.WasmEdge_AsyncCancel(run)
                self.lib.WasmEdge_AsyncGet(run, self.returns, 1)  # waits for it to stop (else the parent's deadline)
                return {"timed_out": True}
            return self.answer(self.lib.WasmEdge_AsyncGet(run, self.returns, 1))
        finally:
            self.lib.WasmEdge_AsyncDelete(run)


@functools.lru_cache(maxsize=4)
def library(path: str) -> Library:
    return Library(path)


def op_info(req: dict) -> dict:
    lib = library(req["library"])
    return {"version": lib.version, "features": {"async": lib.has_async}}


def op_invoke_batch(req: dict) -> dict:
    lib = library(req["library"])
    vm, loader = lib.mode(bool(req["force_interpreter"]))
    out = []
    for job in req["jobs"]:
        module = _P()
        res = lib.lib.WasmEdge_LoaderParseFromFile(loader, ctypes.byref(module), job["module"].encode())
        if not lib.lib.WasmEdge_ResultOK(res):
            out.append([lib.answer(res)] * len(job["exports"]))
            continue
        try:
            got = [lib.call(vm, module, name, req["timeout_s"]) for name in job["exports"]]
            if got and "trap" in got[-1]:
                for name in job.get("on_trap", []):
                    got.append(lib.call(vm, module, name, req["timeout_s"]))
                    if "value" not in got[-1]:
                        break
        finally:
            lib.lib.WasmEdge_ASTModuleDelete(module)
        out.append(got)
    return {"results": out}


OPS = {"info": op_info, "invoke_batch": op_invoke_batch}


def main() -> None:
    from childserve import serve  # this file's folder is first on sys.path when it runs as the child

    serve(OPS)


# -- the parent's side --------------------------------------------------------------------------

def library_path(program: str) -> Path | None:
    """libwasmedge next to the program: <prefix>/lib/libwasmedge.so* or lib64 (the unversioned
    name first)."""
    prefix = Path(program).resolve().parent.parent
    for folder in ("lib", "lib64"):
        found = sorted((prefix / folder).glob("libwasmedge.so*"), key=lambda p: len(p.name))
        if found:
            return found[0]
    return None


class CapiChild:
    """One child process serving one row's batches through one libwasmedge."""

    def __init__(self, library: Path, label: str):
        self.library = library
        self.child = EngineChild(Path(__file__), None, label)

    def info(self) -> dict:
        return self.child.request({"op": "info", "library": str(self.library)}, INFO_TIMEOUT_S)

    def invoke_batch(self, jobs: list[tuple[Path, list[str], list[str]]], timeout_s: float,
                     force_interpreter: bool) -> list[list[Invoked]]:
        """Per job its answers, the whole batch in this child (bisected when it dies or hangs)."""
        return batch_answers(self.child.request, {"op": "invoke_batch", "library": str(self.library),
                                                  "force_interpreter": force_interpreter, "timeout_s": timeout_s},
                             jobs, timeout_s, _answer)


def _answer(r: dict) -> Invoked:
    """A call's answer as the CLI path reads it (cli.invoked): a trap only in known trap words."""
    if "trap" in r and traps.kind(r["trap"]) is None:
        return Invoked(error=r["trap"][:200])
    return answer_of(r)


@functools.cache
def child_for(program: str, version: str, row: str) -> tuple[CapiChild | None, str]:
    """(the row's child, "") or (None, why the C API cannot serve it): no library next to the
    program, a library that does not load, or one of another version than the program's
    (`version`, its --version line)."""
    found = library_path(program)
    if found is None:
        return None, f"no libwasmedge.so* in lib/ or lib64/ of {Path(program).resolve().parent.parent}"
    child = CapiChild(found, f"{row} (C API)")
    info = child.info()
    if "version" not in info:
        tail = (info.get("error") or info.get("stderr_tail") or "no reply").strip().splitlines()
        return None, f"{found} does not load: {tail[-1][:200] if tail else '?'}"
    if info["version"] not in version:
        return None, f"{found} is WasmEdge {info['version']}, the program says {version!r}"
    return child, ""


if __name__ == "__main__":
    main()
