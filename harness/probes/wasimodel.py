"""A small model of WASI preview1's permissions: for each call of a generated sequence (as it
actually ran: the descriptors the engine returned), which calls must fail under the layout's
grants, and why. It is deliberately conservative: it only says "must fail" where preview1's
capability rules leave no room (a path that leaves its base directory, through `..`, an
absolute path or a symlink that points out; a change in a folder granted read-only; opening a
read-only file for writing or truncation; writing through a descriptor whose write right was
dropped), and says nothing about calls whose outcome depends on the engine's choices.

Paths are resolved against the model's own picture of the tree (the planted files, updated by
the calls that succeeded), following symlinks in the middle of a path always and in the last
component where the call follows (lookup flag SYMLINK_FOLLOW, path_open, or a trailing `/`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

SYMLINK_FOLLOW = 1
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
R_FD_WRITE, R_FD_ALLOCATE, R_FD_FILESTAT_SET_SIZE = 1 << 6, 1 << 8, 1 << 22
WRITE_RIGHTS = R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE
FDFLAG_APPEND = 1


@dataclass(frozen=True)
class Grant:
    """One preopen of a layout: a folder of the planted tree (relative), its permissions."""

    dir: str
    writable: bool
    files_writable: bool | None = None

    @property
    def file_write(self) -> bool:
        return self.writable if self.files_writable is None else (self.files_writable and self.writable)


@dataclass
class Fd:
    kind: str  # dir | file | stdio | other
    grant: int | None  # the preopen it came through
    rel: str | None  # where on the planted tree (None: unknown)
    write_dropped: bool = False  # opened without the write right, or narrowed by fd_fdstat_set_rights


@dataclass
class Tree:
    """What the model believes the planted tree holds: files, dirs, symlinks (relative paths)."""

    files: set = field(default_factory=set)
    dirs: set = field(default_factory=set)
    links: dict = field(default_factory=dict)  # rel -> target text

    def kind(self, rel: str) -> str | None:
        return "link" if rel in self.links else "dir" if rel in self.dirs else "file" if rel in self.files else None

    def remove(self, rel: str) -> None:
        self.files.discard(rel)
        self.dirs.discard(rel)
        self.links.pop(rel, None)


class Escape(Exception):
    """The path leaves its base directory (the reason is the message)."""


def resolve(tree: Tree, base: str, path: bytes, root: str, follow_last: bool, trailing_follows: bool = True) -> str:
    """The planted-tree path `path` names from directory `base` (never above `base`, as preview1
    requires); raises Escape when it leaves, or ValueError when the model cannot tell. A
    trailing `/` makes the last component followed only where `trailing_follows` (calls that
    look a path up; engines differ on what it means for a rename's or link's new name)."""
    try:
        text = path.decode()
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    if "\0" in text or not text:
        raise ValueError("empty or NUL")
    if text.startswith("/"):
        raise Escape(f"absolute path {text[:60]!r}")
    trailing = text.endswith("/") and trailing_follows
    parts = [p for p in text.split("/") if p not in ("", ".")]
    stack: list[str] = []
    hops = 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if not stack:
                raise Escape(f"{text[:60]!r} climbs above its base directory")
            stack.pop()
            continue
        rel = posixpath.join(base, *stack, name)
        last = not parts
        if rel in tree.links and (not last or follow_last or trailing):
            hops += 1
            if hops > 8:
                raise ValueError("symlink loop")
            target = tree.links[rel]
            if target.startswith("/"):
                raise Escape(f"{text[:60]!r} follows symlink {rel} -> {target[:60]} (absolute)")
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        stack.append(name)
    return posixpath.join(base, *stack) if stack else base


@dataclass
class Expect:
    must_fail: bool
    why: str = ""


@dataclass
class Model:
    grants: tuple[Grant, ...]
    tree: Tree
    root: str  # the host root's path (absolute symlink targets inside it are still outside any grant)
    fds: dict = field(default_factory=dict)

    def __post_init__(self):
        self.fds = {0: Fd("stdio", None, None), 1: Fd("stdio", None, None), 2: Fd("stdio", None, None)}
        for i, g in enumerate(self.grants):
            self.fds[3 + i] = Fd("dir", i, g.dir)

    # -- helpers
    def _dir(self, fd: int) -> Fd | None:
        f = self.fds.get(fd)
        return f if f is not None and f.kind == "dir" and f.rel is not None and f.grant is not None else None

    def _path(self, fd: int, path: bytes, follow: bool, lookup: bool = False) -> tuple[Fd | None, str | None, str]:
        """(dir fd, resolved rel, escape reason): rel None when unknown or escaping. `lookup`:
        a call that looks the path up (path_open, the filestat calls), where a trailing `/` follows."""
        d = self._dir(fd)
        if d is None:
            return None, None, ""
        try:
            return d, resolve(self.tree, d.rel, path, self.root, follow, lookup), ""
        except Escape as exc:
            return d, None, str(exc)
        except ValueError:
            return d, None, ""

    def grant(self, f: Fd) -> Grant:
        return self.grants[f.grant]

    # -- the rules
    def expect(self, op: str, a: list[int], p1: bytes, p2: bytes) -> Expect:
        """Must this call fail, given the state before it?"""
        a = list(a) + [0] * 8
        fd = a[0] if a else -1
        if op in ("path_open", "path_readlink", "path_unlink_file", "path_remove_directory", "path_create_directory",
                  "path_filestat_get", "path_filestat_set_times"):
            follow = op == "path_open" and bool(a[1] & SYMLINK_FOLLOW) or op in ("path_filestat_get", "path_filestat_set_times") and bool(a[1] & SYMLINK_FOLLOW)
            d, rel, esc = self._path(fd, p1, follow, op in ("path_open", "path_filestat_get", "path_filestat_set_times"))
            if d is None:
                return Expect(False)
            if esc:
                return Expect(True, f"{op}: {esc}")
            g = self.grant(d)
            kind = self.tree.kind(rel) if rel else None
            if op in ("path_unlink_file", "path_remove_directory", "path_create_directory") and not g.writable:
                return Expect(True, f"{op} in {g.dir}, granted read-only")
            if op == "path_filestat_set_times" and a[4] & 0xF and not g.writable:  # a directory right in preview1
                return Expect(True, f"{op} in {g.dir}, granted read-only")
            if op == "path_open" and rel is not None:
                oflags, rights, fdflags = a[2], a[3], a[5]
                if oflags & O_CREAT and kind is None and not g.writable:
                    return Expect(True, f"path_open(O_CREAT) of {rel} in {g.dir}, granted read-only")
                if kind == "file" and not g.file_write and (oflags & O_TRUNC or rights & R_FD_WRITE):
                    how = "O_TRUNC" if oflags & O_TRUNC else "the fd_write right"
                    return Expect(True, f"path_open({how}) of {rel}, a read-only file")
            return Expect(False)
        if op in ("path_link", "path_rename", "path_symlink"):
            pairs = {"path_link": [(a[0], p1, bool(a[1] & SYMLINK_FOLLOW)), (a[2], p2, False)],
                     "path_rename": [(a[0], p1, False), (a[1], p2, False)],
                     "path_symlink": [(a[0], p2, False)]}[op]
            ends = []
            for dfd, path, follow in pairs:
                d, rel, esc = self._path(dfd, path, follow)
                if d is None:
                    ends.append(None)
                    continue
                if esc:
                    return Expect(True, f"{op}: {esc}")
                if not self.grant(d).writable:
                    return Expect(True, f"{op} changes {self.grant(d).dir}, granted read-only")
                ends.append((self.grant(d), rel))
            if op != "path_symlink" and None not in ends:
                (src, rel), (dst, _) = ends
                if self.tree.kind(rel) == "file" and not src.file_write and dst.file_write:
                    return Expect(True, f"{op} would give {rel}, a read-only file, a name in {dst.dir}, whose files are "
                                        "writable (no call may grant more than the layout does)")
            return Expect(False)
        f = self.fds.get(fd)
        if f is None or f.kind != "file" or f.grant is None:
            return Expect(False)
        g = self.grant(f)
        writes = (op in ("fd_write", "fd_pwrite") and p1 or op in ("fd_allocate", "fd_filestat_set_size")
                  or op == "fd_filestat_set_times" and a[3] & 0xF)
        if writes and not g.file_write:
            return Expect(True, f"{op} on a descriptor of {f.rel}, a read-only file")
        if op in ("fd_write", "fd_pwrite") and p1 and f.write_dropped:
            return Expect(True, f"{op} through a descriptor without the fd_write right")
        return Expect(False)

    def must_return(self, op: str, a: list[int]) -> str:
        """Why this call may not block ('' where it may): preview1's poll_oneoff returns when its
        clock subscription fires (the probes draw at most 1000 ns), and answers a subscription on
        a descriptor that is not open with an event carrying the error, not by waiting on it."""
        if op != "poll_oneoff":
            return ""
        tag, fd, timeout = (list(a) + [0, 0, 0])[:3]
        if tag == 0:
            return f"its clock subscription ({timeout} ns) fires at once"
        if fd not in self.fds:
            return f"fd {fd} is not open: the subscription's event carries EBADF"
        return ""

    def apply(self, op: str, a: list[int], p1: bytes, p2: bytes, errno: int, ret: int) -> None:
        """Update the state after a call that ran (`errno` 0: it succeeded)."""
        if errno != 0:
            return
        a = list(a) + [0] * 8
        if op == "path_open":
            d, rel, _ = self._path(a[0], p1, bool(a[1] & SYMLINK_FOLLOW), True)
            kind = self.tree.kind(rel) if rel else None
            if rel and kind is None and a[2] & O_CREAT:
                self.tree.files.add(rel)
                kind = "file"
            fkind = "dir" if kind == "dir" or a[2] & O_DIRECTORY else "file" if kind == "file" else "other"
            dropped = not (a[3] & R_FD_WRITE) and not (a[2] & O_TRUNC) and not (a[5] & FDFLAG_APPEND)
            self.fds[ret] = Fd(fkind, d.grant if d else None, rel, dropped)
        elif op == "fd_close":
            self.fds.pop(a[0], None)
        elif op == "fd_renumber":
            if a[0] != a[1] and a[0] in self.fds:
                self.fds[a[1]] = self.fds.pop(a[0])
        elif op == "fd_fdstat_set_rights":
            f = self.fds.get(a[0])
            if f is not None and not (a[1] & R_FD_WRITE):
                f.write_dropped = True
        elif op in ("path_create_directory", "path_unlink_file", "path_remove_directory", "path_symlink"):
            fd, path = (a[0], p2) if op == "path_symlink" else (a[0], p1)
            _, rel, _ = self._path(fd, path, False)
            if rel:
                if op == "path_create_directory":
                    self.tree.dirs.add(rel)
                elif op == "path_symlink":
                    self.tree.links[rel] = p1.decode("utf-8", "replace")
                else:
                    self.tree.remove(rel)
        elif op in ("path_rename", "path_link"):
            nfd = a[1] if op == "path_rename" else a[2]
            _, old, _ = self._path(a[0], p1, False)
            _, new, _ = self._path(nfd, p2, False)
            if old and new:
                kind = self.tree.kind(old)
                target = self.tree.links.get(old)
                if op == "path_rename":
                    self.tree.remove(old)
                self.tree.remove(new)
                if kind == "link":
                    self.tree.links[new] = target
                elif kind == "dir":
                    self.tree.dirs.add(new)
                else:
                    self.tree.files.add(new)
