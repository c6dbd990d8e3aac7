/* The LLM flow as native code: the same steps the WASI-NN host takes for the guest in llm.c
 * (tokenise with BOS and special tokens, evaluate the prompt, argmax, evaluate one token at a
 * time, stop at end of generation or n_predict), written against llama.cpp's C API and linked
 * to the libllama that llama-cpp-python built. A shared library: the harness loads it once
 * and times completions without process start-up, as for the other native paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

#define WC_EXPORT __attribute__((visibility("default")))

typedef struct {
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    int32_t n_vocab, n_ctx;
} wc_llm;

static void quiet(enum ggml_log_level level, const char *text, void *user) { (void)level; (void)text; (void)user; }

/* NULL when the model cannot be loaded */
WC_EXPORT wc_llm *wc_native_open(const char *path, int32_t threads) {
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) return NULL;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 0; /* the model's context length, as the Python paths use */
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    /* as llama-cpp-python's Llama() (and so the host) runs it: llama.cpp's own default, AUTO,
     * turns flash attention on for the CPU, which rounds differently and flips near-ties in
     * greedy decoding (seen: the prompt "the", token 19 of 32) */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { llama_model_free(model); return NULL; }
    wc_llm *h = calloc(1, sizeof *h);
    if (!h) { llama_free(ctx); llama_model_free(model); return NULL; }
    h->model = model;
    h->ctx = ctx;
    h->vocab = llama_model_get_vocab(model);
    h->n_vocab = llama_vocab_n_tokens(h->vocab);
    h->n_ctx = (int32_t)llama_n_ctx(ctx);
    return h;
}

/* greedy completion: token ids into out_tokens (at most max_tokens), text into out_text;
 * returns the number of generated tokens, or a negative error */
WC_EXPORT int32_t wc_native_complete(wc_llm *h, const char *prompt, int32_t prompt_len, int32_t n_predict,
                                     int32_t *out_tokens, int32_t max_tokens, char *out_text, int32_t text_max,
                                     int32_t *text_len, int32_t *prompt_tokens) {
    llama_token *tokens = malloc(sizeof(llama_token) * (size_t)(h->n_ctx));
    if (!tokens) return -1;
    int32_t n = llama_tokenize(h->vocab, prompt, prompt_len, tokens, h->n_ctx, true, true);
    if (n < 0 || n > h->n_ctx - 4) { free(tokens); return -2; }
    *prompt_tokens = n;
    llama_memory_clear(llama_get_memory(h->ctx), true);
    if (llama_decode(h->ctx, llama_batch_get_one(tokens, n))) { free(tokens); return -3; }
    int32_t pos = n, count = 0, written = 0;
    while (count < n_predict && count < max_tokens && pos < h->n_ctx) {
        const float *logits = llama_get_logits_ith(h->ctx, -1);
        llama_token best = 0;
        for (llama_token t = 1; t < h->n_vocab; t++) if (logits[t] > logits[best]) best = t;
        if (llama_vocab_is_eog(h->vocab, best)) break;
        out_tokens[count++] = best;
        char piece[64];
        int32_t len = llama_token_to_piece(h->vocab, best, piece, sizeof piece, 0, true);
        if (len < 0 || written + len > text_max) { free(tokens); return -4; }
        memcpy(out_text + written, piece, (size_t)len);
        written += len;
        tokens[0] = best;
        if (llama_decode(h->ctx, llama_batch_get_one(tokens, 1))) { free(tokens); return -3; }
        pos++;
    }
    free(tokens);
    *text_len = written;
    return count;
}

WC_EXPORT void wc_native_close(wc_llm *h) {
    if (!h) return;
    llama_free(h->ctx);
    llama_model_free(h->model);
    free(h);
}
