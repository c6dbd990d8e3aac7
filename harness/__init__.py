"""wasm-claims: measured evidence for the claims around Rust + WebAssembly vs Python."""

__version__ = "0.1.0"
