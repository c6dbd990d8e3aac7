/* An LLM guest: it tokenises nothing itself. It loads a model the host preloaded under a
 * name (WasmEdge: --nn-preload default:GGML:AUTO:model.gguf), sends options JSON (input 1)
 * and the prompt text (input 0) as u8 tensors, computes, and reads the completion
 * (output 0) and the output metadata JSON (output 1): the flow of WasmEdge's ggml examples,
 * over the lowered wasi_ephemeral_nn imports, so the module runs under WasmEdge unchanged.
 * The u8 tensor type code is a parameter because its number differs between ABI versions.
 *
 * Built as a reactor (the harness calls wc_llm_open / wc_llm_complete on one instance, so
 * timings leave out start-up) and, with -DWC_LLM_COMMAND, as a command:
 *   llm.wasm [name] [options-json] < prompt > completion
 * The command writes two lines to stderr: {"wc_llm_seconds": S}, the monotonic-clock seconds
 * of its wc_llm_complete call (the span the harness times around the reactor's call, so a
 * runtime's row leaves out its own start-up and model load), then the output metadata JSON. */
#ifdef WC_LLM_COMMAND
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#endif
#include <string.h>

#include "wasi_nn.h"

/* the model registered as `name` -> an execution context; returns the errno */
WC_EXPORT("wc_llm_open") uint32_t wc_llm_open(const char *name, uint32_t len, uint32_t *ctx_out) {
    uint32_t graph = 0;
    uint32_t e = nn_load_by_name(P(name), len, P(&graph));
    return e ? e : nn_init_execution_context(graph, P(ctx_out));
}

/* bytes as a rank-1 u8 tensor (the dimension is the length, so hosts that check it agree) */
static uint32_t set_bytes(uint32_t ctx, uint32_t index, uint32_t u8, const void *data, uint32_t len) {
    uint32_t dims[1] = {len};
    wc_tensor t = {P(dims), 1, u8, P(data), len};
    return nn_set_input(ctx, index, P(&t));
}

/* one completion: options (may be empty: then none are sent), prompt -> text and metadata */
WC_EXPORT("wc_llm_complete") uint32_t wc_llm_complete(uint32_t ctx, uint32_t u8, const char *options, uint32_t options_len,
                                                      const char *prompt, uint32_t prompt_len, char *out, uint32_t out_max,
                                                      uint32_t *out_len, char *meta, uint32_t meta_max, uint32_t *meta_len) {
    uint32_t e;
    if (options_len && (e = set_bytes(ctx, 1, u8, options, options_len))) return e;
    if ((e = set_bytes(ctx, 0, u8, prompt, prompt_len))) return e;
    if ((e = nn_compute(ctx))) return e;
    if ((e = nn_get_output(ctx, 0, P(out), out_max, P(out_len)))) return e;
    return nn_get_output(ctx, 1, P(meta), meta_max, P(meta_len));
}

#ifdef WC_LLM_COMMAND
#include <stdio.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "default";
    const char *options = argc > 2 ? argv[2] : "{\"n-predict\": 32, \"temp\": 0, \"seed\": 42}";
    static char prompt[1 << 16], out[1 << 16], meta[4096];
    size_t prompt_len = fread(prompt, 1, sizeof prompt, stdin);
    uint32_t ctx = 0, out_len = 0, meta_len = 0;
    double seconds = 0;
    uint32_t e = wc_llm_open(name, (uint32_t)strlen(name), &ctx);
    if (!e) {
        double start = now_s();
        e = wc_llm_complete(ctx, 3 /* u8 in the current witx numbering */, options, (uint32_t)strlen(options), prompt,
                            (uint32_t)prompt_len, out, sizeof out, &out_len, meta, sizeof meta, &meta_len);
        seconds = now_s() - start;
    }
    if (e) {
        fprintf(stderr, "wasi-nn errno %u\n", e);
        return 1;
    }
    /* WasmEdge's ggml plugin (0.14.1) copies its whole output whatever out_max says and reports
     * the full length: a longer output has already overrun the buffer, so say so, never print it */
    if (out_len > sizeof out || meta_len > sizeof meta) {
        fprintf(stderr, "get_output wrote %u and %u bytes into buffers of %zu and %zu\n", out_len, meta_len, sizeof out,
                sizeof meta);
        return 1;
    }
    fwrite(out, 1, out_len, stdout);
    fprintf(stderr, "{\"wc_llm_seconds\": %.9f}\n%.*s\n", seconds, (int)meta_len, meta);
    return 0;
}
#endif
