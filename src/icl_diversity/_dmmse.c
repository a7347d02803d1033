/* Fused dMMSE posterior means on the CPU: one pass over (sequence, position, task).
 *
 * Built at first use by icl_diversity/native.py (cc -O3 -march=native -fopenmp, once per
 * REAL type, CPU and compiler) and called through ctypes; the torch implementation in
 * baselines.py computes the same numbers and is used where no C compiler is found.
 *
 * For sequence n and position j (examples 0..j), the negative logit of task m is
 *     S_j(m) = sum_{i<=j} (x_i . w_m - y_i)^2          (x, y prescaled by 1/sqrt(2 sigma^2))
 * and the posterior mean is sum_m exp(ref - S_j(m)) [w_m, 1] normalised by its last
 * entry, where ref is the running minimum of S_j over the tasks seen so far (a running
 * log-sum-exp over chunks of tasks). Weights below e^floor of the running maximum are
 * left out (the torch implementation floors them at e^floor instead; floor >= -80).
 *
 * Work is split over blocks of sequences (OpenMP); within a block, a chunk of tasks
 * (chunk x D numbers) stays in cache while every sequence of the block uses it, and
 * every per-task loop runs over VL tasks at a time in explicit vectors.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#ifndef REAL
#define REAL double
#endif
typedef REAL real;

#define PRIME_SAMPLE 1024

/* exp(x) for x in [-80, 0], VL numbers at a time, in GCC/Clang vector extensions
 * (the compilers do not vectorise the bit manipulation on their own): Cody-Waite
 * reduction x = k ln2 + r with |r| <= ln2 / 2, a Taylor polynomial for e^r (degree 11
 * for double: truncation < 1e-14 relative; degree 7 for float: < 1e-8), and 2^k built
 * from exponent bits (k >= -116, so 2^k is a normal number in both types). */
#if REAL_IS_FLOAT
#define VL 16
typedef float vreal __attribute__((vector_size(64)));
typedef int32_t vbits __attribute__((vector_size(64)));
typedef int32_t bits_t;
#define MANT_BITS 23
#define EXP_BIAS 127
#define ROUNDER 12582912.0f                                /* 1.5 * 2^23 */
#else
#define VL 8
typedef double vreal __attribute__((vector_size(64)));
typedef int64_t vbits __attribute__((vector_size(64)));
typedef int64_t bits_t;
#define MANT_BITS 52
#define EXP_BIAS 1023
#define ROUNDER 6755399441055744.0                         /* 1.5 * 2^52 */
#endif

static inline vreal vexp_nonpos(vreal x) {
    vreal t = x * (real)1.4426950408889634074;
    vreal k = (t + (real)ROUNDER) - (real)ROUNDER;         /* round to nearest */
    vreal r = x - k * (real)0.693145751953125;             /* ln 2, high bits: k * hi exact */
    r = r - k * (real)1.42860682030941723212e-6;           /* ln 2, the rest */
#if REAL_IS_FLOAT
    vreal p = r * (real)(1.0 / 5040) + (real)(1.0 / 720);
#else
    vreal p = r * (real)(1.0 / 39916800) + (real)(1.0 / 3628800);
    p = p * r + (real)(1.0 / 362880);
    p = p * r + (real)(1.0 / 40320);
    p = p * r + (real)(1.0 / 5040);
    p = p * r + (real)(1.0 / 720);
#endif
    p = p * r + (real)(1.0 / 120);
    p = p * r + (real)(1.0 / 24);
    p = p * r + (real)(1.0 / 6);
    p = p * r + (real)0.5;
    p = p * r + (real)1.0;
    p = p * r + (real)1.0;
    vbits e = (__builtin_convertvector(k, vbits) + EXP_BIAS) << MANT_BITS;
    return p * (vreal)e;
}

static inline vreal vmin(vreal a, vreal b) {
    vbits lt = a < b;
    return (vreal)((lt & (vbits)a) | (~lt & (vbits)b));
}

/* Whether any lane of a is below t. */
static inline int any_below(vreal a, real t) {
#if defined(__AVX512F__) && REAL_IS_FLOAT
    return _mm512_cmp_ps_mask((__m512)a, _mm512_set1_ps(t), _CMP_LT_OQ) != 0;
#elif defined(__AVX512F__)
    return _mm512_cmp_pd_mask((__m512d)a, _mm512_set1_pd(t), _CMP_LT_OQ) != 0;
#else
    vbits lt = a < t;
    bits_t any = 0;
    for (int i = 0; i < VL; ++i) any |= lt[i];
    return any != 0;
#endif
}

static inline vreal vload(const real *p) { vreal v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(real *p, vreal v) { memcpy(p, &v, sizeof v); }

/* One block of sequences against the whole pool. Wc holds a chunk of tasks as D rows of
 * cp numbers plus a row of ones (zeros past the chunk's end); S holds cp negative logits
 * of one sequence (+inf past the end, so padding never wins a minimum and gets weight
 * e^floor * 0 = 0). D is a compile-time constant wherever the compiler inlines this
 * with a literal (see dmmse_sums), which keeps the D + 1 accumulators in registers.
 *
 * Two savings, both dropping only weights below e^floor of the largest:
 * - Pass 2 skips a vector of VL tasks whose weights are all at the floor.
 * - S_j(w) never decreases with j, and U = the least S_{J-1} over the tasks done so far
 *   and over a sample of the pool bounds min_w S_{j'} for every j'. A task with S_j(w) > U - floor is
 *   below the floor at every position from j on, so a vector of such tasks is dropped
 *   from the chunk's list `alive` for the rest of the positions, in both passes. */
static inline __attribute__((always_inline)) void
block(const int64_t D, int64_t n0, int64_t nb, int64_t J, int64_t M, const real *X,
      const real *Y, const real *WT, real floor_, int64_t chunk, real *S, real *Wc,
      int32_t *alive, double *acc, real *ref) {
    for (int64_t i = 0; i < nb * J * (D + 1); ++i) acc[i] = 0.0;
    for (int64_t i = 0; i < nb * J; ++i) ref[i] = (real)INFINITY;
    const vreal floorv = (vreal){} + floor_;
    /* A first U per sequence, before any chunk: the least S_{J-1} over an evenly spaced
     * sample of the pool (the pool is ordered along a space-filling curve, so the first
     * chunks alone would give a poor bound for sequences whose tasks lie elsewhere). */
    real bound[nb];
    const int64_t stride = M > PRIME_SAMPLE ? M / PRIME_SAMPLE : 1;
    for (int64_t b = 0; b < nb; ++b) {
        real best = (real)INFINITY;
        for (int64_t m = 0; m < M; m += stride) {
            real sm = 0;
            for (int64_t j = 0; j < J; ++j) {
                const real *x = X + ((n0 + b) * J + j) * D;
                real e = -Y[(n0 + b) * J + j];
                for (int64_t d = 0; d < D; ++d) e += x[d] * WT[d * M + m];
                sm += e * e;
            }
            best = sm < best ? sm : best;
        }
        bound[b] = best;
    }
    for (int64_t m0 = 0; m0 < M; m0 += chunk) {
        const int64_t c = M - m0 < chunk ? M - m0 : chunk;
        const int64_t cp = (c + VL - 1) / VL * VL;
        for (int64_t d = 0; d <= D; ++d) {   /* rows M apart in WT would share cache sets */
            real *w = Wc + d * cp;
            for (int64_t m = 0; m < cp; ++m)
                w[m] = m >= c ? (real)0 : d < D ? WT[d * M + m0 + m] : (real)1;
        }
        for (int64_t b = 0; b < nb; ++b) {
            for (int64_t m = 0; m < cp; ++m) S[m] = m < c ? (real)0 : (real)INFINITY;
            int64_t na = cp / VL;
            for (int64_t i = 0; i < na; ++i) alive[i] = (int32_t)(i * VL);
            const real U = ref[b * J + J - 1] < bound[b] ? ref[b * J + J - 1] : bound[b];
            /* Where the working precision cannot hold U - floor apart from U (float32
             * once U is about 7e8), pruning could drop the best task: keep every task. */
            const real limit = (U - floor_ > U) ? U - floor_ : (real)INFINITY;
            for (int64_t j = 0; j < J && na > 0; ++j) {
                const real *x = X + ((n0 + b) * J + j) * D;
                const real y = Y[(n0 + b) * J + j];
                vreal mnv = (vreal){} + (real)INFINITY;
                int64_t kept = 0;
                for (int64_t i = 0; i < na; ++i) {              /* pass 1: S_j, its min */
                    const int64_t m = alive[i];
                    vreal e = (vreal){} - y;
                    for (int64_t d = 0; d < D; ++d) e += x[d] * vload(Wc + d * cp + m);
                    vreal sv = vload(S + m) + e * e;
                    vstore(S + m, sv);
                    mnv = vmin(sv, mnv);
                    alive[kept] = (int32_t)m;
                    kept += any_below(sv, limit);
                }
                na = kept;
                real mn = mnv[0];
                for (int i = 1; i < VL; ++i) mn = mnv[i] < mn ? mnv[i] : mn;
                real *r = ref + b * J + j;
                double *a = acc + (b * J + j) * (D + 1);
                if (mn < *r) {                        /* a better task: rescale the sums */
                    double f = isinf(*r) ? 0.0 : exp((double)(mn - *r));
                    for (int64_t d = 0; d <= D; ++d) a[d] *= f;
                    *r = mn;
                }
                vreal av[D + 1];
                for (int64_t d = 0; d <= D; ++d) av[d] = (vreal){};
                for (int64_t i = 0; i < na; ++i) {              /* pass 2: weights, sums */
                    const int64_t m = alive[i];
                    vreal z = vload(S + m) - *r;              /* >= 0 */
                    if (!any_below(z, -floor_)) continue;
                    vreal p = vexp_nonpos(-vmin(z, -floorv));
                    for (int64_t d = 0; d <= D; ++d) av[d] += p * vload(Wc + d * cp + m);
                }
                for (int64_t d = 0; d <= D; ++d) {
                    double t = 0;
                    for (int i = 0; i < VL; ++i) t += av[d][i];
                    a[d] += t;
                }
            }
        }
    }
}

/* X (N, J, D), Y (N, J), WT (D, M) row-major; out (N, J, D + 1) receives the
 * unnormalised sums [sum p w, sum p] relative to ref (N, J), which it also returns.
 * Returns nonzero when a work buffer could not be allocated. */
int dmmse_sums(int64_t N, int64_t J, int64_t D, int64_t M,
               const real *X, const real *Y, const real *WT, double floor_,
               int64_t chunk, int64_t seq_block, int64_t threads,
               double *out, real *ref_out) {
    int failed = 0;
    chunk = (chunk + VL - 1) / VL * VL;
    (void)threads;                                        /* unused without OpenMP */
#pragma omp parallel for schedule(dynamic, 1) reduction(|| : failed) num_threads(threads)
    for (int64_t n0 = 0; n0 < N; n0 += seq_block) {
        int64_t nb = N - n0 < seq_block ? N - n0 : seq_block;
        real *S = malloc(sizeof(real) * chunk);
        real *Wc = malloc(sizeof(real) * (D + 1) * chunk);
        int32_t *alive = malloc(sizeof(int32_t) * (chunk / VL));
        if (!S || !Wc || !alive) { free(S); free(Wc); free(alive); failed = 1; continue; }
        double *acc = out + n0 * J * (D + 1);
        real *ref = ref_out + n0 * J;
#define CASE(d) case d: block(d, n0, nb, J, M, X, Y, WT, (real)floor_, chunk, S, Wc, alive, acc, ref); break;
        switch (D) {
            CASE(1) CASE(2) CASE(4) CASE(8) CASE(16) CASE(32)
            default: block(D, n0, nb, J, M, X, Y, WT, (real)floor_, chunk, S, Wc, alive, acc, ref);
        }
#undef CASE
        free(S);
        free(Wc);
        free(alive);
    }
    return failed;
}
