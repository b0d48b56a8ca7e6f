/*
 * One decode step of a MiniCPM4 / Llama-family model on the CPU, every layer in one call.
 *
 * Why C: at batch 1 a step of the 135M embedded model is ~120 small matrix-vector products and
 * ~900 tiny ops; through torch each op costs microseconds of dispatch and the fp32 weights cost
 * 540 MB of memory traffic a token. Here the weights stay in their checkpoint blocks (GGUF
 * Q4_0/Q4_1/Q8_0, F16 or F32) and are dequantized in registers, and one OpenMP region runs the
 * whole step with a barrier between phases.
 *
 * The numbers are those of engine/model.py's forward with the same weights (fp32 activations,
 * fp32 accumulation; only the order of the sums differs), which tests/engine/test_native.py
 * checks. The Python side (engine/native/decoder.py) owns every buffer; this file allocates
 * only its per-call scratch.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define CPM_AVX2 1
#endif

/* Weight formats: the GGML type ids, so Python passes the GGUF tensor type through. */
enum { W_F32 = 0, W_F16 = 1, W_Q4_0 = 2, W_Q4_1 = 3, W_Q8_0 = 8 };

typedef struct {
    const uint8_t *data; /* rows * row_bytes bytes, row r at data + r * row_bytes */
    int64_t row_bytes;
    int32_t type;
    int32_t rows;
    int32_t cols;
    int32_t pad_;
} Weight;

typedef struct {
    const float *attn_norm, *ffn_norm; /* [hidden] */
    Weight q, k, v, o, gate, up, down;
    float *k_cache, *v_cache; /* [batch_capacity, kv_heads, max_len, head_dim] */
} Layer;

typedef struct {
    int32_t n_layers, hidden, heads, kv_heads, head_dim, inter, vocab;
    int32_t batch_capacity, max_len, rope_len;
    float eps, scale_emb, residual_scale, logit_scale;
    const float *rope_cos, *rope_sin; /* [rope_len, head_dim], halves duplicated (rotate_half layout) */
    const float *final_norm;          /* [hidden] */
    Weight embed, lm_head;
    const Layer *layers;
} Model;

/* ---------------------------------------------------------------- fp16 */

static inline float half_to_float(uint16_t h) {
#ifdef CPM_AVX2
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) {
                mantissa <<= 1;
                exponent--;
            }
            bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000 | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

static inline float load_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, sizeof h);
    return half_to_float(h);
}

/* ---------------------------------------------------------------- dequantization of one row (plain C) */

/* Row r of w as fp32 into out[cols]: the embedding lookup and the reference for the dot products. */
static void dequantize_row(const Weight *w, int64_t r, float *out) {
    const uint8_t *row = w->data + r * w->row_bytes;
    int blocks = w->cols / 32;
    switch (w->type) {
    case W_F32:
        memcpy(out, row, sizeof(float) * (size_t)w->cols);
        break;
    case W_F16:
        for (int i = 0; i < w->cols; i++) out[i] = load_half(row + 2 * i);
        break;
    case W_Q8_0:
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = row + 34 * b;
            float d = load_half(block);
            for (int i = 0; i < 32; i++) out[32 * b + i] = d * (float)(int8_t)block[2 + i];
        }
        break;
    case W_Q4_0:
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = row + 18 * b;
            float d = load_half(block);
            for (int i = 0; i < 16; i++) {
                out[32 * b + i] = d * (float)((block[2 + i] & 0x0f) - 8);
                out[32 * b + 16 + i] = d * (float)((block[2 + i] >> 4) - 8);
            }
        }
        break;
    case W_Q4_1:
        for (int b = 0; b < blocks; b++) {
            const uint8_t *block = row + 20 * b;
            float d = load_half(block), m = load_half(block + 2);
            for (int i = 0; i < 16; i++) {
                out[32 * b + i] = d * (float)(block[4 + i] & 0x0f) + m;
                out[32 * b + 16 + i] = d * (float)(block[4 + i] >> 4) + m;
            }
        }
        break;
    }
}

/* ---------------------------------------------------------------- row dot products */

#define MAX_ROWS 16 /* activation rows (batch) handled per weight-row pass; larger batches loop */

#ifdef CPM_AVX2
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 16 4-bit codes of a Q4 block -> 32 values as 4 x 8 floats (low nibbles first, as GGML stores them). */
static inline void nibbles_to_floats(const uint8_t *qs, __m256 out[4]) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    __m128i mask = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    out[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
    out[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
    out[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
    out[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

/* The 32 codes of a Q4 block as 4 x 8 floats in "dword order": vector k, lane L holds the code of
   element 4 (L % 4) + k + 16 (L / 4), i.e. byte 4 (L % 4) + k, low nibble in lanes 0-3 and high
   in lanes 4-7. Variable shifts within 32-bit lanes replace the widening shuffles of
   nibbles_to_floats; the activations are put in the same order once per matmul input
   (prepare_input), so the dot product is unchanged. */
static inline void nibbles_dword_order(const uint8_t *qs, __m256 out[4]) {
    __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(raw, raw), mask = _mm256_set1_epi32(0x0f);
    for (int k = 0; k < 4; k++) {
        __m256i shift = _mm256_setr_epi32(8 * k, 8 * k, 8 * k, 8 * k, 8 * k + 4, 8 * k + 4, 8 * k + 4, 8 * k + 4);
        out[k] = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(both, shift), mask));
    }
}

/* The 32 weights of block b of a row as 4 x 8 floats. */
static inline void block_weights(int type, const uint8_t *row, int b, __m256 w[4]) {
    switch (type) {
    case W_F32: {
        const float *f = (const float *)row + 32 * b;
        for (int j = 0; j < 4; j++) w[j] = _mm256_loadu_ps(f + 8 * j);
        break;
    }
    case W_F16: {
        const uint8_t *h = row + 64 * b;
        for (int j = 0; j < 4; j++) w[j] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16 * j)));
        break;
    }
    case W_Q8_0: {
        const uint8_t *block = row + 34 * b;
        __m256 d = _mm256_set1_ps(load_half(block));
        for (int j = 0; j < 4; j++) {
            __m128i q = _mm_loadl_epi64((const __m128i *)(block + 2 + 8 * j));
            w[j] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
        }
        break;
    }
    case W_Q4_0: {
        const uint8_t *block = row + 18 * b;
        __m256 d = _mm256_set1_ps(load_half(block)), offset = _mm256_set1_ps(-8.0f);
        nibbles_to_floats(block + 2, w);
        for (int j = 0; j < 4; j++) w[j] = _mm256_mul_ps(d, _mm256_add_ps(w[j], offset));
        break;
    }
    case W_Q4_1: {
        const uint8_t *block = row + 20 * b;
        __m256 d = _mm256_set1_ps(load_half(block)), m = _mm256_set1_ps(load_half(block + 2));
        nibbles_to_floats(block + 4, w);
        for (int j = 0; j < 4; j++) w[j] = _mm256_fmadd_ps(d, w[j], m);
        break;
    }
    default: /* unreachable: the Python side accepts only the formats above */
        for (int j = 0; j < 4; j++) w[j] = _mm256_setzero_ps();
    }
}

/* Batch-1 dot products of one row with x, one loop per format so nothing is decided per block.
   Two accumulators take alternate blocks: each block's sum is scaled before it is added, and one
   accumulator would make every block wait for the previous block's FMA. */
/* x: the activations in dword order (prepare_input) */
static float dot_q4_1(const uint8_t *row, int blocks, const float *x, const float *xsum) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    float offset = 0.0f; /* sum over blocks of m * (sum of the block's x) */
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = row + 20 * b;
        const float *xb = x + 32 * b;
        __m256 q[4];
        nibbles_dword_order(block + 4, q);
        __m256 s = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), s);
        acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(load_half(block)), s, acc[b & 1]);
        offset += load_half(block + 2) * xsum[b];
    }
    return hsum(_mm256_add_ps(acc[0], acc[1])) + offset;
}

static float dot_q4_0(const uint8_t *row, int blocks, const float *x, const float *xsum) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    float offset = 0.0f; /* w = d (q - 8): the -8 d (sum of x) part */
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = row + 18 * b;
        const float *xb = x + 32 * b;
        __m256 q[4];
        nibbles_dword_order(block + 2, q);
        __m256 s = _mm256_mul_ps(q[0], _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), s);
        float d = load_half(block);
        acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(d), s, acc[b & 1]);
        offset -= 8.0f * d * xsum[b];
    }
    return hsum(_mm256_add_ps(acc[0], acc[1])) + offset;
}

static float dot_q8_0(const uint8_t *row, int blocks, const float *x) {
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = row + 34 * b;
        const float *xb = x + 32 * b;
        __m256 s = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            __m128i q = _mm_loadl_epi64((const __m128i *)(block + 2 + 8 * j));
            s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), _mm256_loadu_ps(xb + 8 * j), s);
        }
        acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(load_half(block)), s, acc[b & 1]);
    }
    return hsum(_mm256_add_ps(acc[0], acc[1]));
}

static float dot_plain(int type, const uint8_t *row, int blocks, const float *x) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int b = 0; b < blocks; b++) {
        __m256 wv[4];
        block_weights(type, row, b, wv);
        for (int j = 0; j < 4; j++) acc[j] = _mm256_fmadd_ps(wv[j], _mm256_loadu_ps(x + 32 * b + 8 * j), acc[j]);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

/* out[i * ldo] = row r of w . x[i * ldx .. +cols] for i < n (n <= MAX_ROWS). xsum: each x row
   prepared by prepare_input (row stride PREPARED(ldx)), which the batch-1 Q4 kernels use. For
   n > 1 a weight block is dequantized once and used for every activation row. */
static void dot_rows(const Weight *w, int64_t r, const float *x, const float *xsum, int64_t ldx, int n, float *out,
                     int64_t ldo) {
    const uint8_t *row = w->data + r * w->row_bytes;
    int blocks = w->cols / 32;
    if (n == 1) {
        switch (w->type) {
        case W_Q4_1: out[0] = dot_q4_1(row, blocks, xsum + blocks, xsum); return;
        case W_Q4_0: out[0] = dot_q4_0(row, blocks, xsum + blocks, xsum); return;
        case W_Q8_0: out[0] = dot_q8_0(row, blocks, x); return;
        default: out[0] = dot_plain(w->type, row, blocks, x); return;
        }
    }
    __m256 acc[MAX_ROWS];
    for (int i = 0; i < n; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        __m256 wv[4];
        block_weights(w->type, row, b, wv);
        for (int i = 0; i < n; i++) {
            const float *xi = x + i * ldx + 32 * b;
            __m256 s = _mm256_mul_ps(wv[0], _mm256_loadu_ps(xi));
            s = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xi + 8), s);
            s = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xi + 16), s);
            acc[i] = _mm256_add_ps(acc[i], _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xi + 24), s));
        }
    }
    for (int i = 0; i < n; i++) out[i * ldo] = hsum(acc[i]);
}
#else
static void dot_rows(const Weight *w, int64_t r, const float *x, const float *xsum, int64_t ldx, int n, float *out,
                     int64_t ldo) {
    (void)xsum;
    float buffer[32];
    const uint8_t *row = w->data + r * w->row_bytes;
    double acc[MAX_ROWS] = {0};
    Weight one = *w;
    one.cols = 32;
    for (int b = 0; b < w->cols / 32; b++) {
        /* dequantize one block through a one-block view of the row */
        int64_t block_bytes = w->row_bytes / (w->cols / 32);
        one.data = row + b * block_bytes;
        dequantize_row(&one, 0, buffer);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 32; j++) acc[i] += buffer[j] * x[i * ldx + 32 * b + j];
    }
    for (int i = 0; i < n; i++) out[i * ldo] = (float)acc[i];
}
#endif

#ifdef CPM_AVX2
/* Many activation rows (prefill, large batches): a register-tiled fp32 GEMM. Sixteen weight rows are
   dequantized once into a k-major panel, then 6 x 16 output tiles each keep 12 accumulators in
   registers over the whole k range: 12 FMAs for every 2 panel loads and 6 broadcasts. */
#define PANEL 16
#define TILE_ROWS 6

/* Transpose the 8 x 8 block rows[i][0..7] (row stride ld) into out[k * PANEL + i]. */
static inline void transpose_8x8(const float *rows, int64_t ld, float *out) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows + i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* r[0..3] hold columns 0,1,2,3 (lanes 0-3) and 4,5,6,7 (lanes 4-7) of rows 0-3; r[4..7] of rows 4-7 */
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(out + i * PANEL, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(out + (i + 4) * PANEL, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

/* Rows r0..r0+15 of w dequantized into panel[k * PANEL + c] (k-major), through rows[16 * cols]. */
static void pack_panel(const Weight *w, int64_t r0, float *rows, float *panel) {
    for (int c = 0; c < PANEL; c++) {
        const uint8_t *data = w->data + (r0 + c) * w->row_bytes;
        float *row = rows + (int64_t)c * w->cols;
        for (int b = 0; b < w->cols / 32; b++) {
            __m256 v[4];
            block_weights(w->type, data, b, v);
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(row + 32 * b + 8 * j, v[j]);
        }
    }
    for (int k = 0; k < w->cols; k += 8)
        for (int c = 0; c < PANEL; c += 8) transpose_8x8(rows + (int64_t)c * w->cols + k, w->cols, panel + k * PANEL + c);
}

static void tile_6x16(const float *x, int64_t ldx, const float *panel, int cols, float *out, int64_t ldo) {
    /* named accumulators, not an array: GCC spills an array of vectors to the stack every step */
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx, *x5 = x + 5 * ldx;
    for (int k = 0; k < cols; k++) {
        __m256 b0 = _mm256_loadu_ps(panel + k * PANEL), b1 = _mm256_loadu_ps(panel + k * PANEL + 8), a;
        a = _mm256_broadcast_ss(x0 + k);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x1 + k);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x2 + k);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x3 + k);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(x4 + k);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(x5 + k);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    _mm256_storeu_ps(out, c00);
    _mm256_storeu_ps(out + 8, c01);
    _mm256_storeu_ps(out + ldo, c10);
    _mm256_storeu_ps(out + ldo + 8, c11);
    _mm256_storeu_ps(out + 2 * ldo, c20);
    _mm256_storeu_ps(out + 2 * ldo + 8, c21);
    _mm256_storeu_ps(out + 3 * ldo, c30);
    _mm256_storeu_ps(out + 3 * ldo + 8, c31);
    _mm256_storeu_ps(out + 4 * ldo, c40);
    _mm256_storeu_ps(out + 4 * ldo + 8, c41);
    _mm256_storeu_ps(out + 5 * ldo, c50);
    _mm256_storeu_ps(out + 5 * ldo + 8, c51);
}

/* The last tile of fewer than 6 rows. */
static void tile_nx16(const float *x, int64_t ldx, int n, const float *panel, int cols, float *out, int64_t ldo) {
    for (int i = 0; i < n; i++) {
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        for (int k = 0; k < cols; k++) {
            __m256 a = _mm256_broadcast_ss(x + i * ldx + k);
            c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + k * PANEL), c0);
            c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel + k * PANEL + 8), c1);
        }
        _mm256_storeu_ps(out + i * ldo, c0);
        _mm256_storeu_ps(out + i * ldo + 8, c1);
    }
}

/* panel: this thread's buffer of PANEL_FLOATS(cols) floats */
static void gemm(const Weight *w, const float *x, int64_t ldx, int n, float *out, int64_t ldo, float *panel) {
    float *row = panel + (int64_t)w->cols * PANEL;
#pragma omp for schedule(static) nowait
    for (int64_t r0 = 0; r0 < w->rows; r0 += PANEL) {
        pack_panel(w, r0, row, panel);
        int i = 0;
        for (; i + TILE_ROWS <= n; i += TILE_ROWS) tile_6x16(x + i * ldx, ldx, panel, w->cols, out + i * ldo + r0, ldo);
        if (i < n) tile_nx16(x + i * ldx, ldx, n - i, panel, w->cols, out + i * ldo + r0, ldo);
    }
}
#endif
#define PREPARED(cols) ((int64_t)(cols) / 32 + (cols)) /* floats of one prepare_input row */
#define PANEL_FLOATS(cols) ((int64_t)(cols) * 32) /* a packed panel of 16 rows and the 16 rows unpacked */
#define GEMM_MIN_ROWS 8

/* out[i, r] = sum_k w[r, k] x[i, k] for i < n, r < rows, rows split over the team; no barrier at the
   end (callers put one after the last matmul of a phase). panel: this thread's PANEL_FLOATS(cols)
   buffer for the GEMM path, or NULL for the row kernels. */
static void matmul(const Weight *w, const float *x, const float *xsum, int64_t ldx, int n, float *out, int64_t ldo,
                   float *panel) {
#ifdef CPM_AVX2
    /* every thread of the team takes the same branch: n, rows and whether panels exist are shared */
    if (panel && n >= GEMM_MIN_ROWS && w->rows % PANEL == 0) {
        gemm(w, x, ldx, n, out, ldo, panel);
        return;
    }
#else
    (void)panel;
#endif
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < w->rows; r++)
        for (int i0 = 0; i0 < n; i0 += MAX_ROWS) {
            int count = n - i0 < MAX_ROWS ? n - i0 : MAX_ROWS;
            dot_rows(w, r, x + i0 * ldx, xsum + i0 * PREPARED(ldx), ldx, count, out + i0 * ldo + r, ldo);
        }
}

/* One 32-value block: its sum, and its values in dword order (see nibbles_dword_order). */
static inline void prepare_block(const float *block, float *sum, float *ordered) {
    float s = 0.0f;
    for (int i = 0; i < 32; i++) s += block[i];
    *sum = s;
    for (int k = 0; k < 4; k++)
        for (int lane = 0; lane < 8; lane++) ordered[8 * k + lane] = block[4 * (lane % 4) + k + 16 * (lane / 4)];
}

/* For one activation row of n values: prepared[j] = sum of block j (j < n/32), then the row in
   dword order at prepared + n/32. PREPARED(n) floats. */
static void prepare_input(const float *x, int n, float *prepared) {
    for (int j = 0; j < n / 32; j++) prepare_block(x + 32 * j, prepared + j, prepared + n / 32 + 32 * j);
}

/* ---------------------------------------------------------------- small ops */

static void rms_norm(const float *x, const float *weight, int n, float eps, float divisor, float *out) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += x[i] * x[i];
    float scale = 1.0f / sqrtf(sum / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = weight[i] * (x[i] * scale) / divisor;
}

/* rotate_half RoPE of one head in place: x[i] = x[i] cos[i] - x[i+h] sin[i], x[i+h] = x[i+h] cos[i+h] + x[i] sin[i+h]. */
static void rope(float *x, const float *cos, const float *sin, int dim) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        float a = x[i], b = x[i + half];
        x[i] = a * cos[i] - b * sin[i];
        x[i + half] = b * cos[i + half] + a * sin[i + half];
    }
}

static inline float vector_dot(const float *a, const float *b, int n) {
    int i = 0;
    float sum = 0.0f;
#ifdef CPM_AVX2
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    sum = hsum(acc);
#endif
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* out += p * v */
static inline void vector_axpy(float p, const float *v, float *out, int n) {
    int i = 0;
#ifdef CPM_AVX2
    __m256 scale = _mm256_set1_ps(p);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_fmadd_ps(scale, _mm256_loadu_ps(v + i), _mm256_loadu_ps(out + i)));
#endif
    for (; i < n; i++) out[i] += p * v[i];
}

/* Softmax attention of one query head over cache slots first..last of one KV head. */
static void attend(const float *q, const float *keys, const float *values, int64_t first, int64_t last, int dim,
                   float *scores, float *out) {
    float scale = 1.0f / sqrtf((float)dim), top = -INFINITY;
    for (int64_t s = first; s <= last; s++) {
        scores[s] = vector_dot(q, keys + s * dim, dim) * scale;
        if (scores[s] > top) top = scores[s];
    }
    float total = 0.0f;
    for (int64_t s = first; s <= last; s++) {
        scores[s] = expf(scores[s] - top);
        total += scores[s];
    }
    for (int i = 0; i < dim; i++) out[i] = 0.0f;
    for (int64_t s = first; s <= last; s++) vector_axpy(scores[s] / total, values + s * dim, out, dim);
}

/* ---------------------------------------------------------------- the step */

/* A forward over `n` token rows, each with its own KV-cache row, slot, first visible slot and RoPE
   position: a decode step (one row per sequence, all at one slot) or a prefill chunk (consecutive
   slots of one or more sequences; a row attends to its sequence's slots first..slot, so the rows
   of a chunk are causal among themselves because every row's keys are written before any row
   attends). Logits are computed for the `n_logits` rows listed in logit_rows, into
   logits[n_logits, vocab]. Returns 0, or a positive code for bad arguments (the Python side checks
   them first; this is a last guard so that a bug there cannot write out of bounds). */
int cpm_forward(const Model *m, int32_t n, const int64_t *tokens, const int64_t *positions, const int64_t *cache_rows,
                const int64_t *slots, const int64_t *first_key, int32_t n_logits, const int64_t *logit_rows,
                float *logits, int32_t threads) {
    if (n < 1 || n_logits < 0 || n_logits > n) return 1;
    int64_t last_slot = 0;
    for (int b = 0; b < n; b++) {
        if (cache_rows[b] < 0 || cache_rows[b] >= m->batch_capacity) return 1;
        if (slots[b] < 0 || slots[b] >= m->max_len) return 2;
        if (tokens[b] < 0 || tokens[b] >= m->vocab) return 3;
        if (positions[b] < 0 || positions[b] >= m->rope_len) return 4;
        if (first_key[b] < 0 || first_key[b] > slots[b]) return 5;
        if (slots[b] > last_slot) last_slot = slots[b];
    }
    for (int j = 0; j < n_logits; j++)
        if (logit_rows[j] < 0 || logit_rows[j] >= n) return 1;
    threads = threads > 0 ? threads : 1;
    const int H = m->hidden, QD = m->heads * m->head_dim, KD = m->kv_heads * m->head_dim, I = m->inter;
    const int D = m->head_dim, group = m->heads / m->kv_heads;
    const int64_t head_stride = (int64_t)m->max_len * D, row_stride = (int64_t)m->kv_heads * head_stride;
    /* scratch: residual, normed, matmul out, q, k, v, attention out, gate, up; block sums of the
       matmul inputs (xn, att, gate); attention scores, one row of slots per thread */
    int max_cols = H > QD ? (H > I ? H : I) : (QD > I ? QD : I);
    int64_t panel_floats = n >= GEMM_MIN_ROWS ? PANEL_FLOATS(max_cols) : 0;
    int64_t floats = (int64_t)n * (3 * H + QD + 2 * KD + QD + 2 * I) + n * (PREPARED(H) + PREPARED(QD) + PREPARED(I)) +
                     (int64_t)threads * (last_slot + 1 + panel_floats) + n_logits * (H + PREPARED(H));
    float *scratch = (float *)malloc(sizeof(float) * (size_t)floats);
    if (!scratch) return 6;
    float *x = scratch, *xn = x + n * H, *tmp = xn + n * H, *q = tmp + n * H, *k = q + n * QD;
    float *v = k + n * KD, *att = v + n * KD, *gate = att + n * QD, *up = gate + n * I;
    /* the matmul inputs (xn, att, gate, last) prepared by prepare_input */
    float *xn_sum = up + n * I, *att_sum = xn_sum + n * PREPARED(H), *gate_sum = att_sum + n * PREPARED(QD);
    float *scores = gate_sum + n * PREPARED(I), *last = scores + threads * (last_slot + 1);
    float *last_sum = last + n_logits * H, *panels = last_sum + n_logits * PREPARED(H);

    for (int b = 0; b < n; b++) {
        dequantize_row(&m->embed, tokens[b], x + b * H);
        for (int i = 0; i < H; i++) x[b * H + i] *= m->scale_emb;
    }
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        int me = omp_get_thread_num();
#else
        int me = 0;
#endif
        float *my_scores = scores + me * (last_slot + 1);
        float *panel = panel_floats ? panels + me * panel_floats : NULL;
        for (int l = 0; l < m->n_layers; l++) {
            const Layer *layer = &m->layers[l];
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++) {
                rms_norm(x + b * H, layer->attn_norm, H, m->eps, 1.0f, xn + b * H);
                prepare_input(xn + b * H, H, xn_sum + b * PREPARED(H));
            }
            matmul(&layer->q, xn, xn_sum, H, n, q, QD, panel);
            matmul(&layer->k, xn, xn_sum, H, n, k, KD, panel);
            matmul(&layer->v, xn, xn_sum, H, n, v, KD, panel);
#pragma omp barrier
            /* RoPE on q and k heads, then k and v into the cache at each row's slot */
#pragma omp for schedule(static)
            for (int job = 0; job < n * (m->heads + m->kv_heads); job++) {
                int b = job / (m->heads + m->kv_heads), h = job % (m->heads + m->kv_heads);
                const float *cos = m->rope_cos + positions[b] * D, *sin = m->rope_sin + positions[b] * D;
                if (h < m->heads) {
                    rope(q + b * QD + h * D, cos, sin, D);
                } else {
                    int kv = h - m->heads;
                    float *kh = k + b * KD + kv * D;
                    rope(kh, cos, sin, D);
                    int64_t at = cache_rows[b] * row_stride + kv * head_stride + slots[b] * D;
                    memcpy(layer->k_cache + at, kh, sizeof(float) * D);
                    memcpy(layer->v_cache + at, v + b * KD + kv * D, sizeof(float) * D);
                }
            }
#pragma omp for schedule(dynamic, 4)
            for (int job = 0; job < n * m->heads; job++) {
                int b = job / m->heads, h = job % m->heads, kv = h / group;
                int64_t base = cache_rows[b] * row_stride + kv * head_stride;
                attend(q + b * QD + h * D, layer->k_cache + base, layer->v_cache + base, first_key[b], slots[b], D,
                       my_scores, att + b * QD + h * D);
            }
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++) prepare_input(att + b * QD, QD, att_sum + b * PREPARED(QD));
            matmul(&layer->o, att, att_sum, QD, n, tmp, H, panel);
#pragma omp barrier
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++) {
                for (int i = 0; i < H; i++) x[b * H + i] += m->residual_scale * tmp[b * H + i];
                rms_norm(x + b * H, layer->ffn_norm, H, m->eps, 1.0f, xn + b * H);
                prepare_input(xn + b * H, H, xn_sum + b * PREPARED(H));
            }
            matmul(&layer->gate, xn, xn_sum, H, n, gate, I, panel);
            matmul(&layer->up, xn, xn_sum, H, n, up, I, panel);
#pragma omp barrier
            /* SwiGLU in place in gate, one 32-value block at a time, each prepared as it is made */
#pragma omp for schedule(static)
            for (int64_t j = 0; j < (int64_t)n * I / 32; j++) {
                for (int64_t i = 32 * j; i < 32 * j + 32; i++) {
                    float g = gate[i];
                    gate[i] = g / (1.0f + expf(-g)) * up[i];
                }
                int64_t b = j / (I / 32), block = j % (I / 32);
                float *prepared = gate_sum + b * PREPARED(I);
                prepare_block(gate + 32 * j, prepared + block, prepared + I / 32 + 32 * block);
            }
            matmul(&layer->down, gate, gate_sum, I, n, tmp, H, panel);
#pragma omp barrier
#pragma omp for schedule(static)
            for (int b = 0; b < n; b++)
                for (int i = 0; i < H; i++) x[b * H + i] += m->residual_scale * tmp[b * H + i];
        }
#pragma omp for schedule(static)
        for (int j = 0; j < n_logits; j++) {
            rms_norm(x + logit_rows[j] * H, m->final_norm, H, m->eps, m->logit_scale, last + j * H);
            prepare_input(last + j * H, H, last_sum + j * PREPARED(H));
        }
        if (n_logits > 0) matmul(&m->lm_head, last, last_sum, H, n_logits, logits, m->vocab, panel);
    }
    free(scratch);
    return 0;
}

/* Row r of w as fp32 (tests compare it with the gguf package's dequantization). */
void cpm_dequantize_row(const Weight *w, int64_t r, float *out) { dequantize_row(w, r, out); }

/* out[n, rows] = x[n, cols] w^T through the same kernels as the step (tests compare with torch). */
int cpm_matmul(const Weight *w, const float *x, int32_t n, float *out, int32_t threads) {
    threads = threads > 0 ? threads : 1;
    int64_t sum_floats = n * PREPARED(w->cols), panel_floats = PANEL_FLOATS(w->cols);
    float *sums = (float *)malloc(sizeof(float) * (size_t)(sum_floats + threads * panel_floats));
    if (!sums) return 6;
    for (int i = 0; i < n; i++) prepare_input(x + (int64_t)i * w->cols, w->cols, sums + i * PREPARED(w->cols));
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        float *panel = sums + sum_floats + omp_get_thread_num() * panel_floats;
#else
        float *panel = sums + sum_floats;
#endif
        matmul(w, x, sums, w->cols, n, out, w->rows, panel);
    }
    free(sums);
    return 0;
}

/* 1 when this build uses the AVX2 kernels, 0 for the portable C ones. */
int cpm_simd(void) {
#ifdef CPM_AVX2
    return 1;
#else
    return 0;
#endif
}
