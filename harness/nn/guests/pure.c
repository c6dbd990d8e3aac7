/* Path (a): the block computed in pure Wasm (and, built natively, in plain C). A library:
 * the host writes the input and weights into memory from wc_alloc and calls wc_block. */
#include "nn_blocks.h"

#ifdef __wasm__
#define WC_EXPORT(name) __attribute__((export_name(name)))
#else
#define WC_EXPORT(name) __attribute__((visibility("default")))
#endif

WC_EXPORT("wc_alloc") void *wc_alloc(uint32_t size) { return malloc(size ? size : 1); }
WC_EXPORT("wc_free") void wc_free(void *p) { free(p); }

/* w is an array of the block's weight pointers */
WC_EXPORT("wc_block") int wc_block(int kind, const int32_t *dims, const float *x, const float *const *w, float *out) {
    return wc_compute_block(kind, dims, x, w, out);
}
