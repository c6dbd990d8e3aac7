"""NN-1 and NN-2 for the tensor layer as the article names it: an LLM guest hands a prompt
through WASI-NN to llama.cpp (the `ggml` backend, WasmEdge's contract), against
llama-cpp-python called directly, on a tiny llama model made here (harness/nn/tinyllama.py).

NN-1: for prompts drawn by Hypothesis, the greedy completion through WASI-NN is identical
token for token (and byte for byte) to the direct call, and llama.cpp's first-step logits
are within LOGIT_BOUND of an independent NumPy float64 forward pass of the same weights.
NN-2: seconds per completion through WASI-NN over direct (the same greedy loop, so only the
boundary differs), medians of repeats from the benchmark runner (harness/bench), each side's
spread kept; tokens per second of every path, llama-cpp-python's own generate() included.
WasmEdge's own wasi_nn plugin, where installed (harness/nn/wasmedge_nn.py), runs the same
guest as a second WASI-NN row: compared by text and token count (it reports no token ids) with
llama-cpp-python, this project's host and the native C flow alike; its tokens per second are
measured beside this project's host in the same rounds, from the guest's own timing of the
completion (process start and model load kept apart).
GPU rows, the container row and the plugin row skip with their reasons where they cannot run.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.bench import Stats, measure, pinned, policy_for, ratio
from harness.nn import ggml
from harness.nn.abi import DEFAULT_PROFILE
from harness.nn.parity import relative_error
from harness.nn.tinyllama import SUITE_MODEL, WORDS, forward64
from harness.toolchain import host_arch

TARGETS = ("cpu", "gpu")
EXAMPLES = {"quick": 5, "default": 25, "thorough": 100}
N_PREDICT = {"quick": 16, "default": 32, "thorough": 64}
# llama.cpp on a CPU with float32 weights keeps its key/value cache in float16 (its default,
# and WasmEdge's): an 11-bit significand, relative rounding up to 2^-11 = 4.9e-4 per cached
# value. Observed: 1e-4..3e-4 relative error norm of the logits; the bound leaves a factor of 10+.
LOGIT_BOUND = 5e-3
BENCH_PROMPT = b"the wasm runtime hands the tensor to the native library on the cpu"
# the generated model ends this prompt with its end-of-sequence token after 12 tokens: every run
# compares the stop rule too, not only completions cut at n-predict
STOPS_EARLY = b"binary"


def prompts():
    """Prompt text: words of the model's vocabulary, arbitrary Unicode (byte fallback),
    whitespace and the spelling of special tokens, mixed."""
    piece = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8),
                      st.sampled_from([" ", "  ", "\n", "\t", "<s>", "</s>", "<unk>", "."]))
    return st.lists(piece, min_size=1, max_size=10).map(lambda xs: " ".join(xs).encode("utf-8"))


# each against python-direct; the WASI-NN rows (this project's host, WasmEdge's plugin where installed) decide NN-1
PATHS = ("wasi-nn", "wasmedge-plugin", "native", "python-container")
WASI_NN_PATHS = ("wasi-nn", "wasmedge-plugin")
REFERENCES = {  # what each reference is; python-direct first: every row is compared with it
    "python-direct": "llama-cpp-python called directly (its own greedy sampler)",
    "wasi-nn": "this project's WASI-NN host (the same guest on wasmtime, the ggml backend over llama-cpp-python)",
    "native": "the flow in C against llama.cpp's C API (llama-cpp-python's libllama), in-process",
}
# WasmEdge's plugin is llama.cpp of its own build: compared with every other implementation where it can run
ALSO_COMPARED = {"wasmedge-plugin": ("wasi-nn", "native")}
COMPARED_BY = {"wasmedge-plugin": "generated text byte for byte and number of generated tokens (the plugin reports "
                                  "no token ids; the end-of-sequence token it keeps is taken off first: "
                                  "harness/nn/wasmedge_nn.py)"}
# measured in the same rounds as the path, besides python-direct's two loops
ALSO_TIMED = {"wasmedge-plugin": ("wasi-nn",)}


def _shown(done) -> list | str:
    return list(done.tokens) if done.tokens is not None else done.text.decode("utf-8", "replace")


@pytest.mark.claim("NN-1")
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("path", PATHS)
def test_llm_completion_parity(path, target, llm_path, evidence, scale):
    through_path, direct = llm_path(path, target), llm_path("python-direct", target)
    refs, not_run = {"python-direct": direct}, {}
    for name in ALSO_COMPARED.get(path, ()):
        refs[name], why = llm_path.optional(name, target)
        if why:
            del refs[name]
            not_run[name] = why
    n_predict = N_PREDICT[scale]
    seen = {"prompts": 0, "ended_early": 0, "logit_errors": [], "abs_errors": [], "argmax_agrees": 0, "logit_violations": 0,
            "refs": {name: {"tokens_compared": 0, "token_mismatches": 0, "first_mismatch": None} for name in refs}}

    @settings(max_examples=EXAMPLES[scale], deadline=None, database=None)
    @given(prompts())
    @example(STOPS_EARLY)
    def same(prompt):
        through = through_path.complete(prompt, n_predict)
        done = {name: ref.complete(prompt, n_predict) for name, ref in refs.items()}
        seen["prompts"] += 1
        seen["ended_early"] += int(through.count < n_predict)  # at the end of sequence: the stop rules compared too
        for name, other in done.items():
            counts = seen["refs"][name]
            counts["tokens_compared"] += max(through.count, other.count)
            if not through.same_as(other):
                counts["token_mismatches"] += 1
                counts["first_mismatch"] = counts["first_mismatch"] or {
                    "prompt": prompt.decode("utf-8", "replace"), path: _shown(through), name: _shown(other),
                    "counts": {path: through.count, name: other.count},
                    "parting": direct.parting(prompt, other.tokens, through.text) if other.tokens is not None else None}
        tokens, logits = direct.first_logits(prompt)
        ref = forward64(SUITE_MODEL, tokens)[-1]
        err = relative_error(logits, ref)
        seen["logit_errors"].append(err)
        seen["abs_errors"].append(float(np.max(np.abs(logits - ref))))
        seen["argmax_agrees"] += int(np.argmax(logits) == np.argmax(ref))
        seen["logit_violations"] += int(not err <= LOGIT_BOUND)
        for name, other in done.items():
            assert through.same_as(other), f"{path}: completion differs from {name} for {prompt!r}: {through} vs {other}"
        assert err <= LOGIT_BOUND, f"first-step logits: relative error {err:.3g} > {LOGIT_BOUND:g} for {prompt!r}"

    same._hypothesis_internal_add_digest = f"nn-llm-parity/{path}/{target}".encode()
    try:
        same()
    finally:
        errs = seen["logit_errors"]
        primary = seen["refs"]["python-direct"]
        bad = sum(r["token_mismatches"] for r in seen["refs"].values()) + seen["logit_violations"]
        evidence.record(
            "nn_parity_violation" if path in WASI_NN_PATHS else "nn_baseline_parity_violation", 1 if bad else 0, "bool",
            claim="NN-1", workload=SUITE_MODEL.id, form=path, runtime=f"ggml:{target}", arch=host_arch(),
            outcome="mismatch" if bad else "agrees", backend="ggml", target=target,
            backend_version=_backend_version(path, through_path), abi_profile=DEFAULT_PROFILE if path == "wasi-nn" else None,
            precision=ggml.GgmlBackend().precision(target), model=SUITE_MODEL.to_dict(), examples=seen["prompts"],
            token_mismatches=primary["token_mismatches"], tokens_compared=primary["tokens_compared"], n_predict=n_predict,
            compared_by=COMPARED_BY.get(path, "token ids and text"),
            first_mismatch=primary["first_mismatch"], compared_with=REFERENCES["python-direct"],
            also_compared_with={name: {**counts, "reference": REFERENCES[name]}
                                for name, counts in seen["refs"].items() if name != "python-direct"} or None,
            references_not_run=not_run or None, ended_before_n_predict=seen["ended_early"],
            max_logit_rel_error=max(errs) if errs else None,
            median_logit_rel_error=statistics.median(errs) if errs else None,
            max_logit_abs_error=max(seen["abs_errors"]) if errs else None, logit_bound=LOGIT_BOUND,
            logit_violations=seen["logit_violations"], argmax_agrees_with_reference=seen["argmax_agrees"],
            logits_from="llama-cpp-python direct, same GGUF and build",
            reference="NumPy float64 forward pass of the same GGUF weights (harness/nn/tinyllama.forward64)",
        )


def _backend_version(path: str, through_path) -> str:
    return getattr(through_path, "backend_version", None) or ggml.llama_version()


def _rounds(sides: dict, policy) -> dict[str, Stats]:
    """Each side measured twice, in A B then B A order, samples pooled: drift in machine load
    falls on both sides alike."""
    pooled: dict[str, list] = {name: [] for name in sides}
    last = {}
    for order in (list(sides), list(sides)[::-1]):
        for name in order:
            last[name] = measure(sides[name], policy)
            pooled[name] += last[name].samples
    return {name: Stats(pooled[name], last[name].stable, last[name].elapsed_s, last[name].warmup, last[name].pinned,
                        last[name].extra) for name in sides}


@pytest.mark.claim("NN-2")
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("path", PATHS)
def test_llm_throughput_against_direct(path, target, llm_path, evidence, scale):
    """Tokens per second of `path` beside llama-cpp-python direct: with the backend's own argmax
    loop (the same work without the boundary: the ratio for wasi-nn is NN-2's boundary
    overhead) and with llama-cpp-python's generate() and sampler (what a Python program would call)."""
    through_path, direct = llm_path(path, target), llm_path("python-direct", target)
    n_predict = N_PREDICT[scale]
    process_s: list[float] = []  # where each completion is a process: its whole time, kept beside

    def through():
        done = through_path.complete(BENCH_PROMPT, n_predict)
        if done.process_seconds is not None:
            process_s.append(done.process_seconds)
        return done

    sides = {path: through,
             "python-direct": lambda: direct.complete(BENCH_PROMPT, n_predict, loop="argmax"),
             "python-direct-sampler": lambda: direct.complete(BENCH_PROMPT, n_predict, loop="sampler")}
    for name in ALSO_TIMED.get(path, ()):
        if (other := llm_path.optional(name, target)[0]) is not None:
            sides[name] = lambda other=other: other.complete(BENCH_PROMPT, n_predict)
    done = {name: run() for name, run in sides.items()}
    assert all(c.same_as(done[path]) for c in done.values()) and done[path].count, \
        f"every side must do the same work (same, non-empty completion): {done}"
    n = done[path].count
    with pinned():
        stats = _rounds({name: (lambda run=run: run().seconds) for name, run in sides.items()},
                        policy_for(scale, max_seconds=1.0 if scale == "quick" else 3.0))
    runtime = f"ggml:{target}"
    for form, s in stats.items():
        evidence.record("llm_tokens_per_s", n / s.median, "tokens/s", claim="NN-2", workload=SUITE_MODEL.id, form=form,
                        runtime=runtime, arch=host_arch(), outcome="measured", backend="ggml", target=target,
                        tokens=n, rate=s.rate(n), timing=s.to_dict("s/completion"), measured_beside=path)
    r = ratio(stats[path], stats["python-direct"], {"form": path, "runtime": runtime},
              {"form": "python-direct", "runtime": runtime, "loop": "argmax"}, unit="s/completion")
    evidence.record(
        "nn_boundary_overhead_ratio" if path == "wasi-nn" else "llm_path_over_direct_time", r["value"], "x",
        claim="NN-2", workload=SUITE_MODEL.id, form=path, runtime=runtime, arch=host_arch(), outcome="measured",
        min=r["min"], max=r["max"], numerator=r["numerator"], denominator=r["denominator"], backend="ggml",
        target=target, backend_version=_backend_version(path, through_path),
        abi_profile=DEFAULT_PROFILE if path == "wasi-nn" else None,
        model=SUITE_MODEL.to_dict(), tokens_per_completion=n, prompt_tokens=done[path].prompt_tokens,
        tokens_per_s={form: s.rate(n) for form, s in stats.items()},
        over_beside={name: stats[path].median / stats[name].median for name in ALSO_TIMED.get(path, ()) if name in stats}
        or None,
        process_s_per_completion=statistics.median(process_s) if process_s else None,
        process_tokens_per_s=n / statistics.median(process_s) if process_s else None,
        over_direct_sampler=stats[path].median / stats["python-direct-sampler"].median,
        overhead_s_per_token=(stats[path].median - stats["python-direct"].median) / n,
    )
