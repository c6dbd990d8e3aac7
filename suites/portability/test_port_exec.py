"""PORT-1, part one: a native binary does not start on another CPU.

For every workload, the binary built for one arch is started on another: a foreign binary
exec'd directly by this machine's kernel (expected: ENOEXEC, "exec format error"), and this
machine's binary started under the other arch's qemu-user, which is what "the x86_64 build
on an aarch64 machine" is (expected: qemu refuses the ELF). The same binary run on its own
arch is the control, so a broken build is never mistaken for a portability failure. On an
ARM machine (the CI matrix) the same test starts the x86_64 build there.
"""

from __future__ import annotations

import errno

import pytest

from harness import arch as arch_mod
from harness import results as results_mod
from harness.process import run_process
from harness.toolchain import BuildError, ToolMissing, build, host_arch

import port_matrix

PORT_ROWS = "exec"
REFUSALS = ("invalid elf image", "exec format error", "cannot execute binary")


def _binary(workload, arch, say):
    try:
        return build(workload, f"{arch}-linux", "c", progress=say)
    except ToolMissing as exc:
        pytest.skip(f"no {arch} build of {workload.name}: {exc}")
    except BuildError as exc:
        pytest.fail(str(exc), pytrace=False)


def _start(binary: str, binary_arch: str, started_on: str, data: bytes, timeout: float):
    """Start the binary on `started_on`: by this kernel when that is the host, else under its qemu."""
    if started_on == host_arch():
        return run_process([binary], data, timeout), f"exec by the {started_on} kernel"
    support = arch_mod.support(started_on)
    if not support.available:
        pytest.skip(f"cannot start anything on {started_on} here: {support.reason}")
    return run_process(support.command(binary), data, timeout), f"{started_on} under {support.version}"


@pytest.mark.claim("PORT-1")
def test_binary_does_not_start_on_another_arch(subject, binary_arch, started_on, evidence, pytestconfig):
    from harness.plugin import _progress

    if emulated := results_mod.harness_emulation():
        pytest.skip(f"the harness itself runs emulated ({emulated}): a binary for another arch reaches the real "
                    "machine's kernel, so whether this arch refuses it cannot be observed here")

    workload = subject
    art = _binary(workload, binary_arch, _progress(pytestconfig))
    data = (workload.seed_inputs() or [b""])[0]
    control_support = arch_mod.support(binary_arch)
    control = None
    if control_support.available:
        control = run_process(control_support.command(str(art.path)), data, workload.timeout_s)
        if control.error is not None or control.status not in ("ok", "rejected"):
            raise port_matrix.HarnessProblem(f"the {binary_arch} build does not run on its own arch: {control.describe()}")
    outcome, how = _start(str(art.path), binary_arch, started_on, data, workload.timeout_s)
    text = ((outcome.error or "") + outcome.stderr.decode("utf-8", "replace")).lower()
    if outcome.extra.get("errno") == errno.ENOEXEC or any(word in text for word in REFUSALS):
        value, verdict = 1, "exec-format-error"
    elif control is not None and port_matrix.fingerprint(outcome) == port_matrix.fingerprint(control):
        value, verdict = 0, "ran"  # e.g. binfmt_misc hands foreign binaries to qemu transparently
    else:
        value, verdict = None, "inconclusive"
    evidence.record(
        "native_not_portable", value if value is not None else 0, "bool", workload=workload,
        form="native", runtime="os", arch=binary_arch, outcome=verdict if value is not None else "inconclusive",
        kind="exec-on-foreign-arch", started_on=started_on, how=how, emulated=started_on != host_arch(),
        error=(outcome.error or outcome.stderr.decode("utf-8", "replace").strip())[:300], errno=outcome.extra.get("errno"),
        exit_code=outcome.exit_code, control=control.describe() if control else f"not run: {control_support.reason}",
        artifact={"target": art.target, "sha256": art.sha256, "size": art.size, "compiler": art.compiler,
                  "compiler_version": art.compiler_version},
        note=("ran because this kernel hands foreign binaries to an emulator (binfmt_misc): the binary itself is "
              "still for one CPU" if verdict == "ran" else ""),
    )
    assert value is not None, f"{binary_arch} binary started {how}: neither refused nor the control's answer: {outcome.describe()}"
