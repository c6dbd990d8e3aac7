"""Generated WASI preview1 host-call probes: Hypothesis draws a *sequence* of raw preview1
calls (harness.probes.wasicalls runs it in one guest), each sequence runs under one preopen
layout of a permission matrix, and two judges look at it:
- the host: a snapshot of the whole planted tree (every file's bytes, mode, size, link count,
  mtime and every folder's listing, inside and outside the preopens) before and after, and
  the secret planted outside every preopen;
- the model (harness.probes.wasimodel): which calls must fail under the layout.

Words for one sequence: `escaped` (a change outside every preopen, a change inside a preopen
that its grant forbids, or the secret's token in what the guest read), `host-crashed` (the
engine died: signal, panic, abort), `spec-deviation` (a call the model says must fail
succeeded, with no forbidden effect: a permission finding, not an escape), `killed` (a
deadline), `denied` (all held), `inconclusive` (the guest did not run).

Why sequences are drawn by one composite strategy rather than a RuleBasedStateMachine
executing call by call: every execution costs an engine process (or a child request), so a
sequence runs as *one* guest execution per example. The strategy keeps the state a
RuleBasedStateMachine's Bundles would (the steps whose result is a descriptor), so later
calls use descriptors earlier calls returned (as registers the guest resolves at run time),
and Hypothesis shrinks a failing sequence by deleting and simplifying calls, to the shortest
one that still shows the finding.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from harness import canary
from harness.probes import wasicalls, wasimodel
from harness.runtimes import traps
from harness.probes.runner import host_ended
from harness.probes.wasimodel import Grant
from harness.runtimes.base import Preopen, WasiSetup

PROBE_NAME = "wasi-generated"
TIMEOUT_S = 3.0  # a sequence is at most a few dozen host calls: milliseconds on every engine here
ALL_RIGHTS = (1 << 30) - 1
READ_RIGHTS = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 13) | (1 << 14) | (1 << 18) | (1 << 21)  # read seek tell open readdir stat
WRITE_RIGHTS = (1 << 6) | (1 << 8) | (1 << 22)
SECRET_FILE = "outside/secret.txt"


# -- the permission matrix --------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Preopens over the planted tree, in fd order (3, 4, ...), and the capabilities a runtime
    row needs to express them."""

    name: str
    grants: tuple[Grant, ...]
    summary: str

    @property
    def needs(self) -> frozenset[str]:
        need = {"preopen"} if self.grants else set()
        if any(not g.writable for g in self.grants):
            need.add("preopen-readonly")
        if any(g.writable and g.files_writable is False for g in self.grants):
            need.add("preopen-file-perms")
        return frozenset(need)


LAYOUTS = {lay.name: lay for lay in (
    Layout("none", (), "no preopen at all"),
    Layout("ro", (Grant("a", False),), "one read-only folder"),
    Layout("rw", (Grant("a", True),), "one writable folder"),
    Layout("rw-dir-ro-files", (Grant("a", True, False),), "a writable folder whose files are read-only"),
    Layout("ro+rw", (Grant("a", False), Grant("b", True)), "a read-only and a writable folder"),
    Layout("ro-files+rw", (Grant("a", True, False), Grant("b", True)), "a folder of read-only files and a writable one"),
    Layout("nested", (Grant("a", False), Grant("a/nested", True)), "a read-only folder and a writable one inside it"),
)}


# -- the planted tree ---------------------------------------------------------------------------

FILES = {"a/file.txt": b"alpha file\n", "a/sub/inner.txt": b"inner\n", "a/nested/n.txt": b"nested\n",
         "b/file.txt": b"beta file\n", "b/other.txt": b"other\n", "outside/target.txt": b"target\n"}
DIRS = ("a", "a/sub", "a/empty", "a/nested", "b", "b/bsub", "outside", "outside/dir")
LINKS = {"a/link_out": "../outside/secret.txt", "a/dir_out": "../outside", "a/abs_out": "{root}/outside",
         "a/escape": "../outside", "a/slash_link": "escape/", "a/in_link": "file.txt", "a/loop": "loop"}


@dataclass
class Tree:
    """One run's planted tree under a fresh temporary root, with its secret."""

    root: Path
    token: str

    def host(self, rel: str) -> Path:
        return self.root / rel

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def plant(root: Path | None = None) -> Tree:
    """Plant the tree (under `root`, emptied first, or a new temporary folder)."""
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="wc-wasigen-"))
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
    for d in DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    for rel, data in FILES.items():
        (root / rel).write_bytes(data)
    token = "SECRET-" + secrets.token_hex(16)
    (root / SECRET_FILE).write_text(token + "\n")
    for rel, target in LINKS.items():
        os.symlink(target.replace("{root}", str(root)), root / rel)
    return Tree(root, token)


def model_tree(tree: Tree) -> wasimodel.Tree:
    t = wasimodel.Tree(set(FILES) | {SECRET_FILE}, set(DIRS), {k: v.replace("{root}", str(tree.root)) for k, v in LINKS.items()})
    return t


def grant_setup(layout: Layout, tree: Tree) -> WasiSetup:
    """The preopens, each under its host path as the guest's name too (so engines that can only
    map a folder to its own name, wasmi, get the same layout)."""
    return WasiSetup(preopens=tuple(Preopen(tree.host(g.dir), str(tree.host(g.dir)), g.writable, g.files_writable)
                                    for g in layout.grants))


# -- drawing sequences ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One drawn call: integer args (refs: indices of args naming an earlier step's result) and
    two path templates (`{root}` is the run's host root)."""

    op: str
    args: tuple[int, ...] = ()
    refs: frozenset = frozenset()
    path1: bytes = b""
    path2: bytes = b""

    def render(self, root: Path) -> tuple[bytes, bytes]:
        r = str(root).encode()
        return self.path1.replace(b"{root}", r), self.path2.replace(b"{root}", r)

    def describe(self) -> str:
        args = ", ".join(f"@{v}" if k in self.refs else hex(v) if v > 9 else str(v) for k, v in enumerate(self.args))
        two = self.op in ("path_link", "path_rename", "path_symlink")
        paths = ", ".join(repr(p)[1:] for p in ((self.path1, self.path2) if two else (self.path1,)) if p or two)
        return f"{self.op}({args}{', ' if args and paths else ''}{paths})"


INSIDE = [b"file.txt"] * 4 + [b"sub/inner.txt", b"new.txt"] * 2 + [b"in_link", b"sub", b"newdir", b"nested/n.txt",
                                                                    b"other.txt", b"empty", b"."]
ESCAPES = [b"link_out", b"dir_out", b"abs_out", b"slash_link", b"slash_link/", b"slash_link/secret.txt", b"..",
           b"../outside/secret.txt", b"../outside/target.txt", b"../b/other.txt", b"../a/file.txt",
           b"sub/../../outside/secret.txt", b"dir_out/secret.txt", b"abs_out/secret.txt", b"dir_out/target.txt",
           b"{root}/outside/secret.txt", b"{root}/outside/target.txt", b"/", b"escape/secret.txt", b"loop"]
ODD = [b"file.txt/", b"./file.txt", b"sub//inner.txt", b"x" * 255, b"y" * 300, b"\xff\xfe", b"a\0b", b""]
SEGMENTS = [b"..", b".", b"sub", b"file.txt", b"outside", b"secret.txt", b"target.txt", b"link_out", b"dir_out",
            b"abs_out", b"slash_link", b"escape", b"nested", b"a", b"b", b"other.txt", b"new.txt", b"in_link", b""]
TARGETS = [b"../outside/secret.txt", b"../outside", b"{root}/outside", b"/", b"file.txt", b"sub", b"escape/", b"..",
           b"new.txt", b"nested", b"../../../../../..", b"link_out"]
DATA = [b"X", b"overwritten\n", b"", b"Z" * 1000]


EXISTING = [b"file.txt", b"sub/inner.txt", b"sub", b"in_link", b"link_out", b"nested/n.txt", b"other.txt", b"empty"]


def paths() -> st.SearchStrategy[bytes]:
    composed = st.builds(lambda lead, segs, trail: lead + b"/".join(segs) + trail,
                         st.sampled_from([b"", b"", b"./", b"{root}/"]), st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4),
                         st.sampled_from([b"", b"", b"/"]))
    return st.one_of(st.sampled_from(INSIDE), st.sampled_from(INSIDE), st.sampled_from(ESCAPES), st.sampled_from(ODD), composed)


def _bits(*bits: int) -> st.SearchStrategy[int]:
    return st.lists(st.sampled_from(bits), max_size=len(bits)).map(lambda bs: sum(set(bs)))


RIGHTS = st.one_of(st.sampled_from([ALL_RIGHTS, READ_RIGHTS, READ_RIGHTS | WRITE_RIGHTS, 1 << 1, 1 << 6, 0, WRITE_RIGHTS]),
                   st.sampled_from([ALL_RIGHTS, READ_RIGHTS, 1 << 1, 0]),
                   st.integers(0, ALL_RIGHTS), st.sampled_from([0, 1 << 63]))  # 1 << 63: a bit no right has
OFLAGS = st.one_of(st.sampled_from([0, 1, 8, 8, 1 | 8, 2, 1 | 4]), _bits(1, 2, 4, 8))
TIMES = st.sampled_from([0, 1, 10**18, (1 << 63) - 1, (1 << 64) - 1])
OFFSETS = st.sampled_from([0, 1, 5, 1 << 31, (1 << 63) - 1, (1 << 64) - 1])
LENGTHS = st.sampled_from([0, 1, 64, 256, 4096])
OP_WEIGHTS = {"path_open": 8, "fd_read": 3, "fd_write": 3, "fd_pwrite": 1, "fd_pread": 1, "fd_close": 2, "fd_renumber": 3,
              "path_link": 3, "path_rename": 3, "path_symlink": 2, "path_readlink": 1, "path_unlink_file": 1,
              "path_remove_directory": 1, "path_create_directory": 1, "path_filestat_set_times": 1, "fd_seek": 1,
              "fd_tell": 1, "fd_allocate": 1, "fd_filestat_set_size": 2, "fd_filestat_set_times": 1, "fd_fdstat_set_flags": 1,
              "fd_fdstat_set_rights": 2, "fd_fdstat_get": 1, "fd_filestat_get": 1, "path_filestat_get": 1, "fd_readdir": 1,
              "fd_prestat_get": 1, "fd_prestat_dir_name": 1, "fd_sync": 1, "fd_advise": 1, "random_get": 1, "environ_get": 1,
              "args_get": 1, "poll_oneoff": 1, "sock_accept": 1, "sock_shutdown": 1}
OP_CHOICE = st.sampled_from([op for op, w in OP_WEIGHTS.items() for _ in range(w)])


@st.composite
def sequences(draw, n_preopens: int, max_calls: int = 10) -> list[Call]:
    """A call sequence whose descriptor arguments are preopens, earlier steps' results, or raw
    small numbers (stdio, closed or never-opened descriptors)."""
    calls: list[Call] = []
    fd_steps: list[int] = []  # steps whose result is a descriptor (a Bundle's worth)

    def other(first: tuple[int, bool]) -> tuple[int, bool]:
        """A second directory for two-directory calls: another preopen half of the time."""
        if n_preopens > 1 and not first[1] and 3 <= first[0] < 3 + n_preopens and draw(st.booleans()):
            return (3 + (first[0] - 3 + draw(st.integers(1, n_preopens - 1))) % n_preopens, False)
        return fd()

    def source() -> bytes:
        """What a link or rename moves: mostly something that exists (else the call is a plain ENOENT)."""
        return draw(st.one_of(st.sampled_from(EXISTING), paths()))

    def fd() -> tuple[int, bool]:
        choices = [st.sampled_from([0, 2, *range(3, 13)]).map(lambda v: (v, False))]  # not 1: the guest reports there
        if n_preopens:
            choices += [st.integers(3, 2 + n_preopens).map(lambda v: (v, False))] * 3
        if fd_steps:
            choices += [st.sampled_from(fd_steps).map(lambda v: (v, True))] * 2
        return draw(st.one_of(choices))

    n = draw(st.integers(1, max_calls))
    for i in range(n):
        op = draw(OP_CHOICE)
        args: list[tuple[int, bool]] = []
        p1 = p2 = b""
        if op == "path_open":
            args = [fd(), (draw(st.sampled_from([0, 1])), False), (draw(OFLAGS), False), (draw(RIGHTS), False),
                    (draw(RIGHTS), False), (draw(st.one_of(st.just(0), _bits(1, 2, 4, 8, 16))), False)]
            p1 = draw(paths())
            fd_steps.append(i)
        elif op == "fd_renumber":
            a = fd()
            args = [a, a if draw(st.booleans()) else fd()]
        elif op == "path_link":
            first = fd()
            args, p1, p2 = [first, (draw(st.sampled_from([0, 1])), False), other(first)], source(), draw(paths())
        elif op == "path_rename":
            first = fd()
            args, p1, p2 = [first, other(first)], source(), draw(paths())
        elif op == "path_symlink":
            args, p1, p2 = [fd()], draw(st.sampled_from(TARGETS)), draw(paths())
        elif op == "path_readlink":
            args, p1 = [fd(), (draw(LENGTHS), False)], draw(paths())
        elif op in ("path_unlink_file", "path_remove_directory", "path_create_directory"):
            args, p1 = [fd()], draw(paths())
        elif op == "path_filestat_set_times":
            args = [fd(), (draw(st.sampled_from([0, 1])), False), (draw(TIMES), False), (draw(TIMES), False),
                    (draw(_bits(1, 2, 4, 8)), False)]
            p1 = draw(paths())
        elif op == "path_filestat_get":
            args, p1 = [fd(), (draw(st.sampled_from([0, 1])), False)], draw(paths())
        elif op in ("fd_write", "fd_pwrite"):
            args, p1 = [fd(), (0, False), (draw(OFFSETS), False)], draw(st.sampled_from(DATA))
        elif op in ("fd_read", "fd_pread"):
            args = [fd(), (draw(LENGTHS), False), (draw(OFFSETS), False)]
        elif op == "fd_seek":
            args = [fd(), (draw(st.sampled_from([0, 5, (1 << 64) - 1, 1 << 62])), False), (draw(st.integers(0, 3)), False)]
        elif op in ("fd_allocate", "fd_advise"):
            args = [fd(), (draw(OFFSETS), False), (draw(st.sampled_from([0, 1, 4096, 1 << 40])), False),
                    (draw(st.integers(0, 6)), False)]
        elif op == "fd_filestat_set_size":
            args = [fd(), (draw(st.sampled_from([0, 1, 100, 1 << 40])), False)]
        elif op == "fd_filestat_set_times":
            args = [fd(), (draw(TIMES), False), (draw(TIMES), False), (draw(_bits(1, 2, 4, 8)), False)]
        elif op == "fd_fdstat_set_flags":
            args = [fd(), (draw(_bits(1, 2, 4, 8, 16)), False)]
        elif op == "fd_fdstat_set_rights":
            args = [fd(), (draw(RIGHTS), False), (draw(RIGHTS), False)]
        elif op in ("fd_readdir", "fd_prestat_dir_name"):
            args = [fd(), (draw(LENGTHS), False), (draw(st.sampled_from([0, 1, 2, 1 << 63])), False)]
        elif op in ("random_get",):
            args = [(draw(LENGTHS), False)]
        elif op == "poll_oneoff":
            args = [(draw(st.integers(0, 2)), False), fd(), (draw(st.sampled_from([0, 1000])), False)]
        elif op in ("sock_accept", "sock_shutdown"):
            args = [fd(), (draw(st.integers(0, 3)), False)]
            if op == "sock_accept":
                fd_steps.append(i)
        elif op in ("environ_get", "args_get"):
            args = []
        else:  # fd_close, fd_tell, fd_sync, fd_fdstat_get, fd_filestat_get, fd_prestat_get
            args = [fd()]
        calls.append(Call(op, tuple(v for v, _ in args), frozenset(k for k, (_, ref) in enumerate(args) if ref), p1, p2))
    return calls


@dataclass(frozen=True)
class Replay:
    """A published advisory's exact call sequence, kept as a regression probe (`replay-...`),
    apart from what the generator finds unseeded."""

    layout: str
    calls: tuple[Call, ...]
    advisory: str


_R, _W = 1 << 1, 1 << 6
REPLAYS = {
    "replay-ghsa-fm79-renumber-self": Replay("rw", (Call("fd_renumber", (3, 3)), Call("path_open", (3, 0, 0, _R, 0, 0), path1=b"file.txt")),
                                             "GHSA-fm79-3f68-h2fc"),
    "replay-ghsa-2r75-trunc-read-rights": Replay("rw-dir-ro-files", (Call("path_open", (3, 0, 8, _R, 0, 0), path1=b"file.txt"),),
                                                 "GHSA-2r75-cxrj-cmph"),
    "replay-ghsa-4ch3-link-across-perms": Replay("ro-files+rw", (
        Call("path_link", (3, 0, 4), path1=b"file.txt", path2=b"x"),
        Call("path_open", (4, 0, 0, _R | _W, 0, 0), path1=b"x"),
        Call("fd_write", (1,), frozenset({0}), path1=b"X")), "GHSA-4ch3-9j33-3pmj"),  # @1: the descriptor of step 1
}


def encode(calls: list[Call], root: Path) -> bytes:
    return b"".join(wasicalls.encode_call(c.op, c.args, c.refs, *c.render(root)) for c in calls)


# -- judging ---------------------------------------------------------------------------------------

RANK = {"escaped": 6, "host-crashed": 5, "spec-deviation": 4, "killed": 3, "denied": 2, "inconclusive": 0}
FINDINGS = ("escaped", "host-crashed", "spec-deviation")


@dataclass
class Verdict:
    outcome: str
    reason: str
    calls_run: int = 0
    deviations: list = field(default_factory=list)


def _perm(layout: Layout, rel: str) -> tuple[bool, bool] | None:
    """(may change entries, may change file contents) at a planted-tree path; None: outside every preopen."""
    covering = [g for g in layout.grants if rel.startswith(g.dir + "/")]
    if not covering:
        return None
    return any(g.writable for g in covering), any(g.file_write for g in covering)


def forbidden_changes(layout: Layout, before: dict, after: dict, metadata: list | None = None) -> list[str]:
    """Every change of the host tree the layout forbids, described. A file in a read-only folder
    whose only change is its mtime goes to `metadata` instead (a permission finding, not an
    escape: the bytes are the same; in a writable folder preview1 lets path_filestat_set_times
    set a file's times with the folder's right)."""
    out = []
    for rel in sorted(before.keys() | after.keys()):
        old, new = before.get(rel), after.get(rel)
        if old == new:
            continue
        perm = _perm(layout, rel)
        what = f"{rel}: {_short(old)} -> {_short(new)}"
        if perm is None:
            out.append(f"outside every preopen: {what}")
            continue
        entries, contents = perm
        replaced = old is not None and new is not None and old[0] == new[0] == "file" and old[6:] != new[6:]
        if old is None or new is None or old[0] != new[0] or replaced:  # an entry added, removed or renamed over
            if not entries:
                out.append(f"in a read-only folder: {what}")
        elif old[0] == "file" and (old[1], old[2], old[4]) != (new[1], new[2], new[4]) and not contents:
            out.append(f"a read-only file changed: {what}")
        elif old[0] == "file" and old[5:6] != new[5:6] and not contents and not entries:
            if metadata is not None:
                metadata.append(f"the mtime of {rel}, a read-only file, changed")
        elif old[0] == "file" and old[3] != new[3] and not entries:
            out.append(f"link count of a file in a read-only folder: {what}")
        elif old[0] == "link" and not entries:
            out.append(f"in a read-only folder: {what}")
    return out


def _short(entry) -> str:
    if entry is None:
        return "absent"
    if entry[0] == "file":
        return f"file size={entry[1]} sha={entry[2][:8]} nlink={entry[3]} mode={entry[4]:o}"
    return f"{entry[0]} {entry[1]}"


def judge(layout: Layout, calls: list[Call], tree: Tree, before: dict, after: dict, outcome) -> Verdict:
    steps, finished = wasicalls.parse_output(outcome.stdout)
    n = len(steps)
    text = (outcome.extra.get("error_text") or outcome.error or "") + "\n" + outcome.stderr.decode("utf-8", "replace")
    read = b"".join(s.data for s in steps) + outcome.stdout
    metadata: list[str] = []
    changes = forbidden_changes(layout, before, after, metadata)
    if tree.token.encode() in read:
        return Verdict("escaped", f"the secret outside every preopen was read (step {_first_with(steps, tree.token)})", n)
    if changes:
        return Verdict("escaped", "; ".join(changes[:3]), n)
    died = traps.HOST_CRASH.search(text)
    if outcome.signal is not None or died:
        why = f"signal {outcome.signal}" if outcome.signal is not None else died.group(0)
        if steps:
            return Verdict("host-crashed", f"the engine died ({why}) after step {n - 1} ({steps[-1].op}), at call {n}: "
                                           f"{calls[n].describe() if n < len(calls) else '?'}", n)
        return Verdict("host-crashed", f"the engine died ({why}); the guest's report died with it, so the call is not "
                                       f"known: {'; '.join(c.describe() for c in calls)[:300]}", n)
    if outcome.timed_out:
        blocked = blocked_at(layout, calls, tree, steps)
        if blocked:  # a host call that hangs where the spec says it returns: the engine's, not the guest's
            return Verdict("spec-deviation", f"{blocked}; stopped by a deadline after {outcome.wall_s:.1f}s", n, [blocked])
        return Verdict("killed", f"stopped by a deadline after {outcome.wall_s:.1f}s at call {n}", n)
    deviations = deviations_of(layout, calls, tree, steps) + metadata
    ended = host_ended(text)
    if not steps and not finished and not ended:
        return Verdict("inconclusive", f"the guest reported nothing: {outcome.describe()[:200]} {text.strip()[-200:]}", 0)
    if deviations:
        return Verdict("spec-deviation", deviations[0], n, deviations)
    if ended and not finished:
        return Verdict("denied", f"the engine ended the guest in call {n} ({calls[n].op if n < len(calls) else '?'}: "
                                 f"{ended}); nothing forbidden happened before", n)
    return Verdict("denied", f"{n} calls ran; nothing forbidden happened", n)


def _first_with(steps, token: str) -> str:
    for s in steps:
        if token.encode() in s.data:
            return f"{s.step}, {s.op}"
    return "?"


def deviations_of(layout: Layout, calls: list[Call], tree: Tree, steps) -> list[str]:
    """The calls the model says must fail that succeeded, in order (the model follows the run:
    registers resolve to what the engine returned)."""
    return _follow(layout, calls, tree, steps)[0]


def blocked_at(layout: Layout, calls: list[Call], tree: Tree, steps) -> str:
    """Why the call the run stopped in may not block ('' when it may, or none is left): the
    model's state after the steps that ran, asked about the next call."""
    _, model, regs = _follow(layout, calls, tree, steps)
    n = len(steps)
    if n >= len(calls):
        return ""
    why = model.must_return(calls[n].op, _args32(calls[n].op, _resolved(calls[n], regs)))
    return f"step {n}: {calls[n].describe()} blocked; it must return: {why}" if why else ""


def _resolved(call: Call, regs: list[int]) -> list[int]:
    """The call's arguments, references to earlier steps replaced by what those returned."""
    return [regs[v] if k in call.refs and v < len(regs) else (0xFFFFFFFF if k in call.refs else v)
            for k, v in enumerate(call.args)] + [0] * 8


def _follow(layout: Layout, calls: list[Call], tree: Tree, steps) -> tuple[list[str], wasimodel.Model, list[int]]:
    model = wasimodel.Model(layout.grants, model_tree(tree), str(tree.root))
    regs: list[int] = []
    out = []
    for call, step in zip(calls, steps):
        args = _resolved(call, regs)
        p1, p2 = call.render(tree.root)
        exp = model.expect(call.op, _args32(call.op, args), p1, p2)
        if exp.must_fail and step.errno == 0:
            out.append(f"step {step.step}: {call.describe()} succeeded; must fail: {exp.why}")
        model.apply(call.op, _args32(call.op, args), p1, p2, step.errno, step.ret)
        regs.append(step.ret if step.errno == 0 else 0xFFFFFFFF)
    return out, model, regs


_I64_ARGS = {"path_open": (3, 4), "fd_fdstat_set_rights": (1, 2), "path_filestat_set_times": (2, 3)}


def _args32(op: str, args: list[int]) -> list[int]:
    """Arguments as the guest passes them: i32 ones wrapped (an i64 where the import takes one)."""
    wide = _I64_ARGS.get(op, ())
    return [a if k in wide else a & 0xFFFFFFFF for k, a in enumerate(args)]


# -- one sequence on one runtime ---------------------------------------------------------------

def interpreter() -> Path:
    """The interpreter module (built once, cached by content hash)."""
    from harness.probes.guests import _cached

    text = wasicalls.wat()
    return _cached(text.encode(), "wasi_interp.wasm", wasicalls.module_bytes)


def run_sequence(session, layout: Layout, calls: list[Call], timeout_s: float = TIMEOUT_S) -> tuple[Verdict, dict]:
    """Plant, snapshot, run, snapshot, judge; (verdict, what a reproducer needs)."""
    tree = plant()
    try:
        before = canary.snapshot(tree.root, mtimes=True)
        stdin = encode(calls, tree.root)
        out = session.run(stdin, timeout_s, wasi=grant_setup(layout, tree))
        after = canary.snapshot(tree.root, mtimes=True)
        v = judge(layout, calls, tree, before, after, out)
        return v, {"root": str(tree.root), "stdout": out.stdout.decode("latin-1")[-4000:],
                   "stderr": out.stderr.decode("utf-8", "replace")[-2000:], "stdin": stdin}
    finally:
        tree.close()


@dataclass
class Summary:
    """The sequences of one runtime row x layout, summed up for one record."""

    outcomes: Counter = field(default_factory=Counter)
    first: dict = field(default_factory=dict)  # outcome -> (reason, calls, example index)
    sequences: int = 0
    calls: int = 0
    calls_run: int = 0
    seconds: float = 0.0  # wall time of the runs, planting and judging included

    def add(self, v: Verdict, calls: list[Call], seconds: float = 0.0) -> None:
        self.seconds += seconds
        self.sequences += 1
        self.calls += len(calls)
        self.calls_run += v.calls_run
        self.outcomes[v.outcome] += 1
        self.first.setdefault(v.outcome, (v.reason, calls, self.sequences))

    @property
    def worst(self) -> str:
        conclusive = [o for o in self.outcomes if o != "inconclusive"]
        return max(conclusive, key=lambda o: RANK[o]) if conclusive else "inconclusive"

    def first_at(self, outcome: str) -> int | None:
        return self.first[outcome][2] if outcome in self.first else None

    def details(self) -> dict:
        worst = self.worst
        reason, calls, _ = self.first.get(worst, ("no sequence ran", [], None))
        if worst == "denied":
            reason = f"{self.sequences} sequences, {self.calls_run} calls ran: nothing forbidden happened"
            calls = []
        out = {"reason": reason, "wall_s": round(self.seconds, 2), "params": "; ".join(c.describe() for c in calls)[:600], "examples": self.sequences,
               "sequences": self.sequences, "calls": self.calls, "calls_run": self.calls_run,
               "outcomes": dict(self.outcomes)}
        for o in FINDINGS:
            if o in self.first:
                out[f"first_{o.replace('-', '_')}_at"] = self.first_at(o)
        return out


# -- reproducers ------------------------------------------------------------------------------

def standalone_wat(stdin: bytes) -> str:
    """The interpreter with the call sequence baked in (no stdin needed): the sequence as WAT."""
    body = "".join(f"\\{b:02x}" for b in stdin)
    text = wasicalls.wat().replace("(call $read_all)", f"(i32.const {len(stdin)})", 1)
    return text.replace('(memory (export "memory") 4)', f'(memory (export "memory") 4)\n  (data (i32.const {wasicalls.IN}) "{body}")', 1)


def write_reproducer(report_dir: Path, runtime: str, version: str, layout: Layout, calls: list[Call], verdict: Verdict,
                     extra: dict) -> Path:
    """reports/findings/wasigen-<runtime>-<layout>-<hash>/: the sequence (JSON and as WAT), the
    layout, what the engine printed, and how to replay it."""
    key = hashlib.sha256(json.dumps([runtime, layout.name, [c.describe() for c in calls]]).encode()).hexdigest()[:10]
    out = Path(report_dir) / "findings" / f"wasigen-{runtime.replace('@', '-')}-{layout.name}-{key}"
    out.mkdir(parents=True, exist_ok=True)
    seq = [{"op": c.op, "args": list(c.args), "refs": sorted(c.refs), "path1": c.path1.decode("latin-1"),
            "path2": c.path2.decode("latin-1")} for c in calls]
    (out / "sequence.json").write_text(json.dumps({"runtime": runtime, "version": version, "layout": layout.name,
                                                   "grants": [asdict(g) for g in layout.grants], "outcome": verdict.outcome,
                                                   "reason": verdict.reason, "root": extra.get("root"), "calls": seq},
                                                  indent=1))
    (out / "sequence.wat").write_text(standalone_wat(extra.get("stdin", b"")))
    (out / "engine-output.txt").write_text(f"stdout:\n{extra.get('stdout', '')}\nstderr:\n{extra.get('stderr', '')}\n")
    (out / "README.txt").write_text(
        f"{verdict.outcome}: {verdict.reason}\n\nruntime: {runtime} {version}\nlayout: {layout.name} ({layout.summary}); "
        f"preopens in fd order from 3: {', '.join(f'{g.dir} {_grant_word(g)}' for g in layout.grants) or 'none'}\n"
        f"calls:\n" + "".join(f"  {i}: {c.describe()}\n" for i, c in enumerate(calls)) +
        f"\nreplay: python -m harness.probes.wasigen replay {out}/sequence.json --runtime {runtime.replace('@', '==')}\n"
        f"(plants a fresh tree: the paths in sequence.json are templates, {{root}} its folder). sequence.wat is the\n"
        f"same calls with the input baked in, its paths rendered for the tree that ran, {extra.get('root')}\n"
        f"(harness.probes.wasigen.plant(Path(that)) plants it there again).\n")
    return out


def _grant_word(g: Grant) -> str:
    return "read-only" if not g.writable else "writable, files read-only" if g.files_writable is False else "writable"


def load_sequence(path: Path) -> tuple[Layout, list[Call]]:
    data = json.loads(Path(path).read_text())
    calls = [Call(c["op"], tuple(c["args"]), frozenset(c["refs"]), c["path1"].encode("latin-1"), c["path2"].encode("latin-1"))
             for c in data["calls"]]
    return LAYOUTS[data["layout"]], calls


def main(argv=None) -> int:
    """`python -m harness.probes.wasigen replay sequence.json --runtime NAME[==VERSION]`."""
    import argparse

    from harness.runtimes import RUNTIMES

    ap = argparse.ArgumentParser(prog="python -m harness.probes.wasigen")
    ap.add_argument("command", choices=["replay"])
    ap.add_argument("sequence", type=Path)
    ap.add_argument("--runtime", default="wasmtime-py")
    args = ap.parse_args(argv)
    name, _, version = args.runtime.partition("==")
    rt = RUNTIMES[name].for_version(version) if version else RUNTIMES[name]
    rt = rt.child() if hasattr(rt, "child") else rt
    layout, calls = load_sequence(args.sequence)
    session = rt.open(interpreter())
    v, extra = run_sequence(session, layout, calls)
    print(f"{v.outcome}: {v.reason}\n{extra['stdout']}")
    return 0 if v.outcome in ("denied",) else 1


if __name__ == "__main__":
    raise SystemExit(main())
