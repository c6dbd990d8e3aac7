"""The embedded form: a host process that loads a plugin, survives (or not) its faults, restarts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings

from harness import strategies
from harness.forms import FormUnavailable
from harness.forms.embedded import EmbeddedForm, EmbeddedHost, open_embedded, spec_for


def _record(payload: bytes) -> bytes:
    return struct.pack("<H", len(payload)) + payload


ORDINARY = _record(b"model=llama") + _record(b"t=0.7")


@pytest.fixture(scope="module")
def parser(builtin):
    return builtin["record-parser"]


@pytest.fixture(scope="module")
def native(parser):
    form = open_embedded(parser, "native")
    yield form
    form.close()


@pytest.fixture(scope="module")
def wasm(parser):
    form = open_embedded(parser, "wasm")
    yield form
    form.close()


def test_both_plugins_answer_alike_and_keep_host_data(native, wasm):
    a, b = native.request(ORDINARY), wasm.request(ORDINARY)
    assert a.outcome.status == b.outcome.status == "ok"
    assert a.outcome.stdout == b.outcome.stdout and a.outcome.stdout.startswith(b"model\t5\t")
    assert a.host_intact and b.host_intact and a.served >= 1 and b.pid != a.pid


def test_native_fault_kills_the_host_and_restart_recovers(native):
    native.host.start()
    fault = native.host.request(_record(b"k=" + b"A" * 600), 5)
    assert not fault.host_alive and fault.outcome.signal is not None and fault.outcome.extra["host_died"]
    assert native.host.deaths[-1]["signal"] == fault.outcome.signal
    down = native.host.request(ORDINARY, 5)
    assert down.outcome.error and "down" in down.outcome.error
    again = native.request(ORDINARY)  # the Form interface restarts a dead host
    assert again.host_alive and again.outcome.status == "ok"


def test_wasm_fault_traps_inside_and_host_serves_on(wasm):
    before = wasm.request(ORDINARY).instances
    fault = wasm.request(_record(b"k=" + b"A" * 6000))
    assert fault.host_alive and fault.host_intact
    assert fault.outcome.trap is not None and fault.instances == before + 1  # a trapped instance is replaced
    assert wasm.request(ORDINARY).outcome.status == "ok"


def test_wasm_overflow_is_silent_inside_the_guest(wasm):
    """Past the 64-byte buffer, the hash parameters are overwritten: a wrong answer, no trap."""
    good = wasm.request(_record(b"k=" + b"\0" * 62)).outcome
    bad = wasm.request(_record(b"k=" + b"\0" * 70)).outcome
    assert good.status == bad.status == "ok" and bad.trap is None
    assert bad.stdout.endswith(b"\t00000000\n")  # FNV basis and prime zeroed by the overflow


def test_reset_gives_a_fresh_instance(wasm):
    n = wasm.request(ORDINARY).instances
    assert wasm.request(ORDINARY, reset=True).instances == n + 1


def test_bad_kind_and_bad_artifact(tmp_path):
    with pytest.raises(ValueError, match="unknown plugin kind"):
        EmbeddedHost("jvm", tmp_path / "x")
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not a library")
    with pytest.raises(FormUnavailable, match="did not start"):
        EmbeddedForm("native", junk, 5)


def test_spec_names_match_the_safety1_rule():
    assert spec_for("native").form == "native" and spec_for("wasm").form == "wasm"


@settings(max_examples=30, deadline=None, database=None)
@given(data=strategies.oversized_records(max_size=3, max_field=64, overflow_max=512))
def test_oversized_records_are_well_formed(data):
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack_from("<H", data, pos)
        payload = data[pos + 2:pos + 2 + n]
        assert len(payload) == n and b"=" in payload and n <= 512
        pos += 2 + n
    assert pos == len(data)


def test_defect_search_reaches_past_the_field_bound(parser):
    seen = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(strategies.defect_search(parser))
    def collect(data):
        seen.append(max(struct.unpack_from("<H", data, 0)[0], 0) if len(data) >= 2 else 0)

    collect()
    trigger = parser.defect.trigger.read_bytes()
    assert max(seen) > 64
    assert strategies.seed_inputs(parser) and trigger not in strategies.seed_inputs(parser)
