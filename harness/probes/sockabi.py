"""Socket-extension ABIs the network probes speak, per runtime, with where each value comes
from. A probe that calls a socket extension with another runtime's numbering is refused for
its arguments (EINVAL) and would read as 'denied' when nothing was tested: `refused_for_abi`
tells the judge so."""

from __future__ import annotations

import re

# WasmEdge's socket extension to wasi_snapshot_preview1 (its thirdparty/wasi/api.hpp):
# __wasi_address_family_t UNSPEC=0, INET4=1, INET6=2; __wasi_sock_type_t ANY=0, DGRAM=1, STREAM=2;
# sock_connect takes an __wasi_address_t {buf, buf_len} with buf_len 4 (IPv4), 16 or 128.
WASMEDGE = {"AF_INET4": 1, "SOCK_STREAM": 2, "ADDRESS_LEN_INET4": 4}
# Wasmer's WASIX (wasmer-wasix-types: enum Addressfamily, Socktype, SockProto): the values
# net.h's WC_WASIX branch passes to wasix_32v1.sock_open.
WASIX = {"AF_INET4": 1, "SOCK_STREAM": 1, "PROTO_TCP": 6}
WASI_EINVAL = 28
_SOCK_OPEN = re.compile(rb"sock_open -> errno (\d+)")

# WASI 0.2 wasi:sockets/network@0.2.0 `enum error-code`, in its order (a component's import
# types must match the host's exactly): the component probe prints each step's case number.
P2_ERROR_CODES = ("unknown", "access-denied", "not-supported", "invalid-argument", "out-of-memory", "timeout",
                  "concurrency-conflict", "not-in-progress", "would-block", "invalid-state", "new-socket-limit",
                  "address-not-bindable", "address-in-use", "remote-unreachable", "connection-refused",
                  "connection-reset", "connection-aborted", "datagram-too-large", "name-unresolvable",
                  "temporary-resolver-failure", "permanent-resolver-failure")
_P2_STEP = re.compile(r"([a-z][a-z-]*) (ok|error ([0-9a-f]{2}))")


def refused_for_abi(output: bytes) -> bool:
    """The guest's sock_open was refused as invalid arguments (errno 28): the ABI did not match."""
    m = _SOCK_OPEN.search(output)
    return bool(m) and int(m.group(1)) == WASI_EINVAL


def steps(output: bytes, limit: int = 4) -> str:
    """A network probe's socket calls in words, for the record's reason: the component's
    'create-tcp-socket: access-denied' (its case number named), the C guests'
    'sock_connect: errno 29'; '' when it printed none."""
    words = []
    for line in output.decode("latin-1").splitlines():
        m = _P2_STEP.fullmatch(line)
        if m:
            code = int(m.group(3), 16) if m.group(3) else None
            name = "ok" if code is None else P2_ERROR_CODES[code] if code < len(P2_ERROR_CODES) else f"error {code}"
            words.append(f"{m.group(1)}: {name}")
        elif " -> " in line:
            call, _, result = line.partition(" -> ")
            words.append(f"{call.strip()}: {result.strip()}")
    return ", ".join(words[:limit]) + (f", +{len(words) - limit} more" if len(words) > limit else "")
