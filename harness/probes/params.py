"""Probe parameters: Hypothesis draws abstract choices (path pieces, addresses near the
2^31/2^32/2^33 edges, shift amounts); `Layout` turns them into the concrete values one run
needs once its canaries are planted (the host paths change on every run).

Paths are drawn as recipes that, natively, resolve to the canary they aim at, so the native
run is a real positive control; the decorations (`.`, `//`, `/./`, a NUL and junk after it,
long names) are what a sandbox's path handling must get right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

PAGE = 1 << 16
MEMORY = PAGE  # the WAT probes' linear memory: one page
EDGES = (0, PAGE - 4, PAGE, 1 << 31, (1 << 32) - 1)


@dataclass(frozen=True)
class Layout:
    """Where one run's canaries are, as the guest sees them (`rw`, `ro`) and on the host."""

    rw: str
    ro: str
    host_rw: Path
    outside: Path
    secret: Path
    target: Path
    port: int
    envname: str

    @property
    def depth(self) -> int:
        """How many `..` lead from the writable folder up to / on the host."""
        return len(self.host_rw.parts) - 1


@dataclass(frozen=True)
class PathRecipe:
    """A path to `aim` (secret, target, outside or a new name outside), drawn abstractly."""

    aim: str  # secret | target | outside | new
    absolute: bool  # the host's absolute path, or relative from the writable folder
    climb_to_root: bool  # relative only: `..` up to / and back down, rather than `../..`
    extra_ups: int  # relative + climb_to_root: more `..` than needed (/.. stays /)
    seps: tuple[str, ...]  # separators used in turn: /, //, /./
    lead: str  # "", "./" (relative) or an extra "/" (absolute)
    nul_junk: bytes  # appended after a NUL (b"" = none): the kernel stops at the NUL
    new_name: str = "created.txt"

    def segments(self, lay: Layout) -> list[str]:
        tail = {"secret": ["secret.txt"], "target": ["target.txt"], "outside": [], "new": [self.new_name]}[self.aim]
        outside = list(lay.outside.parts[1:])
        if self.absolute:
            return outside + tail
        if self.climb_to_root:
            return [".."] * (lay.depth + self.extra_ups) + outside + tail
        return ["..", "..", "outside"] + tail

    def render(self, lay: Layout) -> bytes:
        segs = self.segments(lay)
        out = self.lead + ("/" if self.absolute else "")
        for i, s in enumerate(segs):
            out += s + (self.seps[i % len(self.seps)] if i < len(segs) - 1 else "")
        return out.encode() + (b"\0" + self.nul_junk if self.nul_junk else b"")


SEPS = st.lists(st.sampled_from(["/", "/", "/", "//", "/./"]), min_size=1, max_size=4).map(tuple)
JUNK = st.one_of(st.just(b""), st.sampled_from([b"/../x", b"..", b"x" * 255, b"y" * 4096, b"/", b"\0"]))


def path_recipe(aim: str, *, absolute=None, nul=False) -> st.SearchStrategy[PathRecipe]:
    """Paths aimed at one canary: relative or absolute, decorated, with a NUL tail if asked."""
    abs_st = st.booleans() if absolute is None else st.just(absolute)
    return st.builds(
        lambda a, climb, extra, seps, lead, junk, name: PathRecipe(
            aim, a, climb, extra, seps, ("/" if lead else "") if a else ("./" if lead else ""), junk, name),
        abs_st, st.booleans(), st.integers(0, 3), SEPS, st.booleans(),
        JUNK if nul else st.just(b""),
        st.sampled_from(["created.txt", "n" * 200, ".hidden"]),
    )


def address_near_edges() -> st.SearchStrategy[int]:
    """u32 addresses: anywhere, or within 64 bytes of 0, the page end, 2^31 and 2^32."""
    near = st.sampled_from(EDGES).flatmap(lambda e: st.integers(max(0, e - 64), min((1 << 32) - 1, e + 64)))
    return st.one_of(near, st.integers(0, (1 << 32) - 1))


def length_near_edges() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 64), address_near_edges(), st.sampled_from([PAGE, 1 << 31, (1 << 32) - 1]))


@st.composite
def shl_index(draw) -> tuple[int, int, int]:
    """(idx, k, offset selector) for i32.load (i32.shl idx k): mostly indices whose shifted
    value wraps past 2^32 back into the first page, the inputs the folding bug mishandles."""
    k = draw(st.integers(1, 3))
    if draw(st.booleans()):
        high = draw(st.integers(1, (1 << k) - 1))
        low = draw(st.integers(256 >> k, (PAGE - 32) >> k))
        idx = (high << (32 - k)) | low
    else:
        idx = draw(address_near_edges())
    return idx, k, draw(st.integers(0, 1))
