"""Container images for the Docker side of the comparison, built without a registry.

The harness runs its Python workloads inside a Docker container. No registry can be
assumed reachable, so when no Python image is present locally this module builds one from
the host's own Debian packages: it resolves the dependency closure of Debian's
``python3-minimal`` + ``libpython3.X-stdlib`` with ``apt-cache``, downloads the .deb files
with ``apt-get download`` (through the host's apt configuration, as it is) into a cache
directory that later builds reuse, unpacks them with ``dpkg-deb -x`` into a temporary
rootfs, adds the few files a container needs (``/tmp``, ``/etc/passwd`` with ``nobody``,
the usrmerge symlinks), byte-compiles the standard library like Debian's own postinst would,
and ``docker import``s the tarred rootfs. The package list and file count travel with the
image as labels, so a later run reads them back instead of rebuilding.

It also builds the minimal image of the size comparison: one static binary at ``/app``.
"""

from __future__ import annotations

import compileall
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from filelock import FileLock

PYTHON_IMAGE_TAG = "wasm-claims/python:bookworm"  # the locally built image
UPSTREAM_PYTHON_IMAGE = "python:3.12-slim"  # used if already present locally (or pullable)

LABEL_PACKAGES = "wasm-claims.packages"
LABEL_FILE_COUNT = "wasm-claims.file-count"
LABEL_ORIGIN = "wasm-claims.origin"
LABEL_PYTHON = "wasm-claims.python"

ORIGIN_LOCAL = "local-debian"
ORIGIN_UPSTREAM = "upstream"
ORIGIN_STATIC = "static-binary"  # build_static_binary_image: not a Python image

IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Essential/packaging-only packages that a dependency of the Python packages drags in but
# that Python itself never uses at run time (dpkg -> tar, perl-base, ...). Excluding a
# package also excludes whatever only it would have pulled in. The import check after the
# build proves the interpreter works without them.
DEFAULT_EXCLUDE = (
    "dpkg",
    "debconf",
    "perl-base",
    "perl",
    "tar",
    "install-info",
    "mime-support",
    "mailcap",
)

# The check every built Python image must pass (in a container, without network).
VERIFY_CODE = "import json,hashlib,asyncio,runpy,socket,os; print(os.fork is not None)"

PING_TIMEOUT_S = 5  # how long to wait for a Docker engine to answer at all
API_TIMEOUT_S = 300  # the client's default per-request timeout afterwards
PULL_TIMEOUT_S = 30
VERIFY_TIMEOUT_S = 120
APT_TIMEOUT_S = 600

_APT_DEPENDS_FLAGS = (
    "--recurse",
    "--no-recommends",
    "--no-suggests",
    "--no-conflicts",
    "--no-breaks",
    "--no-replaces",
    "--no-enhances",
)

_pull_attempted = False  # WASM_CLAIMS_TRY_PULL: one pull attempt per process, at most


@dataclass(frozen=True)
class ImageInfo:
    tag: str
    image_id: str  # docker image id (sha256:...)
    size_bytes: int  # docker's reported image size
    packages: tuple[str, ...]  # Debian packages in it (empty tuple if unknown, e.g. upstream image)
    file_count: int  # files in the rootfs (0 if unknown)
    python: str  # path of the interpreter inside, e.g. "/usr/bin/python3"
    origin: str  # "local-debian" | "upstream" ("static-binary" for build_static_binary_image)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1e6


class ImageError(Exception):
    """One clear message: what failed, why, and the command that would fix it."""


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------- docker


def docker_client():
    """A docker SDK client for the local engine (``DOCKER_HOST`` etc. respected).

    Connecting fails within ``PING_TIMEOUT_S`` when no engine answers; afterwards the
    client's default request timeout is ``API_TIMEOUT_S`` so that long calls by its users
    (container waits, imports) are not cut short.
    """
    try:
        import docker  # noqa: PLC0415
    except ImportError as e:
        raise ImageError(
            f"The docker SDK is not installed ({e}). Fix: pip install 'docker>=7'"
        ) from None
    try:
        client = docker.from_env(timeout=PING_TIMEOUT_S)
        client.ping()
    except Exception as e:  # DockerException, requests' ConnectionError/ReadTimeout, ...
        raise ImageError(
            f"Docker engine not reachable: {e}. Fix: start the engine (e.g. `systemctl start "
            "docker` or `dockerd &`) and check that `docker version` answers, or point "
            "DOCKER_HOST at one."
        ) from None
    client.api.timeout = API_TIMEOUT_S
    return client


def _split_tag(tag: str) -> tuple[str, str]:
    repo, sep, name = tag.rpartition(":")
    if not sep or "/" in name:  # no tag, or the colon belonged to a registry port
        return tag, "latest"
    return repo, name


def _get_image(client, tag: str):
    import docker  # noqa: PLC0415

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _labels(image) -> dict[str, str]:
    return dict((image.attrs.get("Config") or {}).get("Labels") or {})


def _info_from_image(image, tag: str) -> ImageInfo:
    labels = _labels(image)
    origin = labels.get(LABEL_ORIGIN) or ORIGIN_UPSTREAM
    packages = tuple(p for p in labels.get(LABEL_PACKAGES, "").split(",") if p)
    try:
        file_count = int(labels.get(LABEL_FILE_COUNT, "0"))
    except ValueError:
        file_count = 0
    if LABEL_PYTHON in labels:
        python = labels[LABEL_PYTHON]
    elif origin == ORIGIN_UPSTREAM:
        python = "/usr/local/bin/python3"  # the official python images' interpreter
    elif origin == ORIGIN_STATIC:
        python = ""
    else:
        python = "/usr/bin/python3"
    return ImageInfo(
        tag=tag,
        image_id=image.id,
        size_bytes=int(image.attrs.get("Size") or 0),
        packages=packages,
        file_count=file_count,
        python=python,
        origin=origin,
    )


def _run_in_container(client, image: str, command: list[str], timeout: float) -> tuple[int, str]:
    """Run ``command`` in a throw-away, network-less container: (exit code, output)."""
    container = client.containers.run(
        image, command, detach=True, network_mode="none", stdout=True, stderr=True
    )
    try:
        try:
            status = container.wait(timeout=timeout)
            code = int(status.get("StatusCode", -1))
        except Exception as e:  # ReadTimeout / ConnectionError
            return -1, f"(no exit within {timeout:.0f}s: {e})"
        out = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return code, out
    finally:
        try:
            container.remove(force=True)
        except Exception:
            pass


def _try_pull(client, progress: Progress) -> ImageInfo | None:
    global _pull_attempted
    if _pull_attempted:
        return None
    _pull_attempted = True
    repo, tag = _split_tag(UPSTREAM_PYTHON_IMAGE)
    progress(f"pulling {UPSTREAM_PYTHON_IMAGE} (WASM_CLAIMS_TRY_PULL=1, {PULL_TIMEOUT_S}s limit)")
    old = client.api.timeout
    client.api.timeout = PULL_TIMEOUT_S
    try:
        client.images.pull(repo, tag=tag)
    except Exception as e:
        progress(f"pull failed, building locally instead: {e}")
        return None
    finally:
        client.api.timeout = old
    image = _get_image(client, UPSTREAM_PYTHON_IMAGE)
    return _info_from_image(image, UPSTREAM_PYTHON_IMAGE) if image is not None else None


def python_image(client=None, *, build: bool = True, progress: Progress = print) -> ImageInfo:
    """The Python image the container runs use.

    1. ``UPSTREAM_PYTHON_IMAGE`` present locally: use it;
    2. ``PYTHON_IMAGE_TAG`` present: use it (packages, file count from its labels);
    3. ``WASM_CLAIMS_TRY_PULL=1``: try pulling the upstream image once (short timeout);
    4. ``build``: build the local Debian image; else raise ImageError.
    """
    client = client or docker_client()
    progress = progress or _quiet
    for tag in (UPSTREAM_PYTHON_IMAGE, PYTHON_IMAGE_TAG):
        image = _get_image(client, tag)
        if image is not None:
            return _info_from_image(image, tag)
    if os.environ.get("WASM_CLAIMS_TRY_PULL") == "1":
        info = _try_pull(client, progress)
        if info is not None:
            return info
    if not build:
        raise ImageError(
            f"No Python image: neither {UPSTREAM_PYTHON_IMAGE} nor {PYTHON_IMAGE_TAG} is "
            "present in the local Docker engine. Fix: run `wasm-claims image build` (builds "
            f"{PYTHON_IMAGE_TAG} from this machine's Debian packages)."
        )
    cache_root().mkdir(parents=True, exist_ok=True)
    with FileLock(cache_root() / "python-image.lock"):  # parallel workers: one builds, the others take it
        image = _get_image(client, PYTHON_IMAGE_TAG)
        return _info_from_image(image, PYTHON_IMAGE_TAG) if image is not None else build_python_image(client, progress=progress)


# --------------------------------------------------------------------------- apt


def _apt_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C", "LANG": "C", "DEBIAN_FRONTEND": "noninteractive"}


def _run_apt(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    tool = argv[0]
    if shutil.which(tool) is None:
        raise ImageError(
            f"{tool} not found: the local Python image is built from the host's Debian "
            "packages, which needs apt (a Debian/Ubuntu host). Fix: run on such a host, or "
            f"provide {UPSTREAM_PYTHON_IMAGE} locally (`docker load` / `docker pull` where a "
            "registry is reachable)."
        )
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=_apt_env(),
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ImageError(
            f"`{' '.join(argv)}` did not finish within {APT_TIMEOUT_S}s. Fix: check the apt "
            "sources in /etc/apt (and that they are reachable), then retry."
        ) from None


def _host_arch() -> str:
    if shutil.which("dpkg") is not None:
        r = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    r = _run_apt(["apt-config", "shell", "A", "APT::Architecture"])
    m = re.search(r"A='([^']+)'", r.stdout)
    return m.group(1) if m else ""


def _norm_name(name: str, arch: str) -> str | None:
    """``python3:any`` -> ``python3``; a foreign-architecture name -> None."""
    if ":" not in name:
        return name
    base, a = name.split(":", 1)
    if a in ("any", "all", "native", arch):
        return base
    return None


def _parse_depends(text: str, arch: str):
    """Parse ``apt-cache depends --recurse`` output.

    Returns ``(graph, virtuals, providers)``: graph maps each real package to its list of
    dependency groups (an OR group is a list of alternatives); ``providers`` maps a virtual
    name to the real packages apt listed as providing it.
    """
    graph: dict[str, list[list[str]]] = {}
    virtuals: set[str] = set()
    providers: dict[str, list[str]] = {}
    current: str | None = None
    group: list[str] = []
    last_dep: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            name = line.strip()
            if name.startswith("<") and name.endswith(">"):
                n = _norm_name(name[1:-1], arch)
                if n:
                    virtuals.add(n)
                current = None
            else:
                current = _norm_name(name, arch)
                if current is not None:
                    graph.setdefault(current, [])
            group, last_dep = [], None
            continue
        if current is None:
            continue
        m = re.match(r"^ ([ |])(\w+): (.+)$", line)
        if m:
            is_or, kind, target = m.group(1) == "|", m.group(2), m.group(3).strip()
            if kind not in ("Depends", "PreDepends"):
                last_dep = None
                continue
            if target.startswith("<") and target.endswith(">"):
                n = _norm_name(target[1:-1], arch)
                if n:
                    virtuals.add(n)
                    providers.setdefault(n, [])
            else:
                n = _norm_name(target, arch)
            last_dep = n
            if n is not None:
                group.append(n)
            if not is_or:
                if group:
                    graph[current].append(group)
                group = []
            continue
        if line.startswith("    ") and last_dep is not None and last_dep in providers:
            p = _norm_name(line.strip(), arch)
            if p and p not in providers[last_dep]:
                providers[last_dep].append(p)
    return graph, virtuals, providers


def _candidates(names: Iterable[str]) -> dict[str, str]:
    """name -> candidate version, for the names apt can install (others left out)."""
    names = sorted(set(names))
    out: dict[str, str] = {}
    for i in range(0, len(names), 200):
        r = _run_apt(["apt-cache", "policy", *names[i : i + 200]])
        current = None
        for line in r.stdout.splitlines():
            if line and not line.startswith(" ") and line.endswith(":"):
                current = line[:-1]
            elif current and line.strip().startswith("Candidate:"):
                version = line.split(":", 1)[1].strip()
                if version and version != "(none)":
                    out[current] = version
                current = None
    return out


def _have_lists() -> bool:
    """Whether apt has any package index (i.e. `apt-get update` ran at least once)."""
    r = _run_apt(["apt-get", "indextargets", "--format", "$(FILENAME)", "Created-By: Packages"])
    return any(glob.glob(glob.escape(line.strip()) + "*") for line in r.stdout.splitlines() if line.strip())


def _needs_update(message: str) -> bool:
    """An apt failure that `apt-get update` cures: no lists at all, or stale ones (404)."""
    return "404" in message or "Failed to fetch" in message or not _have_lists()


def package_closure(roots: list[str], *, exclude: Iterable[str] = ()) -> list[str]:
    """The dependency closure of Debian packages ``roots`` for the host architecture.

    Uses ``apt-cache depends --recurse`` without recommends/suggests; virtual packages
    resolve to a provider (one already chosen if any, else the first installable one); of
    an OR group the first installable alternative is taken (or one already chosen).
    Packages in ``exclude`` are left out together with whatever only they pull in.
    Returns the sorted package names, each once.
    """
    roots = list(roots)
    excluded = set(exclude)
    arch = _host_arch()
    r = _run_apt(["apt-cache", "depends", *_APT_DEPENDS_FLAGS, *roots])
    if r.returncode != 0 or not r.stdout.strip():
        raise ImageError(
            f"apt-cache could not resolve {' '.join(roots)}: {(r.stderr or r.stdout).strip()}. "
            "Fix: `apt-get update` (as root) so apt has its package lists, then retry."
        )
    graph, virtuals, providers = _parse_depends(r.stdout, arch)
    real = set(graph) - virtuals
    for plist in providers.values():
        real.update(plist)
    installable = _candidates(real)

    def choices(name: str) -> list[str]:
        if name in installable:
            return [name]
        return [p for p in providers.get(name, []) if p in installable]

    chosen: set[str] = set()
    queue: list[str] = []
    for root in roots:
        c = choices(root)
        if not c:
            raise ImageError(
                f"Debian package {root!r} has no installation candidate for {arch}. Fix: "
                "`apt-get update` (as root), and check the name with `apt-cache policy "
                f"{root}`."
            )
        if c[0] not in chosen:
            chosen.add(c[0])
            queue.append(c[0])
    while queue:
        pkg = queue.pop(0)
        for group in graph.get(pkg, []):
            alternatives = [p for alt in group for p in choices(alt)]
            if any(p in chosen for p in alternatives):
                continue
            allowed = [p for p in alternatives if p not in excluded]
            if not allowed:
                if alternatives or any(a in excluded for a in group):
                    continue  # only excluded packages satisfy it: left out on purpose
                raise ImageError(
                    f"Debian package {pkg!r} depends on {' | '.join(group)}, which apt cannot "
                    f"install for {arch}. Fix: `apt-get update` (as root) and check "
                    f"`apt-cache policy {group[0]}`."
                )
            chosen.add(allowed[0])
            queue.append(allowed[0])
    return sorted(chosen)


# --------------------------------------------------------------------------- build


def cache_root() -> Path:
    return Path(os.environ.get("WASM_CLAIMS_CACHE", Path.home() / ".cache" / "wasm-claims"))


def deb_cache_dir() -> Path:
    return cache_root() / "debs"


def _python_roots() -> tuple[str, list[str]]:
    """('3.11', roots): Debian's default python3 version and the packages to start from."""
    r = _run_apt(["apt-cache", "depends", "python3-minimal"])
    m = re.search(r"Depends: (python(3\.\d+)-minimal)\b", r.stdout)
    if r.returncode != 0 or not m:
        raise ImageError(
            "apt-cache does not know python3-minimal (cannot tell Debian's Python version): "
            f"{(r.stderr or r.stdout).strip()}. Fix: `apt-get update` (as root), then retry."
        )
    version = m.group(2)
    return version, ["python3-minimal", f"python{version}-minimal", f"libpython{version}-stdlib"]


def _apt_update(progress: Progress) -> None:
    if os.geteuid() != 0:
        raise ImageError(
            "apt has no (current) package lists and updating them needs root. Fix: run "
            "`sudo apt-get update`, then retry."
        )
    t0 = time.monotonic()
    progress("apt-get update (package lists missing or stale)")
    r = _run_apt(["apt-get", "update"])
    if r.returncode != 0:
        raise ImageError(
            f"`apt-get update` failed: {(r.stderr or r.stdout).strip()[-2000:]}. Fix: check "
            "the apt sources in /etc/apt and that they are reachable."
        )
    progress(f"apt-get update done ({time.monotonic() - t0:.1f}s)")


def _print_uris(packages: list[str]) -> tuple[int, list[tuple[str, int, str]], str]:
    """(returncode, [(filename, size, 'SHA256:...')], message) for ``packages``."""
    with tempfile.TemporaryDirectory(prefix="wasm-claims-apt-") as empty:  # nothing cached there
        r = _run_apt(["apt-get", "download", "--print-uris", *packages], cwd=Path(empty))
    rows = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].startswith("'"):
            rows.append((parts[1], int(parts[2]), parts[3]))
    return r.returncode, rows, (r.stderr or r.stdout).strip()


def _file_ok(path: Path, size: int, checksum: str) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    algo, _, digest = checksum.partition(":")
    algo = algo.lower().replace("-", "")
    if algo not in hashlib.algorithms_available or not digest:
        return True
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == digest


def _download_debs(
    packages: list[str], progress: Progress, *, updated: bool = False
) -> tuple[list[Path], int]:
    """The .deb files of ``packages`` (apt's candidate versions): (paths, number downloaded).

    Files already in ``deb_cache_dir()`` with the size and checksum apt expects are reused.
    """
    cache = deb_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    while True:
        rc, rows, message = _print_uris(packages)
        if rc == 0 and len(rows) == len(packages):
            break
        if not updated and _needs_update(message):
            _apt_update(progress)
            updated = True
            continue
        raise ImageError(
            f"apt cannot download {' '.join(packages) if rc else 'all of the packages'}: "
            f"{message or 'no URIs printed'}. Fix: `apt-get update` (as root), and check "
            "the apt sources in /etc/apt."
        )
    missing = [(name, size, cs) for name, size, cs in rows if not _file_ok(cache / name, size, cs)]
    if missing:
        by_file = {name: name.split("_", 1)[0] for name, _, _ in rows}  # pkg_version_arch.deb
        to_get = [by_file[name] for name, _, _ in missing]
        progress(f"downloading {len(to_get)} packages into {cache}")
        argv = ["apt-get", "download"]
        if os.geteuid() == 0:
            argv += ["-o", "APT::Sandbox::User=root"]  # the cache is not readable by _apt
        r = _run_apt([*argv, *to_get], cwd=cache)
        if r.returncode != 0 and not updated and _needs_update(r.stderr + r.stdout):
            _apt_update(progress)
            return _download_debs(packages, progress, updated=True)
        failed = [by_file[n] for n, size, cs in missing if not _file_ok(cache / n, size, cs)]
        if r.returncode != 0 or failed:
            raise ImageError(
                f"apt-get download failed for {', '.join(failed) or ' '.join(to_get)}: "
                f"{(r.stderr or r.stdout).strip()[-2000:]}. Fix: `apt-get update` (as root) "
                f"and retry; `apt-get download {failed[0] if failed else to_get[0]}` shows "
                "the problem on its own."
            )
    return [cache / name for name, _, _ in rows], len(missing)


def _merge_into(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst`` (usrmerge: /lib/x -> /usr/lib/x); src is removed."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in list(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir() and not target.is_symlink():
            _merge_into(entry, target)
            continue
        if target.is_symlink() or target.exists():
            # both places ship it: keep /usr's copy (what usrmerge does as well)
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            continue
        os.rename(entry, target)
    src.rmdir()


def _finish_rootfs(root: Path, version: str) -> None:
    # usrmerge, so that /lib64/ld-linux-x86-64.so.2 and /bin/sh-style paths resolve
    for d in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        top, usr = root / d, root / "usr" / d
        if top.is_dir() and not top.is_symlink():
            _merge_into(top, usr)
        elif top.is_symlink():
            continue
        if d in ("bin", "sbin", "lib", "lib64") or usr.is_dir():
            usr.mkdir(parents=True, exist_ok=True)
            top.symlink_to(f"usr/{d}")
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    for d in ("root", "etc", "proc", "sys", "dev", "var/tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "root").chmod(0o700)
    (root / "var" / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    python3 = root / "usr" / "bin" / "python3"
    if not (python3.exists() or python3.is_symlink()):
        python3.symlink_to(f"python{version}")
    # documentation is not needed to run anything: keep only the copyright files
    doc = root / "usr" / "share" / "doc"
    if doc.is_dir():
        for pkgdoc in doc.iterdir():
            if pkgdoc.is_dir() and not pkgdoc.is_symlink():
                for entry in pkgdoc.iterdir():
                    if entry.name == "copyright":
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
    for d in ("usr/share/man", "usr/share/info", "usr/share/lintian"):
        shutil.rmtree(root / d, ignore_errors=True)


def _ldconfig(root: Path) -> str:
    """Write /etc/ld.so.cache for the rootfs (as Debian's libc6 postinst would)."""
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig is None or os.geteuid() != 0:
        return "skipped (needs root and ldconfig)"
    r = subprocess.run([ldconfig, "-r", str(root)], capture_output=True, text=True)
    return "done" if r.returncode == 0 else f"failed: {r.stderr.strip()[:200]}"


def _precompile(root: Path, version: str) -> str:
    """Byte-compile the standard library, as python3's postinst (py3compile) would.

    Without it every fresh container compiles each module it imports again, which would
    charge the container side of the comparison for work an installed Python never does.
    Prefers the image's own interpreter (chroot, needs root; no ``-j``: multiprocessing
    needs /dev/shm, which the bare rootfs lacks); else this interpreter when it writes the
    same .pyc format; else skips.
    """
    libdir = f"/usr/lib/python{version}"
    if os.geteuid() == 0 and shutil.which("chroot"):
        r = subprocess.run(
            ["chroot", str(root), f"/usr/bin/python{version}", "-m", "compileall", "-q",
             "-x", r"(^|/)(test|tests|idlelib)/", libdir],
            capture_output=True, text=True, env={"PATH": IMAGE_PATH, "LC_ALL": "C.UTF-8"},
        )
        if r.returncode == 0:
            return "with the image's python (chroot)"
    if sys.implementation.cache_tag == f"cpython-{version.replace('.', '')}":
        ok = compileall.compile_dir(
            str(root / libdir.lstrip("/")), ddir=libdir, quiet=2, workers=0,
            rx=re.compile(r"(^|/)(test|tests|idlelib)/"),
        )
        return "with the host's python" + ("" if ok else " (some files failed)")
    return "skipped (no chroot and no matching host python)"


def _tar_rootfs(root: Path, out: Path) -> int:
    """Tar ``root`` (owners, modes, links kept) into ``out``; returns the non-directory count."""
    files = 0
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                tar.add(dirpath, arcname=rel, recursive=False)
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                path = os.path.join(dirpath, name)
                tar.add(path, arcname=os.path.normpath(os.path.join(rel, name)), recursive=False)
                files += 1
            # os.walk does not descend into symlinked dirs (followlinks=False): they are
            # added above as links
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return files


def _import(client, tarpath: Path, tag: str, changes: list[str]) -> None:
    repo, name = _split_tag(tag)
    try:
        result = client.api.import_image_from_file(str(tarpath), repository=repo, tag=name, changes=changes)
    except Exception as e:
        raise ImageError(
            f"docker import of {tag} failed: {e}. Fix: check that the Docker engine is "
            "running and has disk space (`docker system df`)."
        ) from None
    text = result if isinstance(result, str) else json.dumps(result)
    if '"error' in text.lower() and "sha256:" not in text:
        raise ImageError(f"docker import of {tag} failed: {text[:2000]}")


def _remove_replaced(client, tag: str, previous) -> None:
    """Drop the image that ``tag`` named before a rebuild (now untagged), if nothing uses it."""
    if previous is None:
        return
    current = _get_image(client, tag)
    if current is not None and current.id != previous.id:
        try:
            client.images.remove(previous.id)
        except Exception:
            pass  # still used by a container, or already gone: harmless


def build_python_image(client=None, *, tag: str = PYTHON_IMAGE_TAG, progress: Progress = print) -> ImageInfo:
    """Build ``tag`` from the host's Debian Python packages and import it into Docker."""
    progress = progress or _quiet
    client = client or docker_client()
    t_start = time.monotonic()

    def step(message: str, t0: float) -> float:
        now = time.monotonic()
        progress(f"{message} ({now - t0:.1f}s)")
        return now

    t = time.monotonic()
    progress("resolving the Debian packages of python3")
    try:
        version, roots = _python_roots()
    except ImageError:
        if shutil.which("apt-cache") is None or _have_lists():
            raise
        _apt_update(progress)
        version, roots = _python_roots()
    packages = package_closure(roots, exclude=DEFAULT_EXCLUDE)
    t = step(f"resolved python{version}: {len(packages)} packages", t)

    debs, downloaded = _download_debs(packages, progress)
    t = step(f"packages ready: {downloaded} downloaded, {len(debs) - downloaded} from the cache", t)

    if shutil.which("dpkg-deb") is None:
        raise ImageError(
            "dpkg-deb not found: it unpacks the downloaded .deb files. Fix: `apt-get install dpkg`."
        )
    with tempfile.TemporaryDirectory(prefix="wasm-claims-rootfs-") as tmpdir:
        root = Path(tmpdir) / "rootfs"
        root.mkdir()
        root.chmod(0o755)
        progress(f"extracting {len(debs)} packages")
        for deb in debs:
            r = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
            if r.returncode != 0:
                raise ImageError(
                    f"`dpkg-deb -x {deb}` failed: {r.stderr.strip()}. Fix: delete {deb} (a "
                    "damaged download) and retry."
                )
        _finish_rootfs(root, version)
        ld = _ldconfig(root)
        pyc = _precompile(root, version)
        t = step(f"rootfs ready (ld.so.cache {ld}; stdlib bytecode {pyc})", t)

        tarpath = Path(tmpdir) / "rootfs.tar"
        file_count = _tar_rootfs(root, tarpath)
        changes = [
            f'LABEL {LABEL_PACKAGES}="{",".join(packages)}"',
            f'LABEL {LABEL_FILE_COUNT}="{file_count}"',
            f'LABEL {LABEL_ORIGIN}="{ORIGIN_LOCAL}"',
            f'LABEL {LABEL_PYTHON}="/usr/bin/python3"',
            f"ENV PATH={IMAGE_PATH}",
            "ENV LANG=C.UTF-8",
            'CMD ["/usr/bin/python3"]',
        ]
        progress(f"importing {tag} ({tarpath.stat().st_size / 1e6:.1f} MB tar, {file_count} files)")
        previous = _get_image(client, tag)
        _import(client, tarpath, tag, changes)
        _remove_replaced(client, tag, previous)
        t = step(f"imported {tag}", t)

    progress("verifying: python3 with json, hashlib, asyncio, runpy, socket, os.fork")
    code, out = _run_in_container(client, tag, ["python3", "-c", VERIFY_CODE], VERIFY_TIMEOUT_S)
    if code != 0 or out.strip() != "True":
        raise ImageError(
            f"The built image {tag} does not run Python (exit {code}):\n{out.strip()[-3000:]}\n"
            f"Fix: delete it (`docker rmi {tag}`) and rebuild (`wasm-claims image build`); if "
            "it fails again the package list needs a missing dependency."
        )
    t = step("verified", t)

    image = _get_image(client, tag)
    if image is None:
        raise ImageError(f"{tag} vanished right after its import. Fix: rebuild with `wasm-claims image build`.")
    info = _info_from_image(image, tag)
    progress(
        f"done: {tag} {info.size_mb:.1f} MB, {len(info.packages)} packages, "
        f"{info.file_count} files ({time.monotonic() - t_start:.1f}s in all)"
    )
    return info


def build_static_binary_image(client, binary: Path, tag: str) -> ImageInfo:
    """An image holding ONLY ``binary`` at ``/app`` (its entry point), for the size comparison."""
    client = client or docker_client()
    binary = Path(binary)
    if not binary.is_file():
        raise ImageError(f"No binary at {binary} to put into {tag}. Fix: build it first.")
    data = binary.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        ti = tarfile.TarInfo("app")
        ti.size = len(data)
        ti.mode = 0o755
        ti.mtime = int(binary.stat().st_mtime)
        ti.type = tarfile.REGTYPE
        tar.addfile(ti, io.BytesIO(data))
    repo, name = _split_tag(tag)
    previous = _get_image(client, tag)
    changes = [
        f'LABEL {LABEL_ORIGIN}="{ORIGIN_STATIC}"',
        f'LABEL {LABEL_FILE_COUNT}="1"',
        f'LABEL {LABEL_PYTHON}=""',
        'CMD ["/app"]',
    ]
    try:
        client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=name, changes=changes)
    except Exception as e:
        raise ImageError(
            f"docker import of {tag} ({binary}) failed: {e}. Fix: check that the Docker engine "
            "is running (`docker version`)."
        ) from None
    _remove_replaced(client, tag, previous)
    image = _get_image(client, tag)
    if image is None:
        raise ImageError(f"docker import of {tag} reported success but the image is missing.")
    return _info_from_image(image, tag)
