/* random_get with a pointer and length near the edges of linear memory. Wasm only.
   Prints RESULT errno and the memory size, so the harness can tell a write past the end. */
#include "probe.h"
#include <wasi/api.h>
int main(void) {
    uint32_t ptr = (uint32_t)strtoul(param("ptr"), NULL, 0), len = (uint32_t)strtoul(param("len"), NULL, 0);
    say("MEMSIZE %lu\n", (unsigned long)__builtin_wasm_memory_size(0) * 65536ul);
    int rc = __wasi_random_get((uint8_t *)(uintptr_t)ptr, len);
    say("RESULT errno=%d n=%lu\n", rc, rc == 0 ? (unsigned long)len : 0ul);
    return done();
}
