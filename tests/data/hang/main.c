/* Spins forever: the harness must stop it at the deadline in every form. */
#include "wc_io.h"
int wc_process(const unsigned char *in, size_t n, wc_buf *out) {
    volatile unsigned long spin = 0;
    (void)in; (void)n; (void)out;
    for (;;) spin++;
    return 0;
}
