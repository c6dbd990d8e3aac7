/* data-model: a C source that quietly assumes the LP64 data model, little-endian bytes and a
 * signed `char` -- three assumptions that hold on x86_64 Linux and nowhere near everywhere.
 *
 * Input:  arbitrary bytes.
 * Output: three lines:
 *   "hash <hex>"   FNV-1a 64 over the input, written with `unsigned long` because "long is 64
 *                  bits" (true on LP64 x86_64/aarch64/riscv64/s390x, false on ILP32 wasm32:
 *                  there the offset basis and prime are truncated to 32 bits);
 *   "chars <dec>"  the sum of the input bytes read through plain `char` (signed on x86_64 and
 *                  wasm32, unsigned on aarch64, riscv64 and s390x);
 *   "words <hex>"  the XOR of the input's 4-byte words loaded with memcpy into a uint32_t,
 *                  i.e. in host byte order (s390x is big-endian).
 * main.py computes what the author meant (64-bit, signed char, little-endian).
 */
#include <stdint.h>
#include "wc_io.h"

int wc_process(const unsigned char *in, size_t n, wc_buf *out) {
    unsigned long hash = 14695981039346656037UL; /* truncated to 0x84222325 where long is 32-bit */
    const unsigned long prime = 1099511628211UL;  /* truncated to 0x000001b3 where long is 32-bit */
    long chars = 0;
    uint32_t words = 0;
    for (size_t i = 0; i < n; i++) {
        hash ^= in[i];
        hash *= prime;
        chars += (char)in[i];
    }
    for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, in + i, sizeof w);
        words ^= w;
    }
    wc_printf(out, "hash %016lx\nchars %ld\nwords %08lx\n", hash, chars, (unsigned long)words);
    return 0;
}
