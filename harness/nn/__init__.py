"""WASI-NN in the harness: the `wasi_ephemeral_nn` host (host.py) on the wasmtime linker, its
ABI profiles (abi.py), tensor backends (backends.py), seeded tensor blocks (models.py), the C
guests that use them (guest.py, guests/) and the parity arithmetic (parity.py, paths.py)."""
