"""WASI-NN in the harness: the `wasi_ephemeral_nn` host (host.py) on the wasmtime linker, its
ABI profiles (abi.py), tensor backends (backends.py; ggml.py: llama.cpp behind WasmEdge's ggml
contract), seeded tensor blocks (models.py) and a tiny llama model made here with its float64
reference (tinyllama.py), the C guests that use them (guest.py, guests/), the LLM paths
(llm.py, llama_native.py) and the parity arithmetic (parity.py, paths.py)."""
