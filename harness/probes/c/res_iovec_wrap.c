/* fd_write / fd_read with an iovec (or an iovec array) whose pointer plus length runs past
   the end of linear memory or wraps 2^32. Wasm only. */
#include "probe.h"
#include <wasi/api.h>
int main(void) {
    uint32_t ptr = (uint32_t)strtoul(param("ptr"), NULL, 0), len = (uint32_t)strtoul(param("len"), NULL, 0);
    long mode = param_int("mode");
    say("MEMSIZE %lu\n", (unsigned long)__builtin_wasm_memory_size(0) * 65536ul);
    __wasi_size_t n = 0;
    int rc;
    if (mode == 2) { /* the iovec array itself sits at ptr */
        rc = __wasi_fd_write(1, (const __wasi_ciovec_t *)(uintptr_t)ptr, len, &n);
    } else {
        __wasi_iovec_t iov = {(uint8_t *)(uintptr_t)ptr, len};
        int fd = mode == 1 ? open(join(param("rw"), "payload.txt"), O_RDONLY) : 1;
        rc = mode == 1 ? __wasi_fd_read(fd, &iov, 1, &n) : __wasi_fd_write(1, (const __wasi_ciovec_t *)&iov, 1, &n);
    }
    say("\nRESULT errno=%d n=%lu\n", rc, (unsigned long)n);
    return done();
}
