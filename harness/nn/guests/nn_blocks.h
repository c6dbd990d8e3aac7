/* The generated tensor blocks in plain C (float32), the same maths as harness/nn/models.py:
 * built for wasm32-wasi (the pure-Wasm path) and natively (the native path).
 * dims = {rows, d, h, act}; w = the block's weights in the order models.py lists them. */
#ifndef WC_NN_BLOCKS_H
#define WC_NN_BLOCKS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

enum { WC_MLP = 0, WC_SOFTMAX = 1, WC_LAYERNORM = 2, WC_ATTENTION = 3 };

/* out[r][n] = sum_k a[r][k] * b[k][n] (+ bias[n]); a is rows x k, b is k x n */
static void wc_matmul(const float *a, const float *b, const float *bias, float *out, int rows, int k, int n) {
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * n;
        for (int j = 0; j < n; j++) o[j] = bias ? bias[j] : 0.0f;
        for (int i = 0; i < k; i++) {
            float av = a[(size_t)r * k + i];
            const float *brow = b + (size_t)i * n;
            for (int j = 0; j < n; j++) o[j] += av * brow[j];
        }
    }
}

static void wc_softmax_rows(float *x, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * n;
        float m = row[0];
        for (int j = 1; j < n; j++) if (row[j] > m) m = row[j];
        float s = 0.0f;
        for (int j = 0; j < n; j++) { row[j] = expf(row[j] - m); s += row[j]; }
        for (int j = 0; j < n; j++) row[j] /= s;
    }
}

static int wc_compute_block(int kind, const int32_t *dims, const float *x, const float *const *w, float *out) {
    int rows = dims[0], d = dims[1], h = dims[2], gelu = dims[3];
    if (rows <= 0 || d <= 0) return -1;
    switch (kind) {
    case WC_MLP: {
        if (h <= 0) return -1;
        float *hid = malloc((size_t)rows * h * sizeof(float));
        if (!hid) return -2;
        wc_matmul(x, w[0], w[1], hid, rows, d, h);
        for (size_t i = 0; i < (size_t)rows * h; i++) {
            float v = hid[i];
            hid[i] = gelu ? 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)) : (v > 0.0f ? v : 0.0f);
        }
        wc_matmul(hid, w[2], w[3], out, rows, h, d);
        free(hid);
        return 0;
    }
    case WC_SOFTMAX:
        for (size_t i = 0; i < (size_t)rows * d; i++) out[i] = x[i];
        wc_softmax_rows(out, rows, d);
        return 0;
    case WC_LAYERNORM:
        for (int r = 0; r < rows; r++) {
            const float *row = x + (size_t)r * d;
            float *o = out + (size_t)r * d;
            float mean = 0.0f, var = 0.0f;
            for (int j = 0; j < d; j++) mean += row[j];
            mean /= (float)d;
            for (int j = 0; j < d; j++) { float c = row[j] - mean; var += c * c; }
            var /= (float)d;
            float inv = 1.0f / sqrtf(var + 1e-5f);
            for (int j = 0; j < d; j++) o[j] = (row[j] - mean) * inv * w[0][j] + w[1][j];
        }
        return 0;
    case WC_ATTENTION: {
        size_t rd = (size_t)rows * d;
        float *q = malloc(rd * sizeof(float)), *k = malloc(rd * sizeof(float)), *v = malloc(rd * sizeof(float));
        float *s = malloc((size_t)rows * rows * sizeof(float)), *c = malloc(rd * sizeof(float));
        if (!q || !k || !v || !s || !c) { free(q); free(k); free(v); free(s); free(c); return -2; }
        wc_matmul(x, w[0], NULL, q, rows, d, d);
        wc_matmul(x, w[1], NULL, k, rows, d, d);
        wc_matmul(x, w[2], NULL, v, rows, d, d);
        float scale = 1.0f / sqrtf((float)d);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < rows; j++) {
                float acc = 0.0f;
                for (int t = 0; t < d; t++) acc += q[(size_t)i * d + t] * k[(size_t)j * d + t];
                s[(size_t)i * rows + j] = acc * scale;
            }
        wc_softmax_rows(s, rows, rows);
        wc_matmul(s, v, NULL, c, rows, rows, d);
        wc_matmul(c, w[3], NULL, out, rows, d, d);
        free(q); free(k); free(v); free(s); free(c);
        return 0;
    }
    }
    return -1;
}

#endif
