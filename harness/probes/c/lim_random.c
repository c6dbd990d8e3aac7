/* One random_get over a large buffer (param len bytes, grown into linear memory). */
#include "probe.h"
#include <wasi/api.h>
int main(void) {
    unsigned long len = strtoul(param("len"), NULL, 0);
    long pages = (long)((len + 65535) / 65536);
    long base = __builtin_wasm_memory_grow(0, pages);
    say("GROW %ld\n", base);
    if (base < 0) return done();
    int rc = __wasi_random_get((uint8_t *)(uintptr_t)((unsigned long)base * 65536ul), (__wasi_size_t)len);
    say("RESULT errno=%d\n", rc);
    return done();
}
