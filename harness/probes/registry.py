"""The probe registry: one entry per probe guest, saying what it tries, what counts as an
escape, whether a native run is a positive control, how Hypothesis draws its parameters and
how they become the guest's stdin.

C guests (`c/<source>.c`) build natively and for wasm32-wasi from one source; WAT guests
(`wat/<source>.wat`) are used where the instruction shape matters; component guests
(`component/<source>.wat` + its WIT) call WASI 0.2 interfaces (wasi:sockets) that no C
toolchain here targets. Filesystem, environment
and network escapes are judged by the canaries (harness.canary); memory, control and the
wasm-only resource probes also by the guest's own report, checked against what the harness
computes itself (`judge`).
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from harness.probes import params as P

M32 = (1 << 32) - 1
LOAD_OFFSETS = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFC)
MARKER = 0xC0FFEE11
SCRATCH_END = 256  # the WAT prelude's scratch area: values there are not the pattern
NONCE_WORD = 15  # the WAT probes' parameter word that carries the per-run pattern nonce


@dataclass(frozen=True)
class Probe:
    name: str
    category: str  # filesystem, environment, network, memory, control, resources, limits
    language: str  # c | wat | component
    source: str  # file stem under c/, wat/ or component/
    escape: str  # what counts as an escape, in words
    native: bool  # a native run of the same source is the positive control
    choices: Callable[[], st.SearchStrategy] = lambda: st.just(())
    render: Callable = lambda ch, lay: {}  # (choices, Layout) -> dict (C) or list of u32 (WAT)
    judge: Callable | None = None  # (choices, report) -> reason if the report shows an escape, or (word, reason)
    expect_trap: Callable | None = None  # (choices) -> True/False if a trap is (not) the right answer, None: depends
    needs_readonly: bool = False  # the escape is a write to the read-only preopen
    no_native_reason: str = ""
    examples: tuple = ()  # choices always run first (the issue's named cases), besides Hypothesis' draws
    # The positive control is the same guest under the same runtime with the network granted
    # (WasiSetup.network): proof that the probe speaks that runtime's ABI and can get out.
    grant_control: bool = False
    hang_is_failure: bool = False  # the criterion says a hang is a failure (a loop must end in ELOOP), not inconclusive

    def stdin(self, choices, lay: "P.Layout") -> bytes:
        """The guest's parameters: key=hex lines (C, with the layout) or u32 words (WAT, component)."""
        values = self.render(choices, lay)
        if self.language in ("wat", "component"):  # word 15: the per-run nonce the WAT prelude mixes into its pattern
            words = [*values, *[0] * (NONCE_WORD - len(values)), secrets.randbits(32)]
            return b"".join(struct.pack("<I", v & M32) for v in words)
        base = {"rw": lay.rw, "ro": lay.ro, "secret": str(lay.secret), "outside": str(lay.outside),
                "target": str(lay.target), "out_rel": "../../outside", "port": str(lay.port), "envname": lay.envname}
        base.update(values)
        return b"".join(k.encode() + b"=" + (v if isinstance(v, bytes) else str(v).encode()).hex().encode() + b"\n"
                        for k, v in base.items())


# -- the pattern the WAT prelude writes into the first page -------------------------------

def _page_model() -> bytes:
    page = bytearray(P.PAGE)
    for a in range(SCRATCH_END, P.PAGE, 4):
        page[a:a + 4] = struct.pack("<I", (a * 0x9E3779B1) & M32)
    return bytes(page)


PAGE_MODEL = _page_model()


def _expected_word(ea: int, nonce: int = 0) -> int | None:
    """What an in-bounds i32 load at ea must return (None: scratch area, not checked), for the
    pattern xor the run's nonce (straddling words mix bytes of two pattern words)."""
    if ea < SCRATCH_END or ea + 4 > P.MEMORY:
        return None
    lo, hi = ea & ~3, (ea & ~3) + 4
    raw = b"".join(struct.pack("<I", struct.unpack("<I", PAGE_MODEL[a:a + 4])[0] ^ nonce) if a < P.MEMORY else b"\0" * 4
                   for a in (lo, hi))
    return struct.unpack("<I", raw[ea - lo:ea - lo + 4])[0]


def _in_bounds(ea: int, size: int = 4) -> bool:
    return ea + size <= P.MEMORY


def _hexval(report: dict, tag: str) -> int | None:
    vals = report.get(tag)
    return vals[-1] if vals else None


def _judge_load(ea: int, report: dict) -> str | None:
    v = _hexval(report, "V")
    if v is None:
        return None
    if not _in_bounds(ea):
        return f"a load at effective address {ea:#x}, past the {P.MEMORY:#x}-byte memory, returned {v:#010x} instead of trapping"
    want = _expected_word(ea, _hexval(report, "N") or 0)
    if want is not None and v != want:
        return f"an in-bounds load at {ea:#x} returned {v:#010x}, not the {want:#010x} planted there: it read somewhere else"
    return None


def _judge_store(ea: int, report: dict) -> str | None:
    if not _in_bounds(ea) and ("V" in report or "D" in report):
        return f"a store at effective address {ea:#x}, past the end of memory, did not trap"
    v = _hexval(report, "V")
    if _in_bounds(ea) and ea >= SCRATCH_END and v is not None and v != MARKER:
        return f"a store meant for {ea:#x} did not land there (read back {v:#010x}): it wrote somewhere else"
    return None


def _past_trap(must_trap: bool, report: dict, what: str) -> str | None:
    if must_trap and ("V" in report or "D" in report or "X" in report or "C" in report):
        return f"{what} did not trap"
    return None


def _c_result(report: dict) -> tuple[int, int, int] | None:
    """(memsize, errno, n) from a wasm-only C probe's MEMSIZE/RESULT lines."""
    try:
        mem = int(report["MEMSIZE"][-1])
        res = dict(kv.split("=") for kv in report["RESULT"][-1].split())
        return mem, int(res["errno"]), int(res["n"])
    except (KeyError, ValueError, IndexError):
        return None


def _judge_random(ch, report) -> str | None:
    ptr, length = ch
    got = _c_result(report)
    if got and got[1] == 0 and length and ptr + length > got[0]:
        return f"random_get filled {length} bytes at {ptr:#x}, past the {got[0]:#x}-byte memory"
    return None


def _judge_iovec(ch, report):
    """An escape only where bytes moved outside linear memory (fd_write read them, fd_read wrote
    them) or the host read an iovec array past the end; a runtime that accepted an invalid buffer
    but moved bytes only inside memory deviates from the spec with no effect outside."""
    ptr, length, mode = ch
    got = _c_result(report)
    if not got or got[1] != 0:
        return None
    mem, _, n = got
    span = 8 * length if mode == 2 else length
    # a zero-length array touches no byte wherever it points: accepting it is no escape
    if not span or ptr + span <= mem or (n == 0 and mode != 2):
        return None
    call, what = ("fd_read" if mode == 1 else "fd_write"), ("iovec array" if mode == 2 else "buffer")
    accepted = f"{call} accepted an {what} at {ptr:#x}+{span:#x}, past the {mem:#x}-byte memory ({n} bytes moved)"
    if mode == 2 or ptr + n > mem:
        return accepted + (": the host read iovecs outside linear memory" if mode == 2 else
                           f": bytes {'written to' if mode == 1 else 'read from'} outside linear memory")
    return "spec-deviation", accepted + f", all of them inside linear memory (up to {ptr + n:#x}): no effect outside"


def _judge_grow(ch, report: dict) -> str | None:
    """The guest loads at (pages << 16) + past, in i32 arithmetic: with all 65536 pages that
    address wraps back into memory, so only a load the harness computes to be past the end counts."""
    if "X" not in report or not report.get("Z"):
        return None
    pages = report["Z"][-1]
    ea = (((pages << 16) & M32) + ch[1]) & M32
    if ea + 4 > pages << 16:
        return f"a load at {ea:#x}, past the end of the {pages}-page memory, returned {report['X'][-1]:#010x}"
    return None


def _div_must_trap(ch) -> bool:
    op, a, b = ch
    if b == 0:
        return True
    return op == 0 and a == 0x80000000 and b == M32


# -- the probes ----------------------------------------------------------------------------

def _target(aim, **kw):
    return lambda: P.path_recipe(aim, **kw)


# Loads/stores: the last word, one straddling the end, and effective addresses near 2^31,
# 2^32 and 2^33 (address + static offset).
_EDGE_CASES = ((P.PAGE - 4, 0), (P.PAGE - 3, 0), (0x7FFFFFFC, 0), (M32 - 3, 0), (0x7FFFFFFE, 2), (M32 - 15, 4))
# i32.shl by 1, 2, 3 of an index whose shifted value wraps 2^32 back to 0x1000 (CVE-2023-26489's shape).
_SHL_CASES = tuple(((1 << (32 - k)) | (0x1000 >> k), k, 0) for k in (1, 2, 3))
_TRAILING = st.sampled_from(["/", "//", "/.", "/./", "///"])

PROBES: tuple[Probe, ...] = (
    # filesystem (canary-judged, native positive control)
    Probe("fs-dotdot", "filesystem", "c", "fs_dotdot", "the secret's token in the output", True,
          _target("secret", absolute=False, nul=True), lambda ch, lay: {"path": ch.render(lay)},
          examples=(P.PathRecipe("secret", False, False, 0, ("/",), "", b""),
                    P.PathRecipe("secret", False, True, 2, ("//", "/./"), "./", b"/../x"))),
    Probe("fs-absolute", "filesystem", "c", "fs_absolute", "the secret's token in the output", True,
          _target("secret", absolute=True, nul=False), lambda ch, lay: {"path": ch.render(lay)}),
    Probe("fs-symlink-relative", "filesystem", "c", "fs_symlink_rel", "the secret's token, read through a symlink with a relative target", True,
          _target("secret", absolute=False), lambda ch, lay: {"target": ch.render(lay)}),
    Probe("fs-symlink-absolute", "filesystem", "c", "fs_symlink_abs", "the secret's token, read through a symlink with an absolute target", True,
          _target("secret", absolute=True), lambda ch, lay: {"target": ch.render(lay)}),
    Probe("fs-symlink-dir", "filesystem", "c", "fs_symlink_dir", "the secret's token, read through a symlinked outside folder", True,
          _target("outside"), lambda ch, lay: {"target": ch.render(lay)}),
    Probe("fs-symlink-trailing-slash", "filesystem", "c", "fs_symlink_trailing", "the secret's token, through a symlinked folder opened with a trailing / or //", True,
          lambda: st.tuples(P.path_recipe("outside"), _TRAILING),
          lambda ch, lay: {"target": ch[0].render(lay), "trailing": ch[1]}),
    Probe("fs-rename-via-symlink", "filesystem", "c", "fs_rename_symlink", "a file appears in the outside folder", True,
          lambda: st.tuples(P.path_recipe("outside"), st.sampled_from(["/", "//", "/./"])),
          lambda ch, lay: {"target": ch[0].render(lay), "trailing": ch[1]}),
    Probe("fs-write-via-symlink", "filesystem", "c", "fs_write_symlink", "the outside write target changes (O_TRUNC through a symlink)", True,
          _target("target"), lambda ch, lay: {"target": ch.render(lay)}),
    Probe("fs-otrunc-readonly", "filesystem", "c", "fs_otrunc_ro", "a file in the read-only preopen is truncated", True,
          lambda: st.integers(0, 1), lambda ch, lay: {"rdwr": ch}, needs_readonly=True),
    Probe("fs-create-in-readonly", "filesystem", "c", "fs_create_ro", "a file or folder appears in the read-only preopen", True,
          lambda: st.sampled_from(["new.txt", "n" * 200, ".hidden", "a b"]), lambda ch, lay: {"name": ch}, needs_readonly=True),
    Probe("fs-hardlink-from-readonly", "filesystem", "c", "fs_hardlink_ro", "a read-only file gains a writable name (its link count or content changes)", True,
          needs_readonly=True),
    Probe("fs-rename-from-readonly", "filesystem", "c", "fs_rename_ro", "a file leaves the read-only preopen", True, needs_readonly=True),
    Probe("fs-proc-self-environ", "filesystem", "c", "fs_proc_environ", "the canary variable's token in the output", True,
          lambda: st.sampled_from(["/proc/self/environ", "/proc/thread-self/environ", "//proc/./self//environ", "climb"]),
          lambda ch, lay: {"path": ch if ch != "climb" else lay.rw + "/" + "../" * lay.depth + "proc/self/environ"}),
    Probe("fs-proc-1-root", "filesystem", "c", "fs_proc_root", "the secret's token, read through /proc/1/root", True,
          lambda: st.sampled_from(["/proc/1/root", "/proc/self/root", "/proc/1/cwd"]), lambda ch, lay: {"prefix": ch}),
    Probe("fs-symlink-dangling", "filesystem", "c", "fs_symlink_dangling", "a file is created outside through a dangling symlink", True,
          _target("new"), lambda ch, lay: {"target": ch.render(lay)}),
    Probe("fs-symlink-chain", "filesystem", "c", "fs_symlink_chain", "the secret's token, at the end of a chain of symlinks", True,
          lambda: st.tuples(st.integers(1, 30), P.path_recipe("secret")),
          lambda ch, lay: {"n": ch[0], "target": ch[1].render(lay)}),
    Probe("fs-symlink-loop", "filesystem", "c", "fs_symlink_loop", "any canary reached (a loop must end in ELOOP, not a hang or a crash)", False,
          lambda: st.sampled_from(["a/secret.txt", "a/../../outside/secret.txt", "b/..", "a//"]), lambda ch, lay: {"path": ch},
          hang_is_failure=True,
          no_native_reason="natively a symlink loop ends in ELOOP too: there is nothing to escape to"),
    # environment and network
    Probe("env-read-canary", "environment", "c", "env_getenv", "the canary variable's token in the output", True),
    Probe("net-connect-loopback", "network", "c", "net_connect", "the canary listener records a connection", True),
    Probe("net-resolve-name", "network", "c", "net_resolve", "a name resolves and the listener records a connection", True,
          lambda: st.sampled_from(["localhost", "127.0.0.1"]), lambda ch, lay: {"name": ch}),
    Probe("net-connect-wasix", "network", "c", "net_connect_wasix",
          "the canary listener records a connection made through WASIX sockets (wasix_32v1) with no network granted",
          True, grant_control=True),
    Probe("net-connect-p2", "network", "component", "net_connect_p2",
          "the canary listener records a connection made through wasi:sockets (WASI 0.2) with no network granted", False,
          render=lambda ch, lay: [lay.port], grant_control=True,
          no_native_reason="a WASI 0.2 component; its positive control is the same component with the network granted"),
    # memory (WAT: the instruction shape matters)
    Probe("mem-load-edges", "memory", "wat", "mem_edge_load", "a load past the end of memory returns, or an in-bounds one returns what is not there", False,
          lambda: st.tuples(P.address_near_edges(), st.integers(0, 4)), lambda ch, lay: [ch[0], ch[1]], examples=_EDGE_CASES,
          judge=lambda ch, r: _judge_load(ch[0] + LOAD_OFFSETS[ch[1]], r),
          expect_trap=lambda ch: not _in_bounds(ch[0] + LOAD_OFFSETS[ch[1]])),
    Probe("mem-store-edges", "memory", "wat", "mem_edge_store", "a store past the end does not trap, or an in-bounds one lands elsewhere", False,
          lambda: st.tuples(P.address_near_edges(), st.integers(0, 4)),
          lambda ch, lay: [ch[0], ch[1], _readback(ch[0] + LOAD_OFFSETS[ch[1]])], examples=_EDGE_CASES,
          judge=lambda ch, r: _judge_store(ch[0] + LOAD_OFFSETS[ch[1]], r),
          expect_trap=lambda ch: not _in_bounds(ch[0] + LOAD_OFFSETS[ch[1]])),
    Probe("mem-load-shl-fold", "memory", "wat", "mem_shl_load", "i32.load (i32.shl idx k) reads other than at the wrapped 32-bit address", False,
          P.shl_index, lambda ch, lay: list(ch), examples=_SHL_CASES,
          judge=lambda ch, r: _judge_load(_shl_ea(ch), r), expect_trap=lambda ch: not _in_bounds(_shl_ea(ch))),
    Probe("mem-store-shl-fold", "memory", "wat", "mem_shl_store", "i32.store (i32.shl idx k) writes other than at the wrapped 32-bit address", False,
          lambda: P.shl_index().map(lambda t: (t[0], t[1], 0)),
          lambda ch, lay: [ch[0], ch[1], _readback(_shl_ea(ch))], examples=_SHL_CASES,
          judge=lambda ch, r: _judge_store(_shl_ea(ch), r), expect_trap=lambda ch: not _in_bounds(_shl_ea(ch))),
    Probe("mem-grow-past-limit", "memory", "wat", "mem_grow", "a load past the end of memory, after memory.grow, returns", False,
          lambda: st.tuples(st.one_of(st.sampled_from([8191, 8192, 8193, 16384, 65535, 65536, 1 << 31, M32]), st.integers(0, 1 << 17)),
                            st.sampled_from([0, 1, 4096, 65532, 1 << 31])),
          lambda ch, lay: list(ch), examples=((8193, 0), (65536, 0), (1, 65532)),
          judge=lambda ch, r: _judge_grow(ch, r),
          expect_trap=lambda ch: None),  # engine-dependent: whether the grow succeeds decides where the end is
    Probe("mem-fill-across-end", "memory", "wat", "mem_fill", "memory.fill across the end of memory does not trap", False,
          lambda: st.tuples(P.address_near_edges(), st.integers(0, 255), P.length_near_edges()), lambda ch, lay: list(ch),
          examples=((65000, 0xAA, 1000), (M32, 0, 2), (P.PAGE, 0, 0)),
          judge=lambda ch, r: _past_trap(ch[0] + ch[2] > P.MEMORY, r, "memory.fill across the end"),
          expect_trap=lambda ch: ch[0] + ch[2] > P.MEMORY),
    Probe("mem-copy-across-end", "memory", "wat", "mem_copy", "memory.copy across the end of memory does not trap", False,
          lambda: st.tuples(P.address_near_edges(), P.address_near_edges(), P.length_near_edges()), lambda ch, lay: list(ch),
          examples=((0, 65000, 1000), (65000, 0, 1000), (M32, 0, 2)),
          judge=lambda ch, r: _past_trap(max(ch[0], ch[1]) + ch[2] > P.MEMORY, r, "memory.copy across the end"),
          expect_trap=lambda ch: max(ch[0], ch[1]) + ch[2] > P.MEMORY),
    # control flow
    Probe("ctl-call-indirect-signature", "control", "wat", "ctl_indirect_sig", "a callee runs through call_indirect with the wrong signature", False,
          lambda: st.tuples(st.integers(0, 3), st.integers(0, 3)), lambda ch, lay: list(ch), examples=((0, 1), (1, 0), (0, 0)),
          judge=lambda ch, r: _past_trap(not _sig_ok(ch), r, "call_indirect with a mismatched signature or index"),
          expect_trap=lambda ch: not _sig_ok(ch)),
    Probe("ctl-call-indirect-out-of-range", "control", "wat", "ctl_indirect_oob", "call_indirect past the table's end does not trap", False,
          lambda: st.one_of(st.integers(0, 8), P.address_near_edges()), lambda ch, lay: [ch], examples=(4, 1 << 31, M32),
          judge=lambda ch, r: _past_trap(ch >= 4, r, f"call_indirect at index {ch} of a 4-entry table"),
          expect_trap=lambda ch: ch >= 4),
    Probe("ctl-call-indirect-null", "control", "wat", "ctl_indirect_null", "call_indirect through a null entry does not trap", False,
          lambda: st.integers(0, 7), lambda ch, lay: [ch], examples=(2,),
          judge=lambda ch, r: _past_trap(ch >= 2, r, f"call_indirect through null entry {ch}"), expect_trap=lambda ch: ch >= 2),
    Probe("ctl-unreachable", "control", "wat", "ctl_unreachable", "code after `unreachable` runs", False,
          lambda: st.integers(0, 15), lambda ch, lay: [ch], judge=lambda ch, r: _past_trap(True, r, "unreachable"),
          expect_trap=lambda ch: True),
    Probe("ctl-divide-by-zero", "control", "wat", "ctl_div", "a division by zero (or INT_MIN / -1) does not trap", False,
          lambda: st.tuples(st.integers(0, 4), st.sampled_from([0, 1, 7, 0x80000000, M32]), st.sampled_from([0, 0, 1, M32, 3])),
          lambda ch, lay: list(ch), examples=((0, 0x80000000, M32), (1, 7, 0), (3, 7, 0)),
          judge=lambda ch, r: _past_trap(_div_must_trap(ch), r, "integer division that must trap"),
          expect_trap=_div_must_trap),
    # resources (wasm-only C: raw WASI calls)
    Probe("res-fd-renumber-self", "resources", "c", "res_fd_renumber", "any canary reached, or the host crashes, after fd_renumber onto itself / a closed fd", False,
          lambda: st.integers(0, 5), lambda ch, lay: {"fd": ch}, examples=(3, 4), no_native_reason="fd_renumber is a WASI call; natively dup2(fd, fd) is a no-op"),
    Probe("res-close-preopen", "resources", "c", "res_close_preopen", "any canary reached after closing (or renumbering onto) a preopen", False,
          lambda: st.tuples(st.integers(3, 4), st.integers(0, 1)), lambda ch, lay: {"fd": ch[0], "renumber": ch[1]},
          examples=((3, 0), (3, 1)),
          no_native_reason="preopens are a WASI notion"),
    Probe("res-random-get-huge", "resources", "c", "res_random_huge", "random_get writes past the end of memory", False,
          lambda: st.tuples(P.address_near_edges(), P.length_near_edges()), lambda ch, lay: {"ptr": ch[0], "len": ch[1]},
          judge=_judge_random, examples=((0xFFFFFF00, 0x200), (0, M32), (65000, 1000)), no_native_reason="a WASI call on linear memory"),
    Probe("res-iovec-wrap", "resources", "c", "res_iovec_wrap", "fd_write/fd_read accept an iovec past the end of memory or wrapping 2^32", False,
          lambda: st.tuples(P.address_near_edges(), P.length_near_edges(), st.integers(0, 2)),
          lambda ch, lay: {"ptr": ch[0], "len": ch[1], "mode": ch[2]}, judge=_judge_iovec,
          examples=((0xFFFFFF00, 0x200, 0), (0xFFFFFF00, 0x200, 1), (0xFFFFFFF8, 2, 2), (65000, M32, 1),
                    (0x2CF, 1 << 31, 2)),  # 8 * 2^31 wraps 2^32: the array "fits" a 32-bit bounds check
          no_native_reason="a WASI call on linear memory"),
)

# Guests for the limit tests (SAFETY-3); not counted as escape probes.
LIMIT_GUESTS: tuple[Probe, ...] = (
    Probe("lim-infinite-loop", "limits", "wat", "lim_loop", "", False),
    Probe("lim-recursion", "limits", "wat", "lim_recursion", "", False),
    Probe("lim-grow-until-refused", "limits", "wat", "lim_grow", "", False, lambda: st.just(256), lambda ch, lay: [ch],
          examples=(256,)),  # pages per step (16 MiB)
    Probe("lim-open-files", "limits", "c", "lim_open_files", "", False, lambda: st.just(100000), lambda ch, lay: {"max": ch},
          examples=(100000,)),
    Probe("lim-random-huge", "limits", "c", "lim_random", "", False, lambda: st.just(256 << 20), lambda ch, lay: {"len": ch},
          examples=(256 << 20,)),
)

BY_NAME = {p.name: p for p in PROBES + LIMIT_GUESTS}


def _shl_ea(ch) -> int:
    idx, k, off = ch
    return ((idx << k) & M32) + (16 if off else 0)


def _readback(ea: int) -> int:
    """Where the store probes read back: the effective address when it is in bounds."""
    return ea if _in_bounds(ea) and ea >= SCRATCH_END else SCRATCH_END


def _sig_ok(ch) -> bool:
    idx, sel = ch
    return idx < 2 and sel == idx


def probe(name: str) -> Probe:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown probe {name!r} (known: {', '.join(BY_NAME)})") from None
