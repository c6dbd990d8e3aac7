/* The lowered wasi_ephemeral_nn imports (all-i32, WasmEdge's plugin ABI), the structs they
 * read from guest memory, and the allocator exports the harness uses to place data: shared by
 * the WASI-NN guests (offload.c, llm.c). */
#ifndef WC_WASI_NN_H
#define WC_WASI_NN_H

#include <stdint.h>
#include <stdlib.h>

#define NN_IMPORT(name) __attribute__((import_module("wasi_ephemeral_nn"), import_name(name)))
#define WC_EXPORT(name) __attribute__((export_name(name)))

NN_IMPORT("load") uint32_t nn_load(uint32_t builders, uint32_t n, uint32_t encoding, uint32_t target, uint32_t graph_out);
NN_IMPORT("load_by_name") uint32_t nn_load_by_name(uint32_t name, uint32_t len, uint32_t graph_out);
NN_IMPORT("init_execution_context") uint32_t nn_init_execution_context(uint32_t graph, uint32_t ctx_out);
NN_IMPORT("set_input") uint32_t nn_set_input(uint32_t ctx, uint32_t index, uint32_t tensor);
NN_IMPORT("compute") uint32_t nn_compute(uint32_t ctx);
NN_IMPORT("get_output") uint32_t nn_get_output(uint32_t ctx, uint32_t index, uint32_t out, uint32_t out_max,
                                               uint32_t written_out);

typedef struct { uint32_t ptr, len; } wc_builder;
typedef struct { uint32_t dims_ptr, dims_len, type, data_ptr, data_len; } wc_tensor;

#define P(x) ((uint32_t)(uintptr_t)(x))

WC_EXPORT("wc_alloc") void *wc_alloc(uint32_t size) { return malloc(size ? size : 1); }
WC_EXPORT("wc_free") void wc_free(void *p) { free(p); }

#endif
