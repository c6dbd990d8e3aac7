"""The ggml WASI-NN backend (WasmEdge's contract), the tiny llama model made here, its float64
reference, and the NN-1/NN-2 target rule. Rows that need llama-cpp-python or gguf skip with
the reason where they are not installed."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from harness import claims
from harness.nn import ggml, tinyllama
from harness.nn.abi import Errno
from harness.nn.backends import InputRejected

needs_gguf = pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason=tinyllama.GGUF_MISSING)
needs_llama = pytest.mark.skipif(not ggml.llama_available(), reason=ggml.LLAMA_MISSING)


# -- options (WasmEdge's keys and errnos) ----------------------------------------------------
def test_options_use_wasmedge_keys_and_ignore_unknown_ones():
    opts = ggml.parse_options(b'{"n-predict": 5, "temp": 0, "seed": 7, "stream-stdout": false, "ctx-size": 64}')
    assert (opts.n_predict, opts.temp, opts.seed, opts.ctx_size) == (5, 0.0, 7, 64)
    assert ggml.parse_options(ggml.options_json(9, seed=3)).n_predict == 9


@pytest.mark.parametrize("raw, errno", [
    (b"not json", "invalid_encoding"), (b"[1, 2]", "invalid_encoding"), (b"\xff\xfe", "invalid_encoding"),
    (b'{"n-predict": "5", "temp": 0}', "invalid_argument"), (b'{"n-predict": true, "temp": 0}', "invalid_argument"),
    (b'{"n-predict": -1, "temp": 0}', "invalid_argument"),
    (b'{"n-predict": 4, "temp": 0.7}', "invalid_argument"),  # only greedy is implemented: refused, not ignored
    (b'{"n-predict": 4}', "invalid_argument"),  # WasmEdge's default temp is 0.8: greedy must be asked for
])
def test_bad_options_are_refused_with_wasmedge_errnos(raw, errno):
    with pytest.raises(InputRejected) as info:
        ggml.parse_options(raw)
    assert info.value.errno == errno and Errno[info.value.errno]


# -- the model made here -----------------------------------------------------------------------
@needs_gguf
def test_gguf_is_a_llama_model_with_the_generated_weights(tmp_path):
    import gguf

    spec = tinyllama.LlamaSpec(n_layer=1, seed=5)
    path = tmp_path / "m.gguf"
    tinyllama.write_gguf(spec, path)
    reader = gguf.GGUFReader(str(path))
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    tensors = {t.name: t for t in reader.tensors}
    assert set(tensors) == set(tinyllama.tensor_shapes(spec))
    for name, w in tinyllama.weights(spec).items():
        assert list(tensors[name].shape) == list(reversed(w.shape))  # GGUF lists dimensions innermost first
        np.testing.assert_array_equal(np.asarray(tensors[name].data).reshape(w.shape), w)
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == len(tinyllama.vocabulary()[0])


@needs_gguf
def test_gguf_is_cached_by_content():
    assert tinyllama.gguf_path() == tinyllama.gguf_path() and tinyllama.gguf_path().stat().st_size < 4 << 20


@needs_gguf
def test_vocabulary_reaches_every_word_by_pairwise_merges():
    pieces = set(tinyllama.vocabulary()[0])
    for word in tinyllama.WORDS:
        w = tinyllama.SPACE + word
        assert all(w[:n] in pieces for n in range(2, len(w) + 1)), word
    assert {f"<0x{b:02X}>" for b in range(256)} <= pieces  # byte fallback for any text


# -- the float64 reference ------------------------------------------------------------------------
def test_rope_rotates_adjacent_pairs_as_complex_numbers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 8))
    got = tinyllama._rope(x, 10000.0)
    z = x[..., 0::2] + 1j * x[..., 1::2]
    theta = np.arange(5)[:, None, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8)
    want = z * np.exp(1j * theta)
    np.testing.assert_allclose(got[..., 0::2], want.real, atol=1e-12)
    np.testing.assert_allclose(got[..., 1::2], want.imag, atol=1e-12)
    np.testing.assert_array_equal(got[0], x[0])  # position 0 is not rotated


@needs_gguf
def test_forward64_is_causal():
    spec = tinyllama.LlamaSpec(n_layer=1, seed=2)
    tokens = [1, 300, 301, 5, 600, 42]
    full = tinyllama.forward64(spec, tokens)
    assert full.shape == (len(tokens), len(tinyllama.vocabulary()[0]))
    np.testing.assert_allclose(tinyllama.forward64(spec, tokens[:3]), full[:3], rtol=1e-12, atol=1e-12)
    other = tinyllama.forward64(spec, tokens[:3] + [7, 8, 9])
    assert not np.allclose(other[-1], full[-1])  # later tokens do matter where they are visible


# -- the backend through the host ---------------------------------------------------------------
def test_guest_without_llama_cpp_gets_unsupported_operation(monkeypatch):
    from harness.nn.guest import WasmGuest, build_guest
    from harness.nn.host import NNHost

    monkeypatch.setattr(ggml, "llama_available", lambda: False)
    host = NNHost([ggml.GgmlBackend()])
    host.register("default", b"preload:/nonexistent.gguf", "ggml")
    g = WasmGuest(build_guest("llm").path, host)
    errno = g.call("wc_llm_open", g.put(b"default"), 7, g.alloc(4))
    assert Errno(errno) == Errno.unsupported_operation and "llama-cpp-python" in host.last_error


@needs_llama
@needs_gguf
def test_llm_guest_completion_matches_direct_call():
    from harness.nn.llm import DirectPath, WasiNNPath

    wasi, direct = WasiNNPath(), DirectPath()
    for prompt in (b"the model runs", "ünïcode ✓ <s>".encode()):
        a, b = wasi.complete(prompt, 8), direct.complete(prompt, 8)
        assert a.tokens == b.tokens and a.text == b.text and a.prompt_tokens == b.prompt_tokens
    g, host = wasi.guest, wasi.host
    assert (host.calls[("set_input", "success")], host.calls[("compute", "success")]) == (4, 2)

    def complete(options: bytes, prompt: bytes = b"x") -> Errno:
        return Errno(g.call("wc_llm_complete", wasi.ctx, wasi.u8, g.put(options), len(options), g.put(prompt),
                            len(prompt), wasi.out, 1 << 16, wasi.out_len, wasi.meta, 1 << 14, wasi.meta_len))

    assert complete(b'{"n-predict": 2, "temp": 0}', b"the " * 300) == Errno.invalid_argument  # longer than the context
    assert complete(b"{nope") == Errno.invalid_encoding
    assert complete(b'{"n-predict": 2, "temp": 0.5}') == Errno.invalid_argument
    assert complete(b'{"n-predict": 2, "temp": 0}') == Errno.success
    meta = json.loads(g.get(wasi.meta, int.from_bytes(g.get(wasi.meta_len, 4), "little")))
    assert {"input_tokens", "output_tokens"} <= set(meta) and meta["output_tokens"] <= 2
    assert not host.unexpected


@needs_llama
@needs_gguf
def test_llama_cpp_logits_are_close_to_the_float64_reference():
    from harness.nn.llm import DirectPath
    from harness.nn.parity import relative_error

    tokens, logits = DirectPath().first_logits(b"the tensor model")
    ref = tinyllama.forward64(tinyllama.SUITE_MODEL, tokens)[-1]
    assert relative_error(logits, ref) < 5e-3


# -- NN-1 / NN-2: the targets a verdict rests on ---------------------------------------------------
def _rec(claim, metric, value, target, backend):
    return {"claim": claim, "metric": metric, "value": value, "outcome": "", "runtime": f"{backend}:{target}",
            "form": "wasi-nn", "details": {"target": target, "backend": backend}}


@pytest.mark.parametrize("claim_id, metric, good", [("NN-1", "nn_parity_violation", 0),
                                                    ("NN-2", "nn_boundary_overhead_ratio", 1.01)])
def test_gpu_claims_decided_on_cpu_alone_are_partly_supported(claim_id, metric, good):
    claim = next(c for c in claims.registry() if c.id == claim_id)
    cpu_only = [_rec(claim_id, metric, good, "cpu", "ggml"), _rec(claim_id, metric, good, "cpu", "onnxruntime")]
    v = claims.decide(claim, cpu_only, "")
    assert v.verdict == "partly-supported"
    assert "GPU not tested" in v.summary and "cpu (ggml, onnxruntime)" in v.summary
    both = cpu_only + [_rec(claim_id, metric, good, "gpu", "ggml")]
    v = claims.decide(claim, both, "")
    assert v.verdict == "supported" and "gpu (ggml)" in v.summary and "not tested" not in v.summary


def test_a_violation_is_not_hidden_by_the_target_cap():
    claim = next(c for c in claims.registry() if c.id == "NN-1")
    v = claims.decide(claim, [_rec("NN-1", "nn_parity_violation", 1, "cpu", "ggml")], "")
    assert v.verdict == "refuted" and "GPU not tested" in v.summary


@needs_llama
@needs_gguf
def test_generated_text_keeps_the_nul_byte_token():
    """Byte token <0x00> is a real byte of output, not padding."""
    from harness.nn.llm import DirectPath

    llm = DirectPath().llm
    nul = tinyllama.vocabulary()[0].index("<0x00>")
    assert ggml.pieces(llm, [nul, nul + 0x41]) == b"\x00A"


@needs_llama
@needs_gguf
def test_native_flow_matches_direct_call():
    from harness.nn.llm import DirectPath, NativePath

    native, direct = NativePath(), DirectPath()
    for prompt in (b"the", b"wasm rust python tensor \x00 bytes"):
        a, b = native.complete(prompt, 32), direct.complete(prompt, 32)
        assert a.tokens == b.tokens and a.text == b.text and a.prompt_tokens == b.prompt_tokens


@needs_llama
@needs_gguf
def test_command_guest_runs_like_under_wasmedge():
    """llm.wasm as a command: argv model name and options, the prompt on stdin, the completion
    on stdout, the guest's seconds and the output metadata on stderr."""
    from harness.nn.llm import DirectPath, run_command
    from harness.nn.wasmedge_nn import parse_run

    out, err = run_command(b"the model runs", json.dumps({"n-predict": 12, "temp": 0, "seed": 1}))
    want = DirectPath().complete(b"the model runs", 12)
    text, meta, seconds = parse_run(out, err)
    assert text == want.text and meta["output_token_ids"] == list(want.tokens) and 0 < seconds < 60


@needs_llama
@needs_gguf
def test_backend_loads_gguf_bytes_and_preload_paths_and_refuses_others():
    backend = ggml.GgmlBackend()
    path = tinyllama.gguf_path()
    graph = backend.load_builders([path.read_bytes(), ggml.options_json(3)])
    assert graph.options.n_predict == 3 and graph.path.read_bytes() == path.read_bytes()
    assert backend.load(b"preload:" + str(path).encode()).path == path
    with pytest.raises(FileNotFoundError):
        backend.load(b"preload:/nonexistent.gguf")
    with pytest.raises(ValueError, match="GGUF"):
        backend.load(b"\x08\x07 not a model")


@needs_llama
@needs_gguf
def test_parting_places_where_another_text_leaves_a_completion():
    """Read piece by piece (a path without token ids is placed too), with the logits at that step."""
    from harness.nn.llm import DirectPath

    direct = DirectPath()
    done = direct.complete(b"the model runs", 12)
    head = ggml.pieces(direct.llm, list(done.tokens[:5]))
    part = direct.parting(b"the model runs", done.tokens, head + b"\x01 elsewhere")
    assert part["step"] == 5 and part["other_text_from_here"].startswith("\x01 else")
    assert part["this_piece"] == ggml.pieces(direct.llm, [done.tokens[5]]).decode("utf-8", "replace")
    assert part["llama_best"][0] == done.tokens[5] and part["llama_gap"] >= 0 and part["float64_gap"] >= 0
    assert direct.parting(b"the model runs", done.tokens, done.text)["step"] == 12
