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
WASI_EINVAL = 28
_SOCK_OPEN = re.compile(rb"sock_open -> errno (\d+)")


def refused_for_abi(output: bytes) -> bool:
    """The guest's sock_open was refused as invalid arguments (errno 28): the ABI did not match."""
    m = _SOCK_OPEN.search(output)
    return bool(m) and int(m.group(1)) == WASI_EINVAL
