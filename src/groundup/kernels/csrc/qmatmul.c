/* groundup's own CPU kernels: fused dequantize-and-dot matmuls over weights stored in groups of 32.

   A weight matrix W (N, K) is stored as small integer codes q with one float16 scale s and one float16
   minimum m per group of 32 consecutive weights of a row (ggml's Q4_0/Q4_1/Q8_0 blocks, split into
   three arrays):

       W[n, 32g + j] = s[n, g] * q[n, 32g + j] + m[n, g]

   int4: codes (N, K/2) bytes; group g of row n is bytes [16g, 16g + 16); byte j holds q[32g + j] in
         its low nibble and q[32g + j + 16] in its high nibble (ggml's order), q in [0, 15].
   int8: codes (N, K) int8; m may be NULL (symmetric, Q8_0).

   y (M, N) = x (M, K) @ W^T, with x and y float32, row-major. Each weight is rebuilt exactly as the
   float reference builds it (fma(q, s, m): s * q is exact, so one rounding, like d * q + m), used for
   up to 4 rows of x while it sits in registers, and never written to memory: at batch 1 the matmul
   reads 0.625 (int4) or 1.125 (int8) bytes per weight instead of 4. Only the order of the additions
   differs from a float32 matmul of the dequantized matrix.

   Paths: AVX-512 (16 floats per vector), AVX2 + F16C (8 floats), and portable C. Rows of W are split
   across OpenMP threads when the library was built with OpenMP and threads > 1.

   At the end of the file, gu_q4_matmul_dot8 / gu_q8_matmul_dot8 do the same product llama.cpp's way:
   x rounded to int8 per group of 32, integer dot products (AVX-512 VNNI, AVX-VNNI, AVX2, portable). */

#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define GROUP 32
#define ROWS 4 /* rows of x that share one decoded group */

static float half_to_float(uint16_t h) {
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000 | (mant << 13); /* inf, nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13); /* normal: rebias 15 -> 127 */
    } else if (mant == 0) {
        bits = sign; /* zero */
    } else {         /* subnormal: normalize */
        exp = 113;
        while (!(mant & 0x400)) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

/* count (<= CHUNK) float16 values -> float32 */
#define CHUNK 16
static inline void halves_to_floats(const uint16_t *h, float *f, int count) {
#if defined(__AVX512F__)
    if (count == CHUNK) {
        _mm512_storeu_ps(f, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)));
        return;
    }
#endif
    for (int i = 0; i < count; i++) f[i] = half_to_float(h[i]);
}

const char *gu_kernel_isa(void) {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__) && defined(__F16C__)
    return "avx2";
#else
    return "portable";
#endif
}

int gu_kernel_openmp(void) {
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}

/* ---- decoding one group of 32 weights ------------------------------------------------------------ */

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define VZERO() _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSUM(v) _mm512_reduce_add_ps(v)

/* The 16 possible weights of a group, s * k + m for k = 0..15, computed once; each code then picks its
   weight with one in-register table lookup (vpermps reads only the low 4 bits of each index). */
static inline void decode4(const uint8_t *qs, float s, float m, vec w[2]) {
    const __m512 k = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 table = _mm512_fmadd_ps(k, _mm512_set1_ps(s), _mm512_set1_ps(m));
    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs)); /* 16 bytes -> 16 int32 */
    w[0] = _mm512_permutexvar_ps(q, table);                                 /* low nibbles */
    w[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table);           /* high nibbles */
}

static inline void decode8(const int8_t *qs, float s, float m, vec w[2]) {
    __m512 sv = _mm512_set1_ps(s), mv = _mm512_set1_ps(m);
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(qs + 16 * h)));
        w[h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q), sv, mv);
    }
}

#elif defined(__AVX2__) && defined(__F16C__)
typedef __m256 vec;
#define LANES 8
#define VZERO() _mm256_setzero_ps()
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VLOAD(p) _mm256_loadu_ps(p)

static inline float VSUM(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline void decode4(const uint8_t *qs, float s, float m, vec w[4]) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i q0 = _mm256_cvtepu8_epi32(b), q1 = _mm256_cvtepu8_epi32(_mm_srli_si128(b, 8));
    __m256i low = _mm256_set1_epi32(0xF);
    __m256 sv = _mm256_set1_ps(s), mv = _mm256_set1_ps(m);
    w[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(q0, low)), sv, mv);
    w[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(q1, low)), sv, mv);
    w[2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(q0, 4)), sv, mv);
    w[3] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(q1, 4)), sv, mv);
}

static inline void decode8(const int8_t *qs, float s, float m, vec w[4]) {
    __m256 sv = _mm256_set1_ps(s), mv = _mm256_set1_ps(m);
    for (int h = 0; h < 4; h++) {
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * h)));
        w[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), sv, mv);
    }
}

#else
typedef struct {
    float f[8];
} vec;
#define LANES 8

static inline vec VZERO(void) {
    vec v;
    for (int i = 0; i < LANES; i++) v.f[i] = 0.0f;
    return v;
}

static inline vec VLOAD(const float *p) {
    vec v;
    memcpy(v.f, p, sizeof v.f);
    return v;
}

static inline vec VFMA(vec a, vec b, vec c) {
    for (int i = 0; i < LANES; i++) c.f[i] += a.f[i] * b.f[i];
    return c;
}

static inline float VSUM(vec v) {
    float s = 0.0f;
    for (int i = 0; i < LANES; i++) s += v.f[i];
    return s;
}

static inline void decode4(const uint8_t *qs, float s, float m, vec w[4]) {
    for (int j = 0; j < 16; j++) {
        w[j / LANES].f[j % LANES] = (float)(qs[j] & 0xF) * s + m;
        w[2 + j / LANES].f[j % LANES] = (float)(qs[j] >> 4) * s + m;
    }
}

static inline void decode8(const int8_t *qs, float s, float m, vec w[4]) {
    for (int j = 0; j < GROUP; j++) w[j / LANES].f[j % LANES] = (float)qs[j] * s + m;
}
#endif

#define VECS (GROUP / LANES) /* vectors per group */

/* ---- the matmuls ---------------------------------------------------------------------------------- */

/* W is read in blocks of NB rows. Every output y[m, n] is summed in the same order whatever M is (one
   accumulator per (row of x, row of W), LANES weights at a time in k order, then one horizontal sum),
   so a row of x gets bit-identical outputs alone (decode) or in a batch of any size (serving). */
#define NB 4 /* rows of W per block */
#define MR 4 /* rows of x per register tile of the batched path */

/* [sum(a), sum(b), sum(c), sum(d)] */
#if defined(__AVX512F__)
static inline void hsum4(vec a, vec b, vec c, vec d, float out[4]) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b)); /* a02 b02 a13 b13 */
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
    __m512 all = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                               _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd))); /* a b c d per 128 bits */
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(all),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(all), 1)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#else
static inline void hsum4(vec a, vec b, vec c, vec d, float out[4]) {
    out[0] = VSUM(a), out[1] = VSUM(b), out[2] = VSUM(c), out[3] = VSUM(d);
}
#if defined(__AVX2__) && defined(__F16C__)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#else
#define VSTORE(p, v) memcpy(p, (v).f, sizeof(v).f)
#endif
#endif

static inline void store_outputs(const float sums[4], float *y, int nb) {
    for (int j = 0; j < nb; j++) y[j] = sums[j];
}

/* Software prefetch of the block PF_BLOCKS ahead: a block's NB rows are one contiguous span of codes
   (and of scales, of minimums), so while block b is computed, block b + PF_BLOCKS is requested a group's
   worth of bytes at a time (decode streams W from L3 or DRAM once per token). */
#define PF_BLOCKS 2
static inline void prefetch_span(const void *p, int64_t bytes) {
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o, 0, 3);
}

static inline void prefetch_scales(const uint16_t *scale, const uint16_t *min, int64_t n0, int64_t groups) {
    int64_t at = (n0 + PF_BLOCKS * NB) * groups;
    prefetch_span(scale + at, NB * groups * 2);
    if (min) prefetch_span(min + at, NB * groups * 2);
}

/* The scales and minimums of groups [c, c + count) of NB rows (rows past nb: zeros). */
static inline void block_scales(const uint16_t *scale, const uint16_t *min, int64_t n0, int nb,
                                int64_t groups, int64_t c, int count, float sf[NB][CHUNK],
                                float mf[NB][CHUNK]) {
    for (int j = 0; j < NB; j++) {
        if (j >= nb) {
            memset(sf[j], 0, sizeof sf[j]), memset(mf[j], 0, sizeof mf[j]);
            continue;
        }
        halves_to_floats(scale + (n0 + j) * groups + c, sf[j], count);
        if (min)
            halves_to_floats(min + (n0 + j) * groups + c, mf[j], count);
        else
            memset(mf[j], 0, sizeof mf[j]);
    }
}

/* One row of x against NB rows of W, each group decoded in registers and used once (decode, M = 1). A
   row of W past nb decodes as zeros (scale and minimum 0) from row n0's codes and is not stored. */
#define BLOCK_ROW(NAME, CODE_T, DECODE, BYTES_PER_GROUP)                                                  \
    static void NAME(const float *x, const CODE_T *codes, const uint16_t *scale, const uint16_t *min,     \
                     float *y, int64_t n0, int nb, int64_t K) {                                           \
        int64_t groups = K / GROUP;                                                                       \
        const CODE_T *q[NB];                                                                              \
        for (int j = 0; j < NB; j++) q[j] = codes + (n0 + (j < nb ? j : 0)) * groups * (BYTES_PER_GROUP); \
        vec acc[NB];                                                                                      \
        for (int j = 0; j < NB; j++) acc[j] = VZERO();                                                    \
        float sf[NB][CHUNK], mf[NB][CHUNK];                                                               \
        const CODE_T *ahead = codes + (n0 + PF_BLOCKS * NB) * groups * (BYTES_PER_GROUP);                 \
        prefetch_scales(scale, min, n0, groups);                                                          \
        for (int64_t c = 0; c < groups; c += CHUNK) {                                                     \
            int count = groups - c < CHUNK ? (int)(groups - c) : CHUNK;                                   \
            block_scales(scale, min, n0, nb, groups, c, count, sf, mf);                                   \
            for (int i = 0; i < count; i++) {                                                             \
                const float *xg = x + (c + i) * GROUP;                                                    \
                prefetch_span(ahead + (c + i) * NB * (BYTES_PER_GROUP), NB * (BYTES_PER_GROUP));          \
                for (int j = 0; j < NB; j++) {                                                            \
                    vec w[VECS];                                                                          \
                    DECODE(q[j] + (c + i) * (BYTES_PER_GROUP), sf[j][i], mf[j][i], w);                    \
                    for (int v = 0; v < VECS; v++) acc[j] = VFMA(w[v], VLOAD(xg + v * LANES), acc[j]);    \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        float sums[4];                                                                                    \
        hsum4(acc[0], acc[1], acc[2], acc[3], sums);                                                      \
        store_outputs(sums, y, nb);                                                                       \
    }

/* NB rows of W decoded once into wb (NB, K) float32 (an L1/L2-resident panel; rows past nb: zeros). */
#define BLOCK_DECODE(NAME, CODE_T, DECODE, BYTES_PER_GROUP)                                               \
    static void NAME(const CODE_T *codes, const uint16_t *scale, const uint16_t *min, int64_t n0, int nb, \
                     int64_t K, float *wb) {                                                              \
        int64_t groups = K / GROUP;                                                                       \
        float sf[NB][CHUNK], mf[NB][CHUNK];                                                               \
        prefetch_span(codes + (n0 + PF_BLOCKS * NB) * groups * (BYTES_PER_GROUP),                         \
                      NB * groups * (BYTES_PER_GROUP));                                                   \
        prefetch_scales(scale, min, n0, groups);                                                          \
        for (int64_t c = 0; c < groups; c += CHUNK) {                                                     \
            int count = groups - c < CHUNK ? (int)(groups - c) : CHUNK;                                   \
            block_scales(scale, min, n0, nb, groups, c, count, sf, mf);                                   \
            for (int j = 0; j < NB; j++) {                                                                \
                const CODE_T *q = codes + (n0 + (j < nb ? j : 0)) * groups * (BYTES_PER_GROUP);           \
                for (int i = 0; i < count; i++) {                                                         \
                    vec w[VECS];                                                                          \
                    DECODE(q + (c + i) * (BYTES_PER_GROUP), sf[j][i], mf[j][i], w);                       \
                    for (int v = 0; v < VECS; v++) VSTORE(wb + j * K + (c + i) * GROUP + v * LANES, w[v]); \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

BLOCK_ROW(q4_block_row, uint8_t, decode4, GROUP / 2)
BLOCK_ROW(q8_block_row, int8_t, decode8, GROUP)
BLOCK_DECODE(q4_block_decode, uint8_t, decode4, GROUP / 2)
BLOCK_DECODE(q8_block_decode, int8_t, decode8, GROUP)

/* rows (1..MR, a constant after inlining) rows of x from m0 against the decoded panel wb: MR x NB
   accumulators, each x vector loaded once for NB weight vectors. */
static inline __attribute__((always_inline)) void panel_tile(const float *x, const float *wb, float *y,
                                                             int64_t m0, const int rows, int64_t n0,
                                                             int nb, int64_t N, int64_t K) {
    vec acc[MR][NB];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < NB; j++) acc[r][j] = VZERO();
    for (int64_t k = 0; k < K; k += LANES) {
        vec w[NB];
        for (int j = 0; j < NB; j++) w[j] = VLOAD(wb + j * K + k);
        for (int r = 0; r < rows; r++) {
            vec xv = VLOAD(x + (m0 + r) * K + k);
            for (int j = 0; j < NB; j++) acc[r][j] = VFMA(w[j], xv, acc[r][j]);
        }
    }
    for (int r = 0; r < rows; r++) {
        float sums[4];
        hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], sums);
        store_outputs(sums, y + (m0 + r) * N + n0, nb);
    }
}

static void panel_rows(const float *x, const float *wb, float *y, int64_t M, int64_t n0, int nb, int64_t N,
                       int64_t K) {
    for (int64_t m0 = 0; m0 < M; m0 += MR) {
        switch (M - m0 < MR ? M - m0 : MR) {
        case 1: panel_tile(x, wb, y, m0, 1, n0, nb, N, K); break;
        case 2: panel_tile(x, wb, y, m0, 2, n0, nb, N, K); break;
        case 3: panel_tile(x, wb, y, m0, 3, n0, nb, N, K); break;
        default: panel_tile(x, wb, y, m0, 4, n0, nb, N, K);
        }
    }
}

/* Blocks of NB rows of W split over threads. One row of x: decode in registers. More: decode the block
   once into a per-thread panel and run every row of x over it (no panel memory: one row at a time,
   the same sums). */
#define MATMUL(NAME, CODE_T, BLOCK_ROW_FN, BLOCK_DECODE_FN)                                              \
    void NAME(const float *x, const CODE_T *codes, const uint16_t *scale, const uint16_t *min, float *y, \
              int64_t M, int64_t N, int64_t K, int threads) {                                            \
        (void)threads;                                                                                   \
        int64_t blocks = (N + NB - 1) / NB;                                                              \
        _Pragma("omp parallel num_threads(threads) if (threads > 1)") {                                  \
            float *wb = M > 1 ? malloc(sizeof(float) * NB * (size_t)K) : 0;                              \
            _Pragma("omp for schedule(static)")                                                          \
            for (int64_t b = 0; b < blocks; b++) {                                                       \
                int64_t n0 = b * NB;                                                                     \
                int nb = N - n0 < NB ? (int)(N - n0) : NB;                                               \
                if (wb) {                                                                                \
                    BLOCK_DECODE_FN(codes, scale, min, n0, nb, K, wb);                                   \
                    panel_rows(x, wb, y, M, n0, nb, N, K);                                               \
                } else {                                                                                 \
                    for (int64_t m = 0; m < M; m++)                                                      \
                        BLOCK_ROW_FN(x + m * K, codes, scale, min, y + m * N + n0, n0, nb, K);           \
                }                                                                                        \
            }                                                                                            \
            free(wb);                                                                                    \
        }                                                                                                \
    }

MATMUL(gu_q4_matmul, uint8_t, q4_block_row, q4_block_decode)
MATMUL(gu_q8_matmul, int8_t, q8_block_row, q8_block_decode)

/* ---- dequantization (the prefill path: rebuild W once, then one float32 GEMM) --------------------- */

#define DEQUANT_KERNEL(NAME, CODE_T, DECODE, BYTES_PER_GROUP)                                            \
    void NAME(const CODE_T *codes, const uint16_t *scale, const uint16_t *min, float *w, int64_t N,       \
              int64_t K, int threads) {                                                                  \
        (void)threads;                                                                                   \
        int64_t groups = K / GROUP;                                                                      \
        _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1)")              \
        for (int64_t i = 0; i < N * groups; i++) {                                                       \
            vec v[VECS];                                                                                 \
            DECODE(codes + i * (BYTES_PER_GROUP), half_to_float(scale[i]),                               \
                   min ? half_to_float(min[i]) : 0.0f, v);                                               \
            memcpy(w + i * GROUP, v, sizeof v);                                                          \
        }                                                                                                \
    }

DEQUANT_KERNEL(gu_q4_dequantize, uint8_t, decode4, GROUP / 2)
DEQUANT_KERNEL(gu_q8_dequantize, int8_t, decode8, GROUP)

/* ---- int8 activations: integer dot products (llama.cpp's method for its Q4/Q8 formats) ----------- */

/* The float kernels above rebuild each weight as a float; llama.cpp instead quantizes the activation
   row too, per group of 32, to int8 with one float scale, and multiplies codes by codes in integers:

       x[32g + j] ~ d[g] * p[32g + j]          d[g] = max_j |x[32g + j]| / 127,  p = round(x / d)
       sum_j W x  ~ s * d * sum_j q p  +  m * d * sum_j p

   The integer sum is exact; the only new error is x's rounding (at most d / 2 per element, about 0.4%
   of the group's largest value). One 256-bit u8 x s8 dot instruction does 32 products (AVX-VNNI or
   AVX-512 VNNI; AVX2 needs two, maddubs + madd), against four float FMAs for the same work above.
   The weights, scales and the result are the same arrays as gu_q4_matmul's and gu_q8_matmul's. */

/* x (M, K) -> p (M, K) int8, d (M, K/32), ds (M, K/32) = d * sum(p) over the group. Rounding is
   half-to-even (nearbyintf, like torch.round), so a reference in PyTorch can reproduce p exactly.
   A NaN or infinity in a group makes that group's d (or d * sum) NaN, so it reaches y as in float. */
static void quantize_rows_q8(const float *x, int8_t *p, float *d, float *ds, int64_t M, int64_t K) {
    int64_t groups = M * (K / GROUP);
    for (int64_t g = 0; g < groups; g++) {
        const float *v = x + g * GROUP;
#if defined(__AVX512F__)
        __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        if (_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q)) amax = NAN;
#else
        float amax = 0.0f;
        for (int j = 0; j < GROUP; j++) {
            float a = fabsf(v[j]);
            amax = (a > amax || a != a) ? a : amax;
        }
#endif
        float dg = amax / 127.0f, inv = dg != 0.0f && isfinite(dg) ? 1.0f / dg : 0.0f;
#if defined(__AVX512F__)
        const int rn = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC; /* half to even, as nearbyintf */
        __m512 iv = _mm512_set1_ps(inv);
        __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, iv), rn);
        __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, iv), rn);
        _mm_storeu_si128((__m128i *)(p + g * GROUP), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(p + g * GROUP + 16), _mm512_cvtepi32_epi8(q1));
        int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
#else
        int sum = 0;
        for (int j = 0; j < GROUP; j++) {
            int q = (int)nearbyintf(v[j] * inv);
            p[g * GROUP + j] = (int8_t)q;
            sum += q;
        }
#endif
        d[g] = dg;
        ds[g] = dg * (float)sum;
    }
}

#if defined(__AVX2__)
/* 32 unsigned weight bytes x 32 signed activation bytes -> 8 int32 partial sums */
static inline __m256i dot_u8s8(__m256i w, __m256i a) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, a);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1)); /* |w| <= 128, so a pair's sum fits int16 */
#endif
}

/* the 32 int4 codes of a group as bytes 0..15 in ggml's order: low nibbles first, then high nibbles */
static inline __m256i unpack4(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i low = _mm_set1_epi8(0xF);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), low), _mm_and_si128(b, low));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif


#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define DOT8_AVX512 1

/* Two groups' 32 bytes of int4 codes, loaded once into both halves: the low nibbles in the first 256
   bits, the high nibbles in the second, i.e. [g0 q0..15, g1 q0..15, g0 q16..31, g1 q16..31]. */
static inline __m512i unpack4_pair(const uint8_t *qs) {
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512i b = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs));
    return _mm512_and_si512(_mm512_srlv_epi16(b, shift), _mm512_set1_epi8(0xF));
}

/* x's int8 copy of two groups in the same order as unpack4_pair (int4) or as stored (int8). */
static inline __m512i load_x_pair(int bits, const int8_t *p) {
    __m512i a = _mm512_loadu_si512(p);
    return bits == 4 ? _mm512_shuffle_i64x2(a, a, _MM_SHUFFLE(3, 1, 2, 0)) : a;
}

/* Which group of the pair (0 or 1) each of the 16 int32 sums of a pair's dot belongs to. */
static inline __m512i pair_lanes(int bits) {
    return bits == 4 ? _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1)
                     : _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
}

/* One row of x (p, d, ds of its groups) against NB rows of W from n0 (rows past nb repeat row n0 and are
   not stored): per 16 groups, each row's scales converted and multiplied by x's once; per pair of
   groups, x's 64 bytes loaded once for the NB rows, each row's 64 codes multiplied by them in one
   vpdpbusd (64 u8 x s8 products -> 16 int32), the sums scaled by their group's s * d (one permute picks
   the pair's factors). The minimum terms m * d * sum(p) go into the same accumulators, one FMA per 16
   groups, so one 4-way horizontal sum finishes the block. int8 codes are made unsigned, w + 128 (sign
   bit flipped), and the -128 s moves into the minimum. */
static inline __attribute__((always_inline)) void dot8_block_avx512(
    const int bits, const int8_t *p, const float *d, const float *ds, const uint8_t *codes,
    const uint16_t *scale, const uint16_t *min, float *y, int64_t n0, int nb, int64_t K) {
    int64_t groups = K / GROUP, bytes = bits == 4 ? GROUP / 2 : GROUP;
    const uint8_t *q[NB];
    const uint16_t *s[NB], *mn[NB];
    for (int j = 0; j < NB; j++) {
        int64_t n = n0 + (j < nb ? j : 0);
        q[j] = codes + n * groups * bytes, s[j] = scale + n * groups, mn[j] = min ? min + n * groups : 0;
    }
    const uint8_t *ahead = codes + (n0 + PF_BLOCKS * NB) * groups * bytes;
    prefetch_scales(scale, min, n0, groups);
    const __m512i lanes0 = pair_lanes(bits), flip = _mm512_set1_epi8((char)0x80);
    __m512 acc[NB];
    for (int j = 0; j < NB; j++) acc[j] = _mm512_setzero_ps();
    for (int64_t c = 0; c < groups; c += 16) {
        int count = groups - c < 16 ? (int)(groups - c) : 16;
        __mmask16 mask = (__mmask16)((1u << count) - 1);
        __m512 dv = _mm512_maskz_loadu_ps(mask, d + c), dsv = _mm512_maskz_loadu_ps(mask, ds + c);
        __m512 sd[NB];
        for (int j = 0; j < NB; j++) {
            __m512 sv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, s[j] + c));
            __m512 mv = mn[j] ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, mn[j] + c)) : _mm512_setzero_ps();
            if (bits == 8) mv = _mm512_fnmadd_ps(_mm512_set1_ps(128.0f), sv, mv);
            sd[j] = _mm512_mul_ps(sv, dv);
            acc[j] = _mm512_fmadd_ps(mv, dsv, acc[j]);
        }
        int i = 0;
        for (; i + 1 < count; i += 2) {
            prefetch_span(ahead + (c + i) * NB * bytes, 2 * NB * bytes);
            __m512i a = load_x_pair(bits, p + (c + i) * GROUP);
            __m512i lanes = _mm512_add_epi32(lanes0, _mm512_set1_epi32(i));
            for (int j = 0; j < NB; j++) {
                const uint8_t *qg = q[j] + (c + i) * bytes;
                __m512i w = bits == 4 ? unpack4_pair(qg) : _mm512_xor_si512(_mm512_loadu_si512(qg), flip);
                __m512 part = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a));
                acc[j] = _mm512_fmadd_ps(part, _mm512_permutexvar_ps(lanes, sd[j]), acc[j]);
            }
        }
        if (i < count) { /* an odd last group: one 256-bit dot, its 8 sums added as integers (exact) */
            __m256i a = _mm256_loadu_si256((const __m256i *)(p + (c + i) * GROUP));
            __m512i lanes = _mm512_set1_epi32(i);
            for (int j = 0; j < NB; j++) {
                const uint8_t *qg = q[j] + (c + i) * bytes;
                __m256i w = bits == 4 ? unpack4(qg)
                                      : _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)qg),
                                                         _mm256_set1_epi8((char)0x80));
                __m256i dot = dot_u8s8(w, a);
                __m128i h = _mm_add_epi32(_mm256_castsi256_si128(dot), _mm256_extracti128_si256(dot, 1));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
                __m512 part = _mm512_maskz_mov_ps(1, _mm512_set1_ps((float)_mm_cvtsi128_si32(h)));
                acc[j] = _mm512_fmadd_ps(part, _mm512_permutexvar_ps(lanes, sd[j]), acc[j]);
            }
        }
    }
    float sums[4];
    hsum4(acc[0], acc[1], acc[2], acc[3], sums);
    store_outputs(sums, y, nb);
}
#endif

/* y[m0 + r, n] for `rows` rows of x from m0, over one weight row n of 4- or 8-bit codes. */
static inline __attribute__((always_inline)) void dot8_row(
    int bits, const int8_t *p, const float *d, const float *ds, const void *codes, const uint16_t *scale,
    const uint16_t *min, float *y, int64_t m0, const int rows, int64_t n, int64_t N, int64_t K) {
    int64_t groups = K / GROUP, bytes = bits == 4 ? GROUP / 2 : GROUP;
    const uint8_t *q = (const uint8_t *)codes + n * groups * bytes;
    const uint16_t *s = scale + n * groups, *mn = min ? min + n * groups : 0;
    float mterm[ROWS] = {0};
#if defined(__AVX2__)
    __m256 acc[ROWS];
    for (int r = 0; r < rows; r++) acc[r] = _mm256_setzero_ps();
#else
    float acc[ROWS] = {0};
#endif
    for (int64_t g = 0; g < groups; g++) {
        float sg = half_to_float(s[g]), mg = mn ? half_to_float(mn[g]) : 0.0f;
#if defined(__AVX2__)
        __m256i w, sign = _mm256_setzero_si256();
        if (bits == 4) {
            w = unpack4(q + g * bytes);
        } else { /* u8 x s8 needs unsigned weights: |w| times the activation with w's sign */
            sign = _mm256_loadu_si256((const __m256i *)(q + g * bytes));
            w = _mm256_sign_epi8(sign, sign);
        }
        for (int r = 0; r < rows; r++) {
            int64_t at = (m0 + r) * groups + g;
            __m256i a = _mm256_loadu_si256((const __m256i *)(p + at * GROUP));
            if (bits == 8) a = _mm256_sign_epi8(a, sign);
            __m256 part = _mm256_cvtepi32_ps(dot_u8s8(w, a));
            acc[r] = _mm256_fmadd_ps(part, _mm256_set1_ps(sg * d[at]), acc[r]);
            mterm[r] += mg * ds[at];
        }
#else
        for (int r = 0; r < rows; r++) {
            int64_t at = (m0 + r) * groups + g;
            const int8_t *a = p + at * GROUP;
            int32_t sum = 0;
            if (bits == 4) {
                for (int j = 0; j < 16; j++)
                    sum += (q[g * bytes + j] & 0xF) * a[j] + (q[g * bytes + j] >> 4) * a[j + 16];
            } else {
                for (int j = 0; j < GROUP; j++) sum += (int8_t)q[g * bytes + j] * a[j];
            }
            acc[r] += (float)sum * (sg * d[at]);
            mterm[r] += mg * ds[at];
        }
#endif
    }
    for (int r = 0; r < rows; r++) {
#if defined(__AVX2__)
        y[(m0 + r) * N + n] = hsum8(acc[r]) + mterm[r];
#else
        y[(m0 + r) * N + n] = acc[r] + mterm[r];
#endif
    }
}

/* y (M, N) = x (M, K) @ W^T with x quantized to int8 first (in a buffer of M * (K + 8 * K / 32) bytes). */
static inline __attribute__((always_inline)) int dot8_matmul(int bits, const float *x, const void *codes, const uint16_t *scale,
                       const uint16_t *min, float *y, int64_t M, int64_t N, int64_t K, int threads) {
    (void)threads;
    int64_t groups = M * (K / GROUP);
    int8_t *p = malloc((size_t)(M * K));
    float *d = malloc(sizeof(float) * (size_t)groups), *ds = malloc(sizeof(float) * (size_t)groups);
    if (!p || !d || !ds) {
        free(p), free(d), free(ds);
        return -1;
    }
    quantize_rows_q8(x, p, d, ds, M, K);
#if defined(DOT8_AVX512)
    int64_t blocks = (N + NB - 1) / NB, kg = K / GROUP;
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1)")
    for (int64_t b = 0; b < blocks; b++) {
        int64_t n0 = b * NB;
        int nb = N - n0 < NB ? (int)(N - n0) : NB;
        for (int64_t m = 0; m < M; m++) {
            const int8_t *pm = p + m * K;
            const float *dm = d + m * kg, *dsm = ds + m * kg;
            if (bits == 4)
                dot8_block_avx512(4, pm, dm, dsm, codes, scale, min, y + m * N + n0, n0, nb, K);
            else
                dot8_block_avx512(8, pm, dm, dsm, codes, scale, min, y + m * N + n0, n0, nb, K);
        }
    }
    free(p), free(d), free(ds);
    return 0;
#endif
    _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1)")
    for (int64_t n = 0; n < N; n++) {
        for (int64_t m0 = 0; m0 < M; m0 += ROWS) {
            switch (M - m0 < ROWS ? M - m0 : ROWS) {
            case 1: dot8_row(bits, p, d, ds, codes, scale, min, y, m0, 1, n, N, K); break;
            case 2: dot8_row(bits, p, d, ds, codes, scale, min, y, m0, 2, n, N, K); break;
            case 3: dot8_row(bits, p, d, ds, codes, scale, min, y, m0, 3, n, N, K); break;
            default: dot8_row(bits, p, d, ds, codes, scale, min, y, m0, 4, n, N, K);
            }
        }
    }
    free(p), free(d), free(ds);
    return 0;
}

int gu_q4_matmul_dot8(const float *x, const uint8_t *codes, const uint16_t *scale, const uint16_t *min,
                      float *y, int64_t M, int64_t N, int64_t K, int threads) {
    return dot8_matmul(4, x, codes, scale, min, y, M, N, K, threads);
}

int gu_q8_matmul_dot8(const float *x, const int8_t *codes, const uint16_t *scale, const uint16_t *min,
                      float *y, int64_t M, int64_t N, int64_t K, int threads) {
    return dot8_matmul(8, x, codes, scale, min, y, M, N, K, threads);
}
