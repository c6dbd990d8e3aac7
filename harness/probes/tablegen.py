"""Generated table probes: Hypothesis draws a table declaration (index type i32 or i64,
element type funcref or externref, minimum and maximum from edge values up to the index
type's limit) and one table instruction on it (table.size / grow / get / set / fill / copy,
with indices and lengths near the table's end and at the index type's extremes), `render`
makes a one-function module, and `judge` compares the engine's answer with a model of the
spec: a declaration the engine cannot allocate may be refused (a resource error, not a
finding), table.grow may fail (-1) but must then leave the size alone, and every access past
the current size traps. A host that dies (a Rust panic aborts the engine's process) is a
finding: the guest took the host down.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from harness.probes import calls, findings, guests


PROBE_NAME = "table-generated"
M32, M64 = (1 << 32) - 1, (1 << 64) - 1
OPS = ("table.size", "table.grow", "table.get", "table.set", "table.fill", "table.copy")


@dataclass(frozen=True)
class Table:
    index: str  # "i32" or "i64" (table64, from the memory64 proposal)
    elem: str  # "funcref" or "externref"
    minimum: int
    maximum: int | None


@dataclass(frozen=True)
class Case:
    table: Table
    op: str
    a: int = 0  # index / destination / grow delta
    b: int = 0  # source
    n: int = 0  # length

    @property
    def limit(self) -> int:
        return M32 if self.table.index == "i32" else M64


def expect(case: Case, size: int) -> dict:
    """What the spec says for a table of `size` elements (its size after instantiation):
    {"trap": True} or {"results": [r0, r1]} ({"grow": True}: either -1 with the size
    unchanged, or the old size with the size grown)."""
    a, b, n = case.a, case.b, case.n
    if case.op == "table.size":
        return {"results": [size, size]}
    if case.op == "table.grow":
        maximum = case.table.maximum if case.table.maximum is not None else case.limit
        return {"grow": size + a <= maximum}
    if case.op in ("table.get", "table.set"):
        return {"trap": True} if a >= size else {"results": [1, size]}  # the slot holds null
    if case.op == "table.fill":
        return {"trap": True} if a + n > size else {"results": [0, size]}
    return {"trap": True} if a + n > size or b + n > size else {"results": [0, size]}


def _edges(limit: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 20), st.sampled_from((0, 1, 0xFFFF, 0x10000, 10_000_000, M32 >> 1, M32 - 1, M32, M32 + 1,
                                                          1 << 40, 1 << 48, M64 >> 1, M64)).filter(lambda v: v <= limit),
                     st.integers(0, limit))


@st.composite
def cases(draw, max_elements: int | None = None, table64: bool = True) -> Case:
    """A table and one instruction on it. `max_elements`: no table declared or grown past that
    many elements (command-line rows, which have no store limit to set: an engine that
    allocates what the guest asks would take the machine's memory, not just its own).
    `table64`: i64-indexed tables too (off on a row that cannot run them: TABLE64_CHECK)."""
    index = draw(st.sampled_from(("i32", "i64") if table64 else ("i32",)))
    limit = M32 if index == "i32" else M64
    minimum = draw(st.one_of(st.integers(0, 8), _edges(limit)))
    if max_elements is not None and minimum > max_elements:
        minimum = draw(st.integers(0, max_elements))
    maximum = draw(st.one_of(st.none(), st.integers(minimum, min(limit, minimum + 8)), _edges(limit).filter(lambda m: m >= minimum)))
    table = Table(index, draw(st.sampled_from(("funcref", "externref"))), minimum, maximum)
    op = draw(st.sampled_from(OPS))
    near = st.one_of(st.integers(max(0, minimum - 3), minimum + 3), _edges(limit)).map(lambda v: min(v, limit))
    a, b, n = draw(near), draw(near), draw(st.one_of(st.integers(0, 4), _edges(limit)))
    if max(a, b) + n <= minimum:  # in bounds: a long fill or copy is only slow (ends at the deadline), so keep it short
        n = min(n, 1 << 12)
    if max_elements is not None and op == "table.grow" and minimum + a > max_elements:
        a = draw(st.integers(0, max_elements - minimum))
    return Case(table, op, a, b, n)


def render(case: Case) -> str:
    t, it = case.table, case.table.index
    limits = f"{t.minimum}" + (f" {t.maximum}" if t.maximum is not None else "")
    null = f"(ref.null {'func' if t.elem == 'funcref' else 'extern'})"

    def c(v: int) -> str:
        return f"({it}.const {v})"

    size = "(table.size $t)" if it == "i64" else "(i64.extend_i32_u (table.size $t))"
    widen = (lambda x: x) if it == "i64" else (lambda x: f"(i64.extend_i32_u {x})")
    body = {
        "table.size": f"{size} {size}",
        "table.grow": f"{widen(f'(table.grow $t {null} {c(case.a)})')} {size}",
        "table.get": f"(i64.extend_i32_u (ref.is_null (table.get $t {c(case.a)}))) {size}",
        "table.set": f"(table.set $t {c(case.a)} {null}) (i64.const 1) {size}",
        "table.fill": f"(table.fill $t {c(case.a)} {null} {c(case.n)}) (i64.const 0) {size}",
        "table.copy": f"(table.copy $t $t {c(case.a)} {c(case.b)} {c(case.n)}) (i64.const 0) {size}",
    }[case.op]
    return (f"(module (memory (export \"memory\") 1) (table $t {it} {limits} {t.elem})\n"
            f"  (func $probe (export \"probe\") (result i64 i64)\n    {body}))\n")


def build(case: Case) -> str:
    return guests.assemble(render(case), "tableprobe")


# table.grow runs under a store limit on table elements, as a deployment sets one: the spec lets
# the grow fail (-1), and without a limit the engine allocates (and zero-fills) whatever the guest
# asks, up to tens of GiB, until the machine's OOM killer ends it (seen with an i64 externref
# table grown by 2^33 elements). Instantiation stays unlimited: a table too large for the host
# must be refused there by the engine itself (GHSA-p8xm-42r7-89xg).
GROW_TABLE_ELEMENTS = 1 << 22


# Whether a row runs i64-indexed tables at all (memory64's table64): a size query the model answers.
TABLE64_CHECK = Case(Table("i64", "funcref", 1, None), "table.size")


def within(case: Case, max_elements: int | None) -> bool:
    """Whether the case stays within a row's element cap (cases(max_elements=...))."""
    grown = case.table.minimum + (case.a if case.op == "table.grow" else 0)
    return max_elements is None or grown <= max_elements


def features(case: Case) -> tuple[str, ...]:
    """The proposals a case needs turned on beyond a configuration: table64 comes with memory64."""
    return ("memory64",) if case.table.index == "i64" else ()


def call(case: Case) -> calls.Call:
    """The probe as a call for a command-line row (harness.probes.calls): no arguments (the
    operands are constants in the module), two results."""
    return calls.Call(render(case), (), (), 2, features=features(case))


def request(case: Case, config: str, timeout_s: float = 10.0) -> dict:
    """A `call` request with the proposals the case needs (features) in the row's knobs."""
    from harness.runtimes.wasmtime_py import CONFIGS, with_features

    knobs = with_features(CONFIGS[config], features(case))
    req = {"op": "call", "module": build(case), "args": [], "timeout_s": timeout_s, "config": {"name": config, "knobs": knobs}}
    return req | ({"table_elements": GROW_TABLE_ELEMENTS} if case.op == "table.grow" else {})


@dataclass(frozen=True)
class Verdict:
    outcome: str  # denied / trapped (as the spec says), refused (not allocated), escaped, host-crashed, not-tested, inconclusive
    finding: int
    reason: str


_REFUSALS = ("out of memory", "overflow", "failed to allocate", "tried to allocate", "insufficient resources", "exceeds", "limit", "too large", "maximum", "does not fit")


def judge(case: Case, reply: dict) -> Verdict:
    where = f"{case.op} on a {case.table.index} {case.table.elem} table [{case.table.minimum}, {case.table.maximum}]"
    if reply.get("unsupported"):
        return Verdict("not-tested", 0, reply["unsupported"])
    if reply.get("died"):
        return Verdict("host-crashed", 1, f"the engine process died ({reply.get('signal') or reply.get('exit_code')}) "
                                          f"instantiating or running {where}: {(reply.get('stderr_tail') or '')[-200:]}")
    if reply.get("timed_out"):
        return Verdict("inconclusive", 0, f"no answer within the deadline: {where}")
    if reply.get("error"):
        if any(w in reply["error"].lower() for w in _REFUSALS):
            return Verdict("denied", 0, f"refused to allocate: {reply['error'][:120]}")
        return Verdict("inconclusive", 0, f"could not run {where}: {reply['error'][:200]}")
    size = (reply.get("results") or [0, 0])[1]
    want = expect(case, case.table.minimum)
    if reply.get("trap") in ("interrupt", "out-of-fuel"):
        return Verdict("inconclusive", 0, f"ran out of its time ({reply['trap']}): {where}")
    if reply.get("trap"):
        return (Verdict("trapped", 0, f"trap {reply['trap']}, as the spec says ({where})") if want.get("trap") else
                Verdict("escaped", 1, f"trap {reply['trap']} where the spec says {want}: {where}"))
    got = reply["results"]
    if want.get("trap"):
        return Verdict("escaped", 1, f"returned {got} where the spec says trap: {where}")
    if "grow" in want:
        old, grown = case.table.minimum, case.table.minimum + case.a
        ok = (got[0] & M64 in (M64, M32) and size == old) or (want["grow"] and got[0] == old and size == grown)
        return Verdict("denied", 0, "grew or refused as the spec allows") if ok else \
            Verdict("escaped", 1, f"table.grow returned {got[0]:#x} with size {size:#x} after: {where}")
    if list(got) != want["results"]:
        return Verdict("escaped", 1, f"returned {got}, the spec says {want['results']}: {where}")
    return Verdict("denied", 0, "as the spec says")


# Regression replays (their own `replay-...` records): name -> (advisory, case).
REPLAYS = {
    # a table64 whose minimum exceeds the host's address space: the allocation size panicked
    "replay-ghsa-p8xm-42r7-89xg-table64-huge-minimum": (
        "GHSA-p8xm-42r7-89xg", Case(Table("i64", "funcref", 1 << 48, None), "table.size")),
}


def describe(case: Case) -> str:
    return render(case).replace("\n", " ")


def case_json(case: Case) -> dict:
    return {"table": vars(case.table).copy(), "op": case.op, "a": case.a, "b": case.b, "n": case.n}


def case_from(j: dict) -> Case:
    return Case(Table(**j["table"]), j["op"], int(j["a"]), int(j["b"]), int(j["n"]))


def keep_finding(case: Case, runtime: str, config: str, verdict: Verdict, root=findings.FINDINGS_DIR):
    """reports/findings/tablegen-<hash>/ (harness.probes.findings), replayed first next run."""
    return findings.keep("tablegen", case_json(case), render(case), runtime, config, verdict.outcome, verdict.reason,
                         describe(case), findings.command("test_generated_tables", runtime, config), root)


def saved_findings(root=findings.FINDINGS_DIR) -> list[Case]:
    return findings.saved("tablegen", case_from, root)
