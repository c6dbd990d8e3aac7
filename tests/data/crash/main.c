/* Faults on the input "boom" (null store: SIGSEGV natively, trap or silent store in wasm). */
#include "wc_io.h"
int wc_process(const unsigned char *in, size_t n, wc_buf *out) {
    if (n == 4 && memcmp(in, "boom", 4) == 0) __builtin_trap();
    wc_printf(out, "%zu\n", n);
    return 0;
}
