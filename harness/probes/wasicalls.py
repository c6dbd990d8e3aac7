"""The WASI preview1 call interpreter: a guest (WAT, generated from the OPS table below) that
reads a sequence of raw `wasi_snapshot_preview1` calls as data on stdin and executes each one
with exactly the arguments given, so dirflags, oflags, rights base and inheriting, fdflags,
whence, timestamps and lengths are all ours, never a libc's choice.

Input: records back to back, little-endian:
    u32 opcode | u32 refmask | 8 x i64 args | u32 len1, path1 (padded to 4) | u32 len2, path2 (padded to 4)
Bit k of refmask makes arg k a *register*: the value returned by that earlier step (a
descriptor from path_open, a byte count), so a later call uses a descriptor an earlier one
returned whatever number the engine gave it. path1 is the path (or the bytes fd_write writes,
or a symlink's target text); path2 the second path (rename, link, symlink).
Output: one line per call, written before the next starts (so a host crash shows how far it got):
    SSSS OO EEEE RRRRRRRRRRRRRRRR[ DATA]
step, opcode, errno, returned value (descriptor, count or offset; 0 if none), and, for calls
that read into guest memory (fd_read, readlink, readdir, fdstat, filestat, environ, args), the
first 256 bytes in hex. A last line `END SSSS` says the guest finished.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import wasmtime

IN, MAX_INPUT = 65536, 3 * 65536  # input at page 1; memory is 4 pages
OUT, IOV, ARGS, REGS, BUF, PTRS, SUB = 512, 528, 256, 8192, 12288, 16384, 20480
MAX_STEPS = 512
DATA_HEX = 256


@dataclass(frozen=True)
class Op:
    """One preview1 call: the import's (params), the call with its arguments as WAT (A32 k / A64 k:
    argument k; P1 L1 P2 L2: the paths), what it returns (u32/u64 at OUT, or none) and how many
    bytes of BUF it read in (`data`: a WAT i32 expression, "" for none)."""

    name: str
    params: str
    call: str
    ret: str = ""  # "u32" | "u64" | ""
    data: str = ""
    pre: str = ""  # WAT run before the call (fills an iovec or a subscription)


def _a32(k: int) -> str:
    return f"(call $a32 (i32.const {k}))"


def _a64(k: int) -> str:
    return f"(call $a64 (i32.const {k}))"


def _cap(expr: str, limit: int) -> str:
    return f"(call $min {expr} (i32.const {limit}))"


_IOV_PATH = f"(i32.store (i32.const {IOV}) (global.get $p1)) (i32.store (i32.const {IOV + 4}) (global.get $l1))"
_IOV_BUF = f"(i32.store (i32.const {IOV}) (i32.const {BUF})) (i32.store (i32.const {IOV + 4}) {_cap(_a32(1), 4096)})"
_OUT32 = f"(i32.load (i32.const {OUT}))"

OPS: tuple[Op, ...] = (
    Op("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32",
       f"{_a32(0)} {_a32(1)} (global.get $p1) (global.get $l1) {_a32(2)} {_a64(3)} {_a64(4)} {_a32(5)} (i32.const {OUT})", "u32"),
    Op("fd_close", "i32", _a32(0)),
    Op("fd_renumber", "i32 i32", f"{_a32(0)} {_a32(1)}"),
    Op("path_link", "i32 i32 i32 i32 i32 i32 i32",
       f"{_a32(0)} {_a32(1)} (global.get $p1) (global.get $l1) {_a32(2)} (global.get $p2) (global.get $l2)"),
    Op("path_rename", "i32 i32 i32 i32 i32 i32",
       f"{_a32(0)} (global.get $p1) (global.get $l1) {_a32(1)} (global.get $p2) (global.get $l2)"),
    Op("path_symlink", "i32 i32 i32 i32 i32", f"(global.get $p1) (global.get $l1) {_a32(0)} (global.get $p2) (global.get $l2)"),
    Op("path_readlink", "i32 i32 i32 i32 i32 i32",
       f"{_a32(0)} (global.get $p1) (global.get $l1) (i32.const {BUF}) {_cap(_a32(1), 4096)} (i32.const {OUT})", "u32", _OUT32),
    Op("path_unlink_file", "i32 i32 i32", f"{_a32(0)} (global.get $p1) (global.get $l1)"),
    Op("path_remove_directory", "i32 i32 i32", f"{_a32(0)} (global.get $p1) (global.get $l1)"),
    Op("path_create_directory", "i32 i32 i32", f"{_a32(0)} (global.get $p1) (global.get $l1)"),
    Op("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32",
       f"{_a32(0)} {_a32(1)} (global.get $p1) (global.get $l1) {_a64(2)} {_a64(3)} {_a32(4)}"),
    Op("fd_write", "i32 i32 i32 i32", f"{_a32(0)} (i32.const {IOV}) (i32.const 1) (i32.const {OUT})", "u32", pre=_IOV_PATH),
    Op("fd_pwrite", "i32 i32 i32 i64 i32", f"{_a32(0)} (i32.const {IOV}) (i32.const 1) {_a64(2)} (i32.const {OUT})", "u32",
       pre=_IOV_PATH),
    Op("fd_read", "i32 i32 i32 i32", f"{_a32(0)} (i32.const {IOV}) (i32.const 1) (i32.const {OUT})", "u32", _OUT32, _IOV_BUF),
    Op("fd_pread", "i32 i32 i32 i64 i32", f"{_a32(0)} (i32.const {IOV}) (i32.const 1) {_a64(2)} (i32.const {OUT})", "u32",
       _OUT32, _IOV_BUF),
    Op("fd_seek", "i32 i64 i32 i32", f"{_a32(0)} {_a64(1)} {_a32(2)} (i32.const {OUT})", "u64"),
    Op("fd_tell", "i32 i32", f"{_a32(0)} (i32.const {OUT})", "u64"),
    Op("fd_allocate", "i32 i64 i64", f"{_a32(0)} {_a64(1)} {_a64(2)}"),
    Op("fd_filestat_set_size", "i32 i64", f"{_a32(0)} {_a64(1)}"),
    Op("fd_filestat_set_times", "i32 i64 i64 i32", f"{_a32(0)} {_a64(1)} {_a64(2)} {_a32(3)}"),
    Op("fd_fdstat_set_flags", "i32 i32", f"{_a32(0)} {_a32(1)}"),
    Op("fd_fdstat_set_rights", "i32 i64 i64", f"{_a32(0)} {_a64(1)} {_a64(2)}"),
    Op("fd_fdstat_get", "i32 i32", f"{_a32(0)} (i32.const {BUF})", data="(i32.const 24)"),
    Op("fd_filestat_get", "i32 i32", f"{_a32(0)} (i32.const {BUF})", data="(i32.const 64)"),
    Op("path_filestat_get", "i32 i32 i32 i32 i32", f"{_a32(0)} {_a32(1)} (global.get $p1) (global.get $l1) (i32.const {BUF})",
       data="(i32.const 64)"),
    Op("fd_readdir", "i32 i32 i32 i64 i32", f"{_a32(0)} (i32.const {BUF}) {_cap(_a32(1), 4096)} {_a64(2)} (i32.const {OUT})",
       "u32", _OUT32),
    Op("fd_prestat_get", "i32 i32", f"{_a32(0)} (i32.const {BUF})", data="(i32.const 8)"),
    Op("fd_prestat_dir_name", "i32 i32 i32", f"{_a32(0)} (i32.const {BUF}) {_cap(_a32(1), 4096)}", data=_cap(_a32(1), 4096)),
    Op("fd_sync", "i32", _a32(0)),
    Op("fd_advise", "i32 i64 i64 i32", f"{_a32(0)} {_a64(1)} {_a64(2)} {_a32(3)}"),
    Op("random_get", "i32 i32", f"(i32.const {BUF}) {_cap(_a32(0), 4096)}"),
    # environ/args: the sizes call first (its errno is the step's if it fails), then the strings
    Op("environ_get", "i32 i32", f"(i32.const {PTRS}) (i32.const {BUF})", data=f"(i32.load (i32.const {OUT + 4}))",
       pre=f"(if (call $environ_sizes_get (i32.const {OUT}) (i32.const {OUT + 4})) (then (return (i32.const 28))))"
           f"(if (i32.gt_u (i32.load (i32.const {OUT + 4})) (i32.const 4096)) (then (return (i32.const 75))))"),
    Op("args_get", "i32 i32", f"(i32.const {PTRS}) (i32.const {BUF})", data=f"(i32.load (i32.const {OUT + 4}))",
       pre=f"(if (call $args_sizes_get (i32.const {OUT}) (i32.const {OUT + 4})) (then (return (i32.const 28))))"
           f"(if (i32.gt_u (i32.load (i32.const {OUT + 4})) (i32.const 4096)) (then (return (i32.const 75))))"),
    # one subscription: arg0 its tag (0 clock, 1 fd_read, 2 fd_write), arg1 the fd, arg2 the clock timeout (ns)
    Op("poll_oneoff", "i32 i32 i32 i32", f"(i32.const {SUB}) (i32.const {SUB + 64}) (i32.const 1) (i32.const {OUT})", "u32",
       pre=f"(memory.fill (i32.const {SUB}) (i32.const 0) (i32.const 48)) (i32.store8 (i32.const {SUB + 8}) {_a32(0)})"
           f"(i32.store (i32.const {SUB + 16}) {_a32(1)}) (i64.store (i32.const {SUB + 24}) {_a64(2)})"),
    Op("sock_accept", "i32 i32 i32", f"{_a32(0)} {_a32(1)} (i32.const {OUT})", "u32"),
    Op("sock_shutdown", "i32 i32", f"{_a32(0)} {_a32(1)}"),
    Op("proc_exit", "i32", _a32(0)),
)
OPCODE = {op.name: i for i, op in enumerate(OPS)}
_HELPER_IMPORTS = (("fd_read", "i32 i32 i32 i32", "i32"), ("fd_write", "i32 i32 i32 i32", "i32"),
                   ("environ_sizes_get", "i32 i32", "i32"), ("args_sizes_get", "i32 i32", "i32"))


def _imports() -> str:
    seen, lines = set(), []
    for name, params, result in _HELPER_IMPORTS + tuple((o.name, o.params, "" if o.name == "proc_exit" else "i32") for o in OPS):
        if name in seen:
            continue
        seen.add(name)
        res = f" (result {result})" if result else ""
        lines.append(f'  (import "wasi_snapshot_preview1" "{name}" (func ${name} (param {params}){res}))')
    return "\n".join(lines)


def _op_func(i: int, op: Op) -> str:
    call = f"(call ${op.name} {op.call})"
    if op.name == "proc_exit":
        body = f"{call} (i32.const 0)"
    else:
        body = f"(local.set $e {call})"
        if op.ret:
            load = "i64.load32_u" if op.ret == "u32" else "i64.load"
            body += f" (if (i32.eqz (local.get $e)) (then (global.set $ret ({load} (i32.const {OUT})))))"
        if op.data:
            body += f" (if (i32.eqz (local.get $e)) (then (global.set $dlen {op.data})))"
        body += " (local.get $e)"
    return f"  (func $op{i} (result i32) (local $e i32) {op.pre} {body})"


def wat() -> str:
    """The interpreter module's text (imports, the op functions, the read/dispatch/print loop)."""
    table = " ".join(f"$op{i}" for i in range(len(OPS)))
    return f"""(module
{_imports()}
  (memory (export "memory") 4)
  (type $opfn (func (result i32)))
  (table {len(OPS)} funcref)
  (elem (i32.const 0) {table})
  (global $p1 (mut i32) (i32.const 0)) (global $l1 (mut i32) (i32.const 0))
  (global $p2 (mut i32) (i32.const 0)) (global $l2 (mut i32) (i32.const 0))
  (global $ret (mut i64) (i64.const 0)) (global $dlen (mut i32) (i32.const 0))
  (global $o (mut i32) (i32.const 1024))
  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))
  (func $a64 (param $k i32) (result i64) (i64.load (i32.add (i32.const {ARGS}) (i32.shl (local.get $k) (i32.const 3)))))
  (func $a32 (param $k i32) (result i32) (i32.wrap_i64 (call $a64 (local.get $k))))
  (func $byte (param $b i32) (i32.store8 (global.get $o) (local.get $b)) (global.set $o (i32.add (global.get $o) (i32.const 1))))
  (func $hex (param $v i64) (param $digits i32) (local $d i32)
    (loop $next
      (local.set $digits (i32.sub (local.get $digits) (i32.const 1)))
      (local.set $d (i32.wrap_i64 (i64.and (i64.shr_u (local.get $v) (i64.extend_i32_u (i32.shl (local.get $digits) (i32.const 2))))
                                          (i64.const 15))))
      (call $byte (i32.add (local.get $d) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $d) (i32.const 10)))))
      (br_if $next (local.get $digits))))
  (func $flush
    (i32.store (i32.const {IOV + 16}) (i32.const 1024))
    (i32.store (i32.const {IOV + 20}) (i32.sub (global.get $o) (i32.const 1024)))
    (drop (call $fd_write (i32.const 1) (i32.const {IOV + 16}) (i32.const 1) (i32.const {IOV + 24})))
    (global.set $o (i32.const 1024)))
  (func $read_all (result i32) (local $got i32) (local $n i32)
    (block $eof
      (loop $more
        (i32.store (i32.const {IOV + 32}) (i32.add (i32.const {IN}) (local.get $got)))
        (i32.store (i32.const {IOV + 36}) (i32.sub (i32.const {MAX_INPUT}) (local.get $got)))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const {IOV + 32}) (i32.const 1) (i32.const {IOV + 40})))
        (local.set $n (i32.load (i32.const {IOV + 40})))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $got (i32.add (local.get $got) (local.get $n)))
        (br_if $more (i32.lt_u (local.get $got) (i32.const {MAX_INPUT})))))
    (local.get $got))
  (func $pad4 (param $n i32) (result i32) (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)))
{chr(10).join(_op_func(i, op) for i, op in enumerate(OPS))}
  (func (export "_start") (local $pc i32) (local $end i32) (local $step i32) (local $op i32) (local $mask i32)
                          (local $k i32) (local $v i64) (local $e i32) (local $i i32) (local $q i32)
    (local.set $end (i32.add (i32.const {IN}) (call $read_all)))
    (local.set $pc (i32.const {IN}))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $pc) (i32.const 80)) (local.get $end)))
        (br_if $done (i32.ge_u (local.get $step) (i32.const {MAX_STEPS})))
        (local.set $op (i32.load (local.get $pc)))
        (br_if $done (i32.ge_u (local.get $op) (i32.const {len(OPS)})))
        (local.set $mask (i32.load offset=4 (local.get $pc)))
        (local.set $k (i32.const 0))
        (loop $arg
          (local.set $v (i64.load offset=8 (i32.add (local.get $pc) (i32.shl (local.get $k) (i32.const 3)))))
          (if (i32.and (local.get $mask) (i32.shl (i32.const 1) (local.get $k)))
            (then (local.set $v (if (result i64) (i64.lt_u (local.get $v) (i64.extend_i32_u (local.get $step)))
                                  (then (i64.load (i32.add (i32.const {REGS}) (i32.shl (i32.wrap_i64 (local.get $v)) (i32.const 3)))))
                                  (else (i64.const 0xffffffff))))))
          (i64.store (i32.add (i32.const {ARGS}) (i32.shl (local.get $k) (i32.const 3))) (local.get $v))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $arg (i32.lt_u (local.get $k) (i32.const 8))))
        (global.set $l1 (i32.load offset=72 (local.get $pc)))
        (global.set $p1 (i32.add (local.get $pc) (i32.const 76)))
        (local.set $q (i32.add (global.get $p1) (call $pad4 (global.get $l1))))
        (br_if $done (i32.gt_u (i32.add (local.get $q) (i32.const 4)) (local.get $end)))
        (global.set $l2 (i32.load (local.get $q)))
        (global.set $p2 (i32.add (local.get $q) (i32.const 4)))
        (local.set $pc (i32.add (global.get $p2) (call $pad4 (global.get $l2))))
        (br_if $done (i32.gt_u (local.get $pc) (local.get $end)))
        (global.set $ret (i64.const 0))
        (global.set $dlen (i32.const 0))
        (local.set $e (call_indirect (type $opfn) (local.get $op)))
        (i64.store (i32.add (i32.const {REGS}) (i32.shl (local.get $step) (i32.const 3)))
                   (if (result i64) (local.get $e) (then (i64.const 0xffffffff)) (else (global.get $ret))))
        (call $hex (i64.extend_i32_u (local.get $step)) (i32.const 4)) (call $byte (i32.const 32))
        (call $hex (i64.extend_i32_u (local.get $op)) (i32.const 2)) (call $byte (i32.const 32))
        (call $hex (i64.extend_i32_u (local.get $e)) (i32.const 4)) (call $byte (i32.const 32))
        (call $hex (global.get $ret) (i32.const 16))
        (if (global.get $dlen)
          (then
            (call $byte (i32.const 32))
            (local.set $i (i32.const 0))
            (loop $d
              (call $hex (i64.load8_u (i32.add (i32.const {BUF}) (local.get $i))) (i32.const 2))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $d (i32.lt_u (local.get $i) (call $min (global.get $dlen) (i32.const {DATA_HEX})))))))
        (call $byte (i32.const 10))
        (call $flush)
        (local.set $step (i32.add (local.get $step) (i32.const 1)))
        (br $next)))
    (call $byte (i32.const 69)) (call $byte (i32.const 78)) (call $byte (i32.const 68)) (call $byte (i32.const 32))
    (call $hex (i64.extend_i32_u (local.get $step)) (i32.const 4)) (call $byte (i32.const 10))
    (call $flush)))
"""


def module_bytes() -> bytes:
    return wasmtime.wat2wasm(wat())


# -- encoding and decoding --------------------------------------------------------------------

def encode_call(op: str, args=(), refs=frozenset(), path1: bytes = b"", path2: bytes = b"") -> bytes:
    """One record: `args` (up to 8 integers; those whose index is in `refs` name an earlier step)."""
    vals = [int(a) & 0xFFFFFFFFFFFFFFFF for a in args] + [0] * (8 - len(args))
    mask = sum(1 << k for k in refs)
    out = struct.pack("<II8Q", OPCODE[op], mask, *vals)
    for p in (path1, path2):
        out += struct.pack("<I", len(p)) + p + b"\0" * (-len(p) % 4)
    return out


@dataclass(frozen=True)
class Step:
    """One call's line: errno, returned value, and the bytes it read (hex-decoded)."""

    step: int
    op: str
    errno: int
    ret: int
    data: bytes = b""


def parse_output(stdout: bytes) -> tuple[list[Step], bool]:
    """(steps the guest reported, whether it reached its END line)."""
    steps, finished = [], False
    for line in stdout.decode("latin-1").splitlines():
        parts = line.split(" ")
        if parts[0] == "END":
            finished = True
            continue
        if len(parts) < 4 or len(parts[0]) != 4:
            continue
        try:
            step, opc, errno, ret = int(parts[0], 16), int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
            data = bytes.fromhex(parts[4]) if len(parts) > 4 else b""
        except ValueError:
            continue
        if opc < len(OPS):
            steps.append(Step(step, OPS[opc].name, errno, ret, data))
    return steps, finished
