/* The whole single-token forward of a Llama in one call: a decoded token costs its matmuls (qmatmul.c's
   kernels) plus a few microseconds of C, instead of the few thousand small PyTorch operations (and
   their Python and dispatcher overhead) of the eager step.

       x = embed[token]                                          (one row dequantized)
       for each layer:
           q, k, v = split(qkv(rmsnorm(x)))                      (one fused projection)
           q, k = rotary(q, pos), rotary(k, pos)                 (half-split pairs, cos/sin given)
           cache.k[layer, :, pos], cache.v[layer, :, pos] = k, v (written in place)
           x += out(softmax(q k^T * scale) v)                    (over positions 0..pos, float32)
           x += down(silu(gate) * up), gate, up = gate_up(rmsnorm(x))
       logits = head(rmsnorm(x))

   Every elementwise step does the float32 operations of the PyTorch path in the same order where that
   is cheap (rotary, residuals, SiLU, the norm's scaling), so the results differ only in the order of
   long sums (the norm's mean square, attention's dot products and softmax denominator).

   The model is described once (gu_model, filled from Python with the modules' arrays and scratch
   buffers) and each call passes what changes per token: the token, its position, the KV cache and the
   logits buffer. Batch 1 only. The projections are group-quantized weights (bits 4 or 8, the float
   or the int8-activation "dot8" kernel of qmatmul.c) or dense float32 weights (bits 32). */

#include <math.h>
#include <stdint.h>
#include <string.h>

/* qmatmul.c, built into the same library */
void gu_q4_matmul(const float *x, const uint8_t *codes, const uint16_t *scale, const uint16_t *min,
                  float *y, int64_t M, int64_t N, int64_t K, int threads);
void gu_q8_matmul(const float *x, const int8_t *codes, const uint16_t *scale, const uint16_t *min,
                  float *y, int64_t M, int64_t N, int64_t K, int threads);
int gu_q4_matmul_dot8(const float *x, const uint8_t *codes, const uint16_t *scale, const uint16_t *min,
                      float *y, int64_t M, int64_t N, int64_t K, int threads);
int gu_q8_matmul_dot8(const float *x, const int8_t *codes, const uint16_t *scale, const uint16_t *min,
                      float *y, int64_t M, int64_t N, int64_t K, int threads);
void gu_q4_dequantize(const uint8_t *codes, const uint16_t *scale, const uint16_t *min, float *w,
                      int64_t N, int64_t K, int threads);
void gu_q8_dequantize(const int8_t *codes, const uint16_t *scale, const uint16_t *min, float *w,
                      int64_t N, int64_t K, int threads);

#define GROUP 32

/* A weight (out, in): group codes with float16 scale/min (bits 4 or 8), or float32 rows (bits 32). */
typedef struct {
    const void *codes;            /* int4: (out, in/2) bytes; int8: (out, in); float32: (out, in) */
    const uint16_t *scale, *min;  /* (out, in/32) float16; min NULL means zero */
    const float *bias;            /* (out,) or NULL */
    int64_t out, in;
    int32_t bits, dot8;
} gu_linear;

typedef struct {
    gu_linear qkv, out, gate_up, down;
    const float *attn_norm, *mlp_norm; /* (dim,) */
    float attn_eps, mlp_eps;
} gu_layer;

typedef struct {
    int64_t dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, max_positions;
    float norm_eps, attn_scale;
    gu_linear embed; /* the token table, (vocab, dim) */
    const float *norm;
    gu_linear head;
    const gu_layer *layers;
    const float *cos, *sin; /* (max_positions, head_dim): RotaryEmbedding's tables */
    /* scratch, float32: x, xn, proj (dim); qkv ((H + 2 Hkv) D); att (H D); scores (max_positions);
       gate_up (2 hidden); act (hidden) */
    float *x, *xn, *proj, *qkv, *att, *scores, *gate_up, *act;
} gu_model;

/* Eight floats as one value the compiler keeps in a vector register (GCC/Clang vector extension: one
   256-bit register with AVX, two 128-bit ones without). */
typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float sum8(v8 a) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* a . b as eight independent sums, lane j adding the products i = j mod 8, then summed pairwise */
static inline float dot(const float *a, const float *b, int64_t n) {
    v8 acc = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc += load8(a + i) * load8(b + i);
    float total = sum8(acc);
    for (; i < n; i++) total += a[i] * b[i];
    return total;
}

/* y (1, N) = x (1, K) @ W^T for dense float32 rows */
static void dense_matvec(const float *x, const float *w, float *y, int64_t N, int64_t K, int threads) {
    (void)threads;
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1)")
    for (int64_t n = 0; n < N; n++) y[n] = dot(w + n * K, x, K);
}

/* y = x W^T (+ b); 0, or -1 when a dot8 kernel could not allocate x's int8 copy. */
static int linear(const gu_linear *l, const float *x, float *y, int threads) {
    int status = 0;
    if (l->bits == 32) {
        dense_matvec(x, (const float *)l->codes, y, l->out, l->in, threads);
    } else if (l->bits == 4) {
        if (l->dot8)
            status = gu_q4_matmul_dot8(x, l->codes, l->scale, l->min, y, 1, l->out, l->in, threads);
        else
            gu_q4_matmul(x, l->codes, l->scale, l->min, y, 1, l->out, l->in, threads);
    } else {
        if (l->dot8)
            status = gu_q8_matmul_dot8(x, l->codes, l->scale, l->min, y, 1, l->out, l->in, threads);
        else
            gu_q8_matmul(x, l->codes, l->scale, l->min, y, 1, l->out, l->in, threads);
    }
    if (l->bias)
        for (int64_t n = 0; n < l->out; n++) y[n] += l->bias[n];
    return status;
}

/* y = x / sqrt(mean(x^2) + eps) * w, the mean square summed in double */
static void rmsnorm(const float *x, const float *w, float eps, float *y, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    float r = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) {
        float scaled = x[i] * r;
        y[i] = scaled * w[i];
    }
}

/* v (D) rotated in place: (a, b) = (v[i], v[i + D/2]) -> (a cos_i - b sin_i, b cos_j + a sin_j), j = i + D/2;
   each product rounded on its own, as PyTorch's x * cos + cat(-x2, x1) * sin does. */
static void rotary(float *v, const float *cos, const float *sin, int64_t D) {
    int64_t half = D / 2;
    for (int64_t i = 0; i < half; i++) {
        float a = v[i], b = v[i + half];
        float ac = a * cos[i], bs = b * sin[i], bc = b * cos[i + half], as = a * sin[i + half];
        v[i] = ac - bs;
        v[i + half] = bc + as;
    }
}

/* Four dot products q . k_r (k_r = k + r * stride) at once, each summed exactly as dot() sums it (so a
   score does not depend on which path computed it); four independent chains keep the adder busy. */
static inline void dot4(const float *q, const float *k, int64_t stride, int64_t n, float out[4]) {
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8 x = load8(q + i);
        a0 += x * load8(k + i);
        a1 += x * load8(k + stride + i);
        a2 += x * load8(k + 2 * stride + i);
        a3 += x * load8(k + 3 * stride + i);
    }
    out[0] = sum8(a0), out[1] = sum8(a1), out[2] = sum8(a2), out[3] = sum8(a3);
    for (int r = 0; r < 4; r++)
        for (int64_t t = i; t < n; t++) out[r] += q[t] * k[r * stride + t];
}

/* y[i] = e^x[i] for n values, in a loop the compiler vectorizes (libm's expf is one call per value):
   e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2 (ln 2 in two parts, so r is nearly exact),
   e^r by Cephes' degree-7 polynomial; within about 1 ulp of expf. x is clamped to [-87, 88] (e^-87
   is 1.6e-38, the result stays a normal float); a NaN stays NaN. */
static void exp_all(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        v = v > 88.0f ? 88.0f : v;
        v = v < -87.0f ? -87.0f : v;
        float k = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest: 1.5 * 2^23 */
        float r = v - k * 0.693359375f;
        r = r - k * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        float rr = r * r;
        p = p * rr + r + 1.0f;
        int32_t bits = ((int32_t)k + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof scale);
        y[i] = p * scale;
    }
}

/* out (D) = softmax(q . keys[j] * scale over j <= pos) @ values: keys/values (max_len, D) of one head.
   The softmax weights stay unnormalized e^(s_j - max) while the values are summed (four rows per
   pass over out); out is divided by their sum once at the end. */
static void attend(const float *q, const float *keys, const float *values, int64_t pos, int64_t D,
                   float scale, float *scores, float *out) {
    int64_t n = pos + 1, j = 0;
    for (; j + 4 <= n; j += 4) dot4(q, keys + j * D, D, D, scores + j);
    for (; j < n; j++) scores[j] = dot(q, keys + j * D, D);
    float lane_max[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (j = 0; j + 8 <= n; j += 8) /* eight running maxima: one vector max per eight scores */
        for (int l = 0; l < 8; l++) {
            float v = scores[j + l] * scale;
            scores[j + l] = v;
            lane_max[l] = v > lane_max[l] ? v : lane_max[l];
        }
    for (; j < n; j++) {
        scores[j] *= scale;
        lane_max[0] = scores[j] > lane_max[0] ? scores[j] : lane_max[0];
    }
    float best = lane_max[0];
    for (int l = 1; l < 8; l++) best = lane_max[l] > best ? lane_max[l] : best;
    for (j = 0; j < n; j++) scores[j] -= best;
    exp_all(scores, scores, n);
    v8 lanes = {0};
    for (j = 0; j + 8 <= n; j += 8) lanes += load8(scores + j);
    float total = sum8(lanes);
    for (; j < n; j++) total += scores[j];
    for (int64_t i = 0; i < D; i++) out[i] = 0.0f;
    for (j = 0; j + 4 <= n; j += 4) {
        const float *v = values + j * D, *p = scores + j;
        int64_t i = 0;
        for (; i + 8 <= D; i += 8) {
            v8 a = p[0] * load8(v + i), b = p[1] * load8(v + D + i);
            v8 c = p[2] * load8(v + 2 * D + i), d = p[3] * load8(v + 3 * D + i);
            v8 o = load8(out + i) + ((a + b) + (c + d));
            memcpy(out + i, &o, sizeof o);
        }
        for (; i < D; i++) {
            float a = p[0] * v[i], b = p[1] * v[D + i], c = p[2] * v[2 * D + i], d = p[3] * v[3 * D + i];
            out[i] += (a + b) + (c + d);
        }
    }
    for (; j < n; j++)
        for (int64_t i = 0; i < D; i++) {
            float a = scores[j] * values[j * D + i];
            out[i] += a;
        }
    float inv = 1.0f / total;
    for (int64_t i = 0; i < D; i++) out[i] *= inv;
}

/* m->x = the embedding row of `token`; -2 when the token is outside the vocabulary. */
int gu_decode_embed(const gu_model *m, int64_t token) {
    if (token < 0 || token >= m->vocab) return -2;
    const gu_linear *e = &m->embed;
    int64_t groups = m->dim / GROUP;
    if (e->bits == 32) {
        memcpy(m->x, (const float *)e->codes + token * m->dim, sizeof(float) * (size_t)m->dim);
    } else if (e->bits == 4) {
        gu_q4_dequantize((const uint8_t *)e->codes + token * (m->dim / 2), e->scale + token * groups,
                         e->min ? e->min + token * groups : 0, m->x, 1, m->dim, 1);
    } else {
        gu_q8_dequantize((const int8_t *)e->codes + token * m->dim, e->scale + token * groups,
                         e->min ? e->min + token * groups : 0, m->x, 1, m->dim, 1);
    }
    return 0;
}

/* One block on m->x at position `pos`. k_cache/v_cache: (n_layers, 1, Hkv, max_len, D) float32. */
int gu_decode_layer(const gu_model *m, int64_t layer, int64_t pos, float *k_cache, float *v_cache,
                    int64_t max_len, int threads) {
    const gu_layer *l = &m->layers[layer];
    int64_t D = m->head_dim, H = m->n_heads, Hkv = m->n_kv_heads, dim = m->dim;
    const float *cos = m->cos + pos * D, *sin = m->sin + pos * D;
    int status = 0;

    rmsnorm(m->x, l->attn_norm, l->attn_eps, m->xn, dim);
    status |= linear(&l->qkv, m->xn, m->qkv, threads);
    float *q = m->qkv, *k = q + H * D, *v = k + Hkv * D;
    for (int64_t h = 0; h < H; h++) rotary(q + h * D, cos, sin, D);
    for (int64_t g = 0; g < Hkv; g++) rotary(k + g * D, cos, sin, D);
    float *keys = k_cache + layer * Hkv * max_len * D, *values = v_cache + layer * Hkv * max_len * D;
    for (int64_t g = 0; g < Hkv; g++) {
        memcpy(keys + (g * max_len + pos) * D, k + g * D, sizeof(float) * (size_t)D);
        memcpy(values + (g * max_len + pos) * D, v + g * D, sizeof(float) * (size_t)D);
    }
    for (int64_t h = 0; h < H; h++) { /* query head h reads key/value head h / (H / Hkv) */
        int64_t g = h / (H / Hkv);
        attend(q + h * D, keys + g * max_len * D, values + g * max_len * D, pos, D, m->attn_scale,
               m->scores, m->att + h * D);
    }
    status |= linear(&l->out, m->att, m->proj, threads);
    for (int64_t i = 0; i < dim; i++) m->x[i] += m->proj[i];

    rmsnorm(m->x, l->mlp_norm, l->mlp_eps, m->xn, dim);
    status |= linear(&l->gate_up, m->xn, m->gate_up, threads);
    const float *gate = m->gate_up, *up = m->gate_up + m->hidden;
    for (int64_t i = 0; i < m->hidden; i++) m->act[i] = -gate[i];
    exp_all(m->act, m->act, m->hidden);
    for (int64_t i = 0; i < m->hidden; i++) {
        float silu = gate[i] / (1.0f + m->act[i]); /* silu(g) = g / (1 + e^-g) */
        m->act[i] = silu * up[i];
    }
    status |= linear(&l->down, m->act, m->proj, threads);
    for (int64_t i = 0; i < dim; i++) m->x[i] += m->proj[i];
    return status ? -1 : 0;
}

/* logits (vocab) = head(rmsnorm(m->x)) */
int gu_decode_head(const gu_model *m, float *logits, int threads) {
    rmsnorm(m->x, m->norm, m->norm_eps, m->xn, m->dim);
    return linear(&m->head, m->xn, logits, threads);
}

/* The whole step: 0; -1 when a dot8 kernel ran out of memory; -2 for a token outside the vocabulary. */
int gu_decode_step(const gu_model *m, int64_t token, int64_t pos, float *k_cache, float *v_cache,
                   int64_t max_len, float *logits, int threads) {
    int status = gu_decode_embed(m, token);
    if (status) return status;
    for (int64_t layer = 0; layer < m->n_layers; layer++)
        if (gu_decode_layer(m, layer, pos, k_cache, v_cache, max_len, threads)) return -1;
    return gu_decode_head(m, logits, threads);
}
