/* Path (b): the block handed to the host through WASI-NN (wasi_ephemeral_nn, the lowered
 * all-i32 ABI of WasmEdge's plugin), so the same module runs under WasmEdge unchanged.
 * Also exports raw trampolines so the host calls can be fuzzed from inside a real guest. */
#include "wasi_nn.h"

/* load one model from guest memory; returns the errno, the graph id through graph_out */
WC_EXPORT("wc_nn_load") uint32_t wc_nn_load(const uint8_t *model, uint32_t len, uint32_t encoding, uint32_t target,
                                            uint32_t *graph_out) {
    wc_builder b = {P(model), len};
    return nn_load(P(&b), 1, encoding, target, P(graph_out));
}

WC_EXPORT("wc_nn_load_by_name") uint32_t wc_nn_load_by_name(const char *name, uint32_t len, uint32_t *graph_out) {
    return nn_load_by_name(P(name), len, P(graph_out));
}

WC_EXPORT("wc_nn_init") uint32_t wc_nn_init(uint32_t graph, uint32_t *ctx_out) {
    return nn_init_execution_context(graph, P(ctx_out));
}

/* set_input, compute, get_output, `iterations` times: the offloaded block as a guest runs it */
WC_EXPORT("wc_nn_run") uint32_t wc_nn_run(uint32_t ctx, uint32_t type, uint32_t rank, const uint32_t *dims,
                                          const void *x, uint32_t x_bytes, void *out, uint32_t out_max,
                                          uint32_t *written, uint32_t iterations) {
    wc_tensor t = {P(dims), rank, type, P(x), x_bytes};
    for (uint32_t i = 0; i < iterations; i++) {
        uint32_t e = nn_set_input(ctx, 0, P(&t));
        if (e) return e;
        if ((e = nn_compute(ctx))) return e;
        if ((e = nn_get_output(ctx, 0, P(out), out_max, P(written)))) return e;
    }
    return 0;
}

/* raw trampolines: whatever arguments the fuzzer picks go to the host unchanged */
WC_EXPORT("raw_load") uint32_t raw_load(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e) {
    return nn_load(a, b, c, d, e);
}
WC_EXPORT("raw_load_by_name") uint32_t raw_load_by_name(uint32_t a, uint32_t b, uint32_t c) {
    return nn_load_by_name(a, b, c);
}
WC_EXPORT("raw_init_execution_context") uint32_t raw_init(uint32_t a, uint32_t b) {
    return nn_init_execution_context(a, b);
}
WC_EXPORT("raw_set_input") uint32_t raw_set_input(uint32_t a, uint32_t b, uint32_t c) { return nn_set_input(a, b, c); }
WC_EXPORT("raw_compute") uint32_t raw_compute(uint32_t a) { return nn_compute(a); }
WC_EXPORT("raw_get_output") uint32_t raw_get_output(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e) {
    return nn_get_output(a, b, c, d, e);
}
