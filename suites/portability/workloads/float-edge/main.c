/* float-edge: IEEE-754 double arithmetic on edge values (NaN, infinities, subnormals), with
 * every result printed as its exact bit pattern, so any difference in NaN sign or payload,
 * subnormal handling or multiply-add fusion shows up byte for byte.
 *
 * Input:  arbitrary bytes, read as little-endian IEEE-754 doubles, three at a time (a, b, c),
 *         decoded with shifts so the result does not depend on the host's byte order; a
 *         trailing partial triple is ignored.
 * Output: per triple one line: the bits of a+b, a-b, a*b, a/b, sqrt(a), a*b+c and (float)a*b
 *         widened back, as 16 hex digits each, then a/b with "%g" (musl prints "-nan" for a
 *         NaN with its sign bit set).
 * Deliberately left to the compiler's defaults (no FP_CONTRACT pragma): a*b+c may be fused
 * into one FMA instruction where the target has one (aarch64, riscv64, s390x) and not on
 * x86_64 or wasm32. 0/0, inf-inf and sqrt(-1) produce the target's "default NaN", whose
 * sign bit differs between x86 (set) and Arm/RISC-V (clear); the Wasm spec lets a runtime
 * return either. There is deliberately no Python form: the
 * portability suite compares the compiled forms with each other.
 */
#include <math.h>
#include <stdint.h>
#include "wc_io.h"

static double load_le(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = (u << 8) | p[i];
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void put_bits(wc_buf *out, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    wc_printf(out, "%016llx ", (unsigned long long)u);
}

int wc_process(const unsigned char *in, size_t n, wc_buf *out) {
    for (size_t i = 0; i + 24 <= n; i += 24) {
        double a = load_le(in + i), b = load_le(in + i + 8), c = load_le(in + i + 16);
        put_bits(out, a + b);
        put_bits(out, a - b);
        put_bits(out, a * b);
        put_bits(out, a / b);
        put_bits(out, sqrt(a));
        put_bits(out, a * b + c);
        put_bits(out, (double)((float)a * (float)b));
        wc_printf(out, "%g\n", a / b);
    }
    return 0;
}
