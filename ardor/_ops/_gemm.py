"""A float32 GEMM in C for the convolution and linear kernels, used where it measures faster.

numpy's BLAS (OpenBLAS) is the default. But an OpenBLAS told which kernels to use
(``OPENBLAS_CORETYPE=Haswell``, set on these machines) runs AVX2 code on a CPU with AVX-512
at about half the rate torch's oneDNN reaches, and its skinny convolution GEMMs (M=64 or
K=288) drop further. This is a small BLIS-style GEMM: B packed into panels of NR columns, A
into panels of MR rows, an MR x NR register-blocked AVX-512 micro-kernel. It is compiled with
``-march=native`` through ``ardor.jit``'s kernel cache, and the problem is split across
threads by columns, rows or the reduction dimension.

The same compilation unit holds the kernels built on its packing and micro-kernel:
stride-1 convolutions whose panels are packed straight from shifted windows of the input
(:func:`conv_forward`, :func:`conv_input_grad`, :func:`conv_weight_grad`: no column matrix),
and an LSTM layer's whole recurrence with W_hh packed once (:func:`lstm_forward`,
:func:`lstm_backward`).

Each entry returns None (or False) where it does not apply, and the caller keeps numpy: no
AVX-512, no compiler, a small or non-float32 problem, ``ARDOR_NO_CKERNELS=1``, or the
one-time measurement (kept on disk per machine) found numpy's BLAS faster.
``ARDOR_GEMM=numpy|c`` overrides that measurement.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import time

import numpy as np

from ._addr import addr
from ._ckern import LSTM_CELL, _f32c

_SRC = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <math.h>
#include <omp.h>
/*SIMD*/
/*LSTM_CELL*/
/* cpu: CPUTAG */
#ifdef __AVX512F__
#include <immintrin.h>
#define MR 12
#define NR 32
#define KC 256
#define MC 96
#define NC 2048

int sg_ok(void) { return 1; }

typedef struct { float* a; float* b; } bufs_t;
static __thread float* tl_a = 0;
static __thread float* tl_b = 0;

static bufs_t get_bufs(void) {
    if (!tl_a) tl_a = aligned_alloc(64, sizeof(float) * MC * KC);
    if (!tl_b) tl_b = aligned_alloc(64, sizeof(float) * KC * NC);
    bufs_t r = {tl_a, tl_b};
    return r;
}

/* Matrices are given by row-pointer tables: element (r, c) of X is rows[r][(c0 + c) * cs].
   A plain strided matrix has rows[r] = base + r * rs; the convolutions point rows at
   shifted windows of an image, so im2col happens while packing, inside the cache. */

/* whether rows[0..n) point at consecutive floats (a row table of a transposed matrix) */
static int adjacent(const float* const* rows, int64_t n) {
    for (int64_t i = 1; i < n; i++)
        if (rows[i] != rows[0] + i) return 0;
    return 1;
}

/* v[i] lane j -> v[j] lane i */
static inline void transpose16(__m512 v[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(u[i + j], u[i + 4 + j], 0x88);
            t[i + 4 + j] = _mm512_shuffle_f32x4(u[i + j], u[i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        v[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        v[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
}

/* Ap[p][k][i] = A(p*MR + i, k), rows past mc zero */
static void pack_a(int64_t mc, int64_t kc, const float* const* rows, int64_t c0, int64_t cs,
                   float* restrict Ap) {
    for (int64_t p = 0; p < mc; p += MR) {
        int64_t m = mc - p < MR ? mc - p : MR;
        float* d = Ap + p * kc;
        if (m < MR) memset(d, 0, sizeof(float) * MR * kc);
        if (cs == 1) {
            /* rows in memory, the panel k-major: 16 k of the m rows are turned in
               registers at a time (12 of the 16 lanes stored) */
            __mmask16 keep = (__mmask16)((1u << MR) - 1u);
            int64_t k0 = 0;
            for (; k0 + 16 <= kc; k0 += 16) {
                __m512 v[16];
                for (int i = 0; i < 16; i++)
                    v[i] = i < m ? _mm512_loadu_ps(rows[p + i] + c0 + k0) : _mm512_setzero_ps();
                transpose16(v);
                for (int k = 0; k < 16; k++) _mm512_mask_storeu_ps(d + (k0 + k) * MR, keep, v[k]);
            }
            for (int64_t i = 0; i < m; i++) {
                const float* si = rows[p + i] + c0;
                for (int64_t k = k0; k < kc; k++) d[k * MR + i] = si[k];
            }
        } else if (adjacent(rows + p, m)) {
            /* a transposed matrix: the panel's m rows lie side by side, so each k is one
               short vector load */
            const float* s = rows[p] + c0 * cs;
            __mmask16 mk = (__mmask16)((1u << m) - 1u);
            for (int64_t k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(d + k * MR, mk, _mm512_maskz_loadu_ps(mk, s + k * cs));
        } else {
            const float* r[MR];
            for (int64_t i = 0; i < m; i++) r[i] = rows[p + i] + c0 * cs;
            for (int64_t k = 0; k < kc; k++)
                for (int64_t i = 0; i < m; i++) d[k * MR + i] = r[i][k * cs];
        }
    }
}

/* Bp[q][k][j] = B(k, q*NR + j), columns past nc zero */
static void pack_b(int64_t kc, int64_t nc, const float* const* rows, int64_t c0, int64_t cs,
                   float* restrict Bp) {
    for (int64_t q = 0; q < nc; q += NR) {
        int64_t n = nc - q < NR ? nc - q : NR;
        float* d = Bp + q * kc;
        if (cs == 1 && n == NR) {
            for (int64_t k = 0; k < kc; k++) {
                const float* s = rows[k] + c0 + q;
                _mm512_store_ps(d + k * NR, _mm512_loadu_ps(s));
                _mm512_store_ps(d + k * NR + 16, _mm512_loadu_ps(s + 16));
            }
        } else if (cs == 1) {
            __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1u);
            __mmask16 m1 = n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u);
            for (int64_t k = 0; k < kc; k++) {
                const float* s = rows[k] + c0 + q;
                _mm512_store_ps(d + k * NR, _mm512_maskz_loadu_ps(m0, s));
                _mm512_store_ps(d + k * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
            }
        } else if (adjacent(rows, kc)) {
            /* a transposed matrix (B^T contiguous): column j of the panel is a run of kc
               floats; 16 runs at a time are read in order and turned in registers */
            for (int64_t h = 0; h < NR; h += 16) {
                int64_t nh = n - h < 16 ? (n - h > 0 ? n - h : 0) : 16;
                for (int64_t k0 = 0; k0 < kc; k0 += 16) {
                    int64_t nk = kc - k0 < 16 ? kc - k0 : 16;
                    __mmask16 mk = (__mmask16)((1u << nk) - 1u);
                    __m512 v[16];
                    for (int j = 0; j < 16; j++)
                        v[j] = j < nh ? _mm512_maskz_loadu_ps(
                                   mk, rows[k0] + (c0 + q + h + j) * cs)
                                      : _mm512_setzero_ps();
                    transpose16(v);
                    for (int64_t k = 0; k < nk; k++) _mm512_store_ps(d + (k0 + k) * NR + h, v[k]);
                }
            }
        } else {
            if (n < NR) memset(d, 0, sizeof(float) * NR * kc);
            /* strided columns: blocks of 16 k, so a column-major source is read in runs */
            for (int64_t k0 = 0; k0 < kc; k0 += 16) {
                int64_t k1 = k0 + 16 < kc ? k0 + 16 : kc;
                for (int64_t j = 0; j < n; j++) {
                    int64_t off = (c0 + q + j) * cs;
                    for (int64_t k = k0; k < k1; k++) d[k * NR + j] = rows[k][off];
                }
            }
        }
    }
}

/* C[m x n tile] (+)= Ap panel (kc x MR) . Bp panel (kc x NR) */
static void kernel(int64_t kc, const float* restrict a, const float* restrict b,
                   float* c, int64_t ldc, int64_t m, int64_t n, int acc) {
    __m512 r[MR][2];
    #pragma GCC unroll 12
    for (int i = 0; i < MR; i++) { r[i][0] = _mm512_setzero_ps(); r[i][1] = _mm512_setzero_ps(); }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        #pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            r[i][0] = _mm512_fmadd_ps(av, b0, r[i][0]);
            r[i][1] = _mm512_fmadd_ps(av, b1, r[i][1]);
        }
        a += MR;
        b += NR;
    }
    if (m == MR && n == NR) {
        #pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            float* ci = c + i * ldc;
            if (acc) {
                r[i][0] = _mm512_add_ps(r[i][0], _mm512_loadu_ps(ci));
                r[i][1] = _mm512_add_ps(r[i][1], _mm512_loadu_ps(ci + 16));
            }
            _mm512_storeu_ps(ci, r[i][0]);
            _mm512_storeu_ps(ci + 16, r[i][1]);
        }
    } else {
        __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1u);
        __mmask16 m1 = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u);
        for (int i = 0; i < m; i++) {
            float* ci = c + i * ldc;
            __m512 v0 = r[i][0], v1 = r[i][1];
            if (acc) {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
            }
            _mm512_mask_storeu_ps(ci, m0, v0);
            _mm512_mask_storeu_ps(ci + 16, m1, v1);
        }
    }
}

/* An epilogue: elementwise work on a finished block of C (rows i0..i0+m, columns
   j0..j0+n of the whole product) while it is still in this core's cache; a fused kernel
   compiled by ardor.jit (ptrs: its arrays, C among them). */
typedef void (*epi_fn)(void* const* ptrs, int64_t i0, int64_t j0, int64_t m, int64_t n);
typedef struct { epi_fn fn; void* const* ptrs; int64_t i0, j0; } epi_t;

/* one thread: C (M x N, row stride ldc) (+)= A (M x K) . B (K x N); the reduction is cut
   into equal blocks of at most KC; the epilogue (if any) runs on each finished block */
static void gemm_block(int64_t M, int64_t N, int64_t K, const float* const* arows,
                       int64_t acs, int64_t ac0, const float* const* brows, int64_t bcs,
                       int64_t bc0, float* C, int64_t ldc, int acc, const epi_t* epi) {
    if (K <= 0) return;
    bufs_t bf = get_bufs();
    int64_t nk = (K + KC - 1) / KC, kb = (K + nk - 1) / nk;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += kb) {
            int64_t kc = K - pc < kb ? K - pc : kb;
            pack_b(kc, nc, brows + pc, bc0 + jc, bcs, bf.b);
            int a2 = acc || pc > 0;
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(mc, kc, arows + ic, ac0 + pc, acs, bf.a);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int64_t n = nc - jr < NR ? nc - jr : NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int64_t m = mc - ir < MR ? mc - ir : MR;
                        kernel(kc, bf.a + ir * kc, bf.b + jr * kc,
                               C + (ic + ir) * ldc + jc + jr, ldc, m, n, a2);
                    }
                }
                if (epi && pc + kc >= K) epi->fn(epi->ptrs, epi->i0 + ic, epi->j0 + jc, mc, nc);
            }
        }
    }
}

static void gemm_serial(int64_t M, int64_t N, int64_t K, const float* const* arows,
                        int64_t acs, int64_t ac0, const float* const* brows, int64_t bcs,
                        int64_t bc0, float* C, int64_t ldc, int acc) {
    gemm_block(M, N, K, arows, acs, ac0, brows, bcs, bc0, C, ldc, acc, 0);
}

static const float** table(const float* base, int64_t n, int64_t rs) {
    const float** t = malloc(sizeof(float*) * (n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) t[i] = base + i * rs;
    return t;
}

/* C = A . B (acc: C += A . B), then the epilogue fn(ptrs, ...) over C's blocks (fn may be
   NULL), on nt threads. Split by columns when there are enough NR panels, else by the
   reduction dimension when it is long (private partial sums, added after), else by rows. */
void sg_gemm_epi(int64_t M, int64_t N, int64_t K, const float* A, int64_t ars, int64_t acs,
                 const float* B, int64_t brs, int64_t bcs, float* C, int64_t ldc, int acc,
                 int nt, epi_fn fn, void* const* ptrs) {
    const float** ar = table(A, M, ars);
    const float** br = table(B, K, brs);
    if (nt < 1) nt = 1;
    int64_t panels = (N + NR - 1) / NR;
    epi_t whole = {fn, ptrs, 0, 0};
    const epi_t* e0 = fn ? &whole : 0;
    if (nt == 1 || M * N * K < (1 << 20)) {
        gemm_block(M, N, K, ar, acs, 0, br, bcs, 0, C, ldc, acc, e0);
    } else if (panels >= 4 * nt || (panels >= 2 * nt && M >= 2 * MR * nt && M <= N)) {
        #pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int64_t p0 = panels * t / T, p1 = panels * (t + 1) / T;
            int64_t j0 = p0 * NR, j1 = p1 * NR < N ? p1 * NR : N;
            epi_t mine = {fn, ptrs, 0, j0};
            if (j1 > j0)
                gemm_block(M, j1 - j0, K, ar, acs, 0, br, bcs, j0, C + j0, ldc, acc,
                           fn ? &mine : 0);
        }
    } else if (K >= 4 * KC * nt && K >= 4 * M) {
        float* part = aligned_alloc(64, sizeof(float) * (size_t)(nt - 1) * M * N + 64);
        #pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int64_t k0 = K * t / T, k1 = K * (t + 1) / T;
            if (t == 0)
                gemm_serial(M, N, k1 - k0, ar, acs, k0, br + k0, bcs, 0, C, ldc, acc);
            else
                gemm_serial(M, N, k1 - k0, ar, acs, k0, br + k0, bcs, 0,
                            part + (t - 1) * M * N, N, 0);
            #pragma omp barrier
            #pragma omp for
            for (int64_t i = 0; i < M; i++) {
                for (int u = 1; u < T; u++) {
                    float* ci = C + i * ldc;
                    const float* pi = part + (u - 1) * M * N + i * N;
                    for (int64_t j = 0; j < N; j++) ci[j] += pi[j];
                }
                if (fn) fn(ptrs, i, 0, 1, N);
            }
        }
        free(part);
    } else {
        int64_t rp = (M + MR - 1) / MR;
        #pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int64_t i0 = rp * t / T * MR, i1 = rp * (t + 1) / T * MR;
            if (i1 > M) i1 = M;
            epi_t mine = {fn, ptrs, i0, 0};
            if (i1 > i0)
                gemm_block(i1 - i0, N, K, ar + i0, acs, 0, br, bcs, 0, C + i0 * ldc, ldc,
                           acc, fn ? &mine : 0);
        }
    }
    free(ar);
    free(br);
}

/* sg_gemm_epi with its numbers in cfg = {M, N, K, A's row and column strides, B's, C's
   row stride, threads} and its arrays in arr = {A, B, C, the epilogue's other arrays}:
   the epilogue gets arr + 2, whose first entry is C (three ctypes arguments instead of
   fifteen: a compiled step makes a dozen of these calls) */
void sg_gemm_epi_v(const int64_t* cfg, void* const* arr, epi_fn fn) {
    sg_gemm_epi(cfg[0], cfg[1], cfg[2], (const float*)arr[0], cfg[3], cfg[4],
                (const float*)arr[1], cfg[5], cfg[6], (float*)arr[2], cfg[7], 0, (int)cfg[8],
                fn, arr + 2);
}

/* A run of C calls in one (ardor.jit's _chain): prog = {the number of steps, then per
   step: its kind, its C function, the kind's numbers, how many arrays it takes, and their
   slots in P}. Kind 1: a GEMM and its epilogue (sg_gemm_epi_v's nine numbers; the threads
   are nt); kind 2: a column-sum kernel (one number: whether it takes the threads). */
typedef void (*colsum_fn)(void* const* P, int nt);
void sg_chain(const int64_t* prog, void* const* P, int nt) {
    const int64_t* s = prog + 1;
    for (int64_t q = 0; q < prog[0]; q++) {
        int64_t ncfg = s[0] == 1 ? 9 : 1, na = s[2 + ncfg];
        const int64_t* cfg = s + 2;
        const int64_t* slots = s + 3 + ncfg;
        void* arr[na > 0 ? na : 1];
        for (int64_t k = 0; k < na; k++) arr[k] = P[slots[k]];
        if (s[0] == 1)
            sg_gemm_epi(cfg[0], cfg[1], cfg[2], (const float*)arr[0], cfg[3], cfg[4],
                        (const float*)arr[1], cfg[5], cfg[6], (float*)arr[2], cfg[7], 0, nt,
                        (epi_fn)(intptr_t)s[1], arr + 2);
        else
            ((colsum_fn)(intptr_t)s[1])(arr, cfg[0] ? nt : 1);
        s = slots + na;
    }
}

void sg_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t ars, int64_t acs,
             const float* B, int64_t brs, int64_t bcs, float* C, int64_t ldc, int acc,
             int nt) {
    sg_gemm_epi(M, N, K, A, ars, acs, B, brs, bcs, C, ldc, acc, nt, 0, 0);
}

/* Stride-1 convolutions over "full-width" columns (see nn_ops._Geom): image n's channel c is
   the run x + n*xn + c*xc, kernel offset o reads it shifted by offs[o], and output column p
   of image n is computed from x[n, :, p + offs[:]] for p < L.
   Images are shared out among the threads; with fewer images than threads each image's
   columns (forward, input grad) or reduction (weight grad) is split instead. */

/* y[n] (M x cols, rows yc apart) = A (M x Cb*KK, row-major) . B(n), where row c*KK + o of
   B(n) is the run base + n*bn + c*bc + shift + sign*offs[o] (a shifted window) */
static void conv_rows_gemm(int64_t N, const float* base, int64_t bn, int64_t bc,
                           int64_t shift, int sign, int64_t Cb, const int64_t* offs,
                           int64_t KK, const float* A, int64_t M, int64_t cols, float* y,
                           int64_t yn, int64_t yc, int nt) {
    const float** ar = table(A, M, Cb * KK);
    int parts = N >= 2 * nt ? 1 : nt;
    #pragma omp parallel for num_threads(nt) schedule(static) if(nt > 1)
    for (int64_t it = 0; it < N * parts; it++) {
        int64_t n = it / parts, t = it % parts;
        int64_t panels = (cols + NR - 1) / NR;
        int64_t j0 = panels * t / parts * NR, j1 = panels * (t + 1) / parts * NR;
        if (j1 > cols) j1 = cols;
        if (j1 <= j0) continue;
        const float** rows = malloc(sizeof(float*) * Cb * KK);
        for (int64_t c = 0; c < Cb; c++)
            for (int64_t o = 0; o < KK; o++)
                rows[c * KK + o] = base + n * bn + c * bc + shift + sign * offs[o];
        gemm_serial(M, j1 - j0, Cb * KK, ar, 1, 0, rows, 1, j0, y + n * yn + j0, yc, 0);
        free(rows);
    }
    free(ar);
}

/* y[n] (Co x L, rows yc apart) = w (Co x C*KK, row-major) . window columns of x[n] */
void sg_conv_fwd(int64_t N, const float* x, int64_t xn, int64_t xc, int64_t C,
                 const float* w, int64_t Co, const int64_t* offs, int64_t KK, int64_t L,
                 float* y, int64_t yn, int64_t yc, int nt) {
    conv_rows_gemm(N, x, xn, xc, 0, 1, C, offs, KK, w, Co, L, y, yn, yc, nt);
}

/* gx[n] (C x P columns, rows gc apart) = wt (C x Co*KK) . windows of gy[n], where gy is
   zero outside its L valid columns: column q reads gy[n, co, q - offs[o]] stored at
   g + n*gn + co*gcs + front + q - offs[o] (front >= the largest offset, zeros around). */
void sg_conv_bwd_input(int64_t N, const float* g, int64_t gn, int64_t gcs, int64_t front,
                       int64_t Co, const float* wt, int64_t C, const int64_t* offs,
                       int64_t KK, int64_t P, float* gx, int64_t gxn, int64_t gxc, int nt) {
    conv_rows_gemm(N, g, gn, gcs, front, -1, Co, offs, KK, wt, C, P, gx, gxn, gxc, nt);
}

/* gwt (C*KK x Co) = sum over images of window rows of x[n] (C*KK x L) . gy[n]^T (L x Co),
   gy[n, co, p] at g + n*gn + co*gcs + front + p (zero at the surplus columns) */
void sg_conv_bwd_weight(int64_t N, const float* x, int64_t xn, int64_t xc, int64_t C,
                        const int64_t* offs, int64_t KK, const float* g, int64_t gn,
                        int64_t gcs, int64_t front, int64_t Co, int64_t L, float* gwt,
                        int nt) {
    int64_t M = C * KK, sz = M * Co;
    int parts = N >= 2 * nt ? 1 : nt;
    float* part = aligned_alloc(64, sizeof(float) * (size_t)nt * sz + 64);
    #pragma omp parallel num_threads(nt) if(nt > 1)
    {
        int tid = omp_get_thread_num();
        float* mine = part + tid * sz;
        memset(mine, 0, sizeof(float) * sz);
        const float** rows = malloc(sizeof(float*) * M);
        const float** cols = malloc(sizeof(float*) * L);
        #pragma omp for schedule(static)
        for (int64_t it = 0; it < N * parts; it++) {
            int64_t n = it / parts, t = it % parts;
            int64_t p0 = L * t / parts, p1 = L * (t + 1) / parts;
            for (int64_t c = 0; c < C; c++)
                for (int64_t o = 0; o < KK; o++) rows[c * KK + o] = x + n * xn + c * xc + offs[o];
            for (int64_t p = p0; p < p1; p++) cols[p - p0] = g + n * gn + front + p;
            gemm_serial(M, Co, p1 - p0, rows, 1, p0, cols, gcs, 0, mine, Co, 1);
        }
        free(rows);
        free(cols);
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < sz; i++) {
            float s = 0.0f;
            for (int u = 0; u < nt; u++) s += part[u * sz + i];
            gwt[i] = s;
        }
    }
    free(part);
}

/* ---- products with B packed once and reused (a recurrent weight over all time steps) */
typedef struct { float* data; int64_t K, N, kb, npan; } packed_t;

static packed_t prepack(int64_t K, int64_t N, const float* const* brows, int64_t bcs) {
    packed_t P;
    int64_t nk = (K + KC - 1) / KC;
    P.K = K; P.N = N; P.kb = (K + nk - 1) / nk; P.npan = (N + NR - 1) / NR;
    P.data = aligned_alloc(64, sizeof(float) * (size_t)(nk * P.kb * P.npan * NR) + 64);
    for (int64_t b = 0, pc = 0; pc < K; b++, pc += P.kb) {
        int64_t kc = K - pc < P.kb ? K - pc : P.kb;
        pack_b(kc, N, brows + pc, 0, bcs, P.data + b * P.kb * P.npan * NR);
    }
    return P;
}

/* C[:, panel ranges] = A (M x K, row-major, lda) . packed B, for the nr panel ranges
   [q[2r], q[2r+1]); A is packed once per reduction block; Abuf holds M x kb */
static void gemm_packed(int64_t M, const float* A, int64_t lda, const packed_t* P,
                        const int64_t* q, int nr, float* C, int64_t ldc, float* Abuf,
                        const float** arows) {
    for (int64_t i = 0; i < M; i++) arows[i] = A + i * lda;
    for (int64_t b = 0, pc = 0; pc < P->K; b++, pc += P->kb) {
        int64_t kc = P->K - pc < P->kb ? P->K - pc : P->kb;
        const float* Bb = P->data + b * P->kb * P->npan * NR;
        pack_a(M, kc, arows, pc, 1, Abuf);
        for (int r = 0; r < nr; r++)
            for (int64_t qq = q[2 * r]; qq < q[2 * r + 1]; qq++) {
                int64_t n = P->N - qq * NR < NR ? P->N - qq * NR : NR;
                for (int64_t ir = 0; ir < M; ir += MR) {
                    int64_t m = M - ir < MR ? M - ir : MR;
                    kernel(kc, Abuf + ir * kc, Bb + qq * NR * kc, C + ir * ldc + qq * NR, ldc,
                           m, n, pc > 0);
                }
            }
    }
}

/* a barrier that spins (briefly, then yields): a step is tens of microseconds, and a
   sleeping OpenMP barrier costs a futex wake per step */
typedef struct { volatile int count; volatile int sense; } spinbar_t;
static void spin_wait(spinbar_t* b, int T, int* local) {
    *local = !*local;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == T) {
        b->count = 0;
        __atomic_store_n(&b->sense, *local, __ATOMIC_RELEASE);
    } else {
        long spins = 0;
        while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != *local)
            if (++spins > 20000) sched_yield(); else _mm_pause();
    }
}

static float* thread_abuf(int64_t M, int64_t kb) {
    return aligned_alloc(64, sizeof(float) * (size_t)(((M + MR - 1) / MR) * MR * kb) + 64);
}

/* LSTM over a sequence (torch's gate order i, f, g, o). Step s covers rows
   offs[s]..offs[s]+bs[s] of xb (rows x 4H: input projection with both biases folded in),
   ws (rows x 8H: [i f g o | c_prev | c | tanh(c) | h_prev]) and out (rows x H); h and c
   (bmax x H) hold the initial state and end as the final one. w (4H x H) is W_hh. */
void lstm_seq_fwd(int64_t nsteps, const int64_t* offs, const int64_t* bs, int64_t H,
                  const float* xb, const float* w, float* h, float* c, float* ws,
                  float* out, int nt) {
    int64_t N = 4 * H, bmax = 0;
    for (int64_t s = 0; s < nsteps; s++) bmax = bs[s] > bmax ? bs[s] : bmax;
    const float** br = malloc(sizeof(float*) * H);
    for (int64_t k = 0; k < H; k++) br[k] = w + k;          /* B = W_hh^T: (k, j) = w[j*H + k] */
    packed_t P = prepack(H, N, br, H);
    free(br);
    float* G = aligned_alloc(64, sizeof(float) * (size_t)(bmax * N) + 64);
    spinbar_t bar = {0, 0};
    if (nt < 1) nt = 1;
    #pragma omp parallel num_threads(nt) if(nt > 1)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads(), sense = 0;
        int64_t u0 = H * t / T, u1 = H * (t + 1) / T;
        /* each thread computes the four gates of its own hidden units when the unit ranges
           fall on panel boundaries, so the pointwise pass reads only what it wrote (no
           cache lines travel between the cores each step); else an even panel split */
        int64_t q[8];
        int nr = 1;
        if (H % (NR * T) == 0) {
            nr = 4;
            for (int g = 0; g < 4; g++) {
                q[2 * g] = (g * H + u0) / NR;
                q[2 * g + 1] = (g * H + u1) / NR;
            }
        } else {
            q[0] = P.npan * t / T;
            q[1] = P.npan * (t + 1) / T;
        }
        float* Abuf = thread_abuf(bmax, P.kb);
        const float** arows = malloc(sizeof(float*) * (bmax > 0 ? bmax : 1));
        for (int64_t s = 0; s < nsteps; s++) {
            int64_t b = bs[s], off = offs[s];
            gemm_packed(b, h, H, &P, q, nr, G, N, Abuf, arows);
            if (T > 1) spin_wait(&bar, T, &sense);
            for (int64_t n = 0; n < b; n++)
                lstm_cell_fwd(G + n * N, xb + (off + n) * N, ws + (off + n) * 8 * H,
                              c + n * H, h + n * H, out + (off + n) * H, h + n * H, H, u0, u1);
            if (T > 1) spin_wait(&bar, T, &sense);
        }
        free(Abuf);
        free(arows);
    }
    free(G);
    free(P.data);
}

/* Its backward through time, steps given in processing order (last time step first): dh
   and dc (bmax x H) enter as the gradients of the final state and leave as those of the
   initial one; go (rows x H, row stride ldg) is the output gradient; dg (rows x 4H)
   receives the gate pre-activation gradients. */
void lstm_seq_bwd(int64_t nsteps, const int64_t* offs, const int64_t* bs, int64_t H,
                  const float* go, int64_t ldg, float* dh, float* dc, const float* ws,
                  const float* w, float* dg, int nt) {
    int64_t N = 4 * H, bmax = 0;
    for (int64_t s = 0; s < nsteps; s++) bmax = bs[s] > bmax ? bs[s] : bmax;
    const float** br = malloc(sizeof(float*) * N);
    for (int64_t k = 0; k < N; k++) br[k] = w + k * H;        /* B = W_hh: (4H x H) */
    packed_t P = prepack(N, H, br, 1);
    free(br);
    spinbar_t bar = {0, 0};
    if (nt < 1) nt = 1;
    #pragma omp parallel num_threads(nt) if(nt > 1)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads(), sense = 0;
        int64_t q[2] = {P.npan * t / T, P.npan * (t + 1) / T};
        int64_t u0 = H * t / T, u1 = H * (t + 1) / T;
        float* Abuf = thread_abuf(bmax, P.kb);
        const float** arows = malloc(sizeof(float*) * (bmax > 0 ? bmax : 1));
        for (int64_t s = 0; s < nsteps; s++) {
            int64_t b = bs[s], off = offs[s];
            for (int64_t n = 0; n < b; n++)
                lstm_cell_bwd(ws + (off + n) * 8 * H, go + (off + n) * ldg, dh + n * H,
                              dc + n * H, dg + (off + n) * N, H, u0, u1);
            if (T > 1) spin_wait(&bar, T, &sense);
            gemm_packed(b, dg + off * N, N, &P, q, 1, dh, H, Abuf, arows);
            if (T > 1) spin_wait(&bar, T, &sense);
        }
        free(Abuf);
        free(arows);
    }
    free(P.data);
}
/* C (M x N, rows ldc apart) = A (M x K, rows lda apart) . W^T, W (N x K, rows ldw apart),
   for a narrow result (N <= 14: a classifier's logits): dot products of contiguous rows,
   two rows of A at a time against each row of W (no packing; the GEMM's 32-wide register
   tile would be mostly empty) */
#define DOTS_MAX 14
void sg_dots(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W,
             int64_t ldw, float* C, int64_t ldc, int nt) {
    int64_t pairs = (M + 1) / 2;
    #pragma omp parallel for num_threads(nt) schedule(static) if(nt > 1)
    for (int64_t p = 0; p < pairs; p++) {
        int64_t i0 = 2 * p;
        int two = i0 + 1 < M;
        const float* a0 = A + i0 * lda;
        const float* a1 = two ? a0 + lda : a0;
        __m512 c0[DOTS_MAX], c1[DOTS_MAX];
        #pragma GCC unroll 14
        for (int n = 0; n < DOTS_MAX; n++) { c0[n] = _mm512_setzero_ps(); c1[n] = c0[n]; }
        for (int64_t k = 0; k < K; k += 16) {
            __mmask16 m = K - k >= 16 ? 0xFFFF : (__mmask16)((1u << (K - k)) - 1u);
            __m512 x0 = _mm512_maskz_loadu_ps(m, a0 + k), x1 = _mm512_maskz_loadu_ps(m, a1 + k);
            #pragma GCC unroll 14
            for (int n = 0; n < DOTS_MAX; n++) {
                if (n < N) {
                    __m512 w = _mm512_maskz_loadu_ps(m, W + n * ldw + k);
                    c0[n] = _mm512_fmadd_ps(x0, w, c0[n]);
                    c1[n] = _mm512_fmadd_ps(x1, w, c1[n]);
                }
            }
        }
        #pragma GCC unroll 14
        for (int n = 0; n < DOTS_MAX; n++) {
            if (n < N) {
                C[i0 * ldc + n] = _mm512_reduce_add_ps(c0[n]);
                if (two) C[(i0 + 1) * ldc + n] = _mm512_reduce_add_ps(c1[n]);
            }
        }
    }
}
#else
int sg_ok(void) { return 0; }
void sg_gemm(void) {}
void sg_dots(void) {}
void sg_gemm_epi(void) {}
void sg_conv_fwd(void) {}
void sg_conv_bwd_input(void) {}
void sg_conv_bwd_weight(void) {}
void lstm_seq_fwd(void) {}
void lstm_seq_bwd(void) {}
#endif
"""

_STATE: dict = {}         # "fn": the loaded sg_gemm, or None; "use": measured choice


def _cpu_tag() -> str:
    """Keys the cached library to this CPU: -march=native code must not load elsewhere."""
    tag = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags")):
                    tag += "|" + line.split(":", 1)[1].strip()
                    if line.startswith("flags"):
                        break
    except OSError:
        pass
    return tag


def _load():
    if "fn" in _STATE:
        return _STATE["fn"]
    fn = None
    if not os.environ.get("ARDOR_NO_CKERNELS"):
        try:
            from ..jit import _kernels as K
            src = _SRC.replace("CPUTAG", _cpu_tag().replace("*/", "")).replace(
                "/*LSTM_CELL*/", LSTM_CELL)
            lib = K._compile_c(src.replace("/*SIMD*/", K._SIMD_DECLS), quiet=True) \
                or K._compile_c(src.replace("/*SIMD*/", ""), quiet=True)
            if lib is not None and lib.sg_ok():
                i64 = ctypes.c_int64
                p = ctypes.c_void_p
                nt = ctypes.c_int
                for name, args in (
                        ("sg_gemm", [i64] * 3 + [p, i64, i64, p, i64, i64, p, i64, nt, nt]),
                        ("sg_gemm_epi", [i64] * 3 + [p, i64, i64, p, i64, i64, p, i64, nt, nt,
                                                     p, p]),
                        ("sg_gemm_epi_v", [p, p, p]),
                        ("sg_chain", [p, p, nt]),
                        ("sg_dots", [i64] * 3 + [p, i64, p, i64, p, i64, nt]),
                        ("sg_conv_fwd", [i64, p, i64, i64, i64, p, i64, p, i64, i64, p, i64,
                                         i64, nt]),
                        ("sg_conv_bwd_input", [i64, p, i64, i64, i64, i64, p, i64, p, i64,
                                               i64, p, i64, i64, nt]),
                        ("sg_conv_bwd_weight", [i64, p, i64, i64, i64, p, i64, p, i64, i64,
                                                i64, i64, i64, p, nt]),
                        ("lstm_seq_fwd", [i64, p, p, i64, p, p, p, p, p, p, nt]),
                        ("lstm_seq_bwd", [i64, p, p, i64, p, i64, p, p, p, p, p, nt])):
                    f = getattr(lib, name)
                    f.argtypes = args
                    f.restype = None
                fn = lib
        except Exception:  # noqa: BLE001 - any failure means: use numpy
            fn = None
    _STATE["fn"] = fn
    return fn


def _threads() -> int:
    """The kernels' thread count: ardor's intra-op threads (``set_num_threads``, else the
    count found at first use: asking the BLAS each time cost ~0.7 us per product), one in a
    forked child."""
    T = _STATE.get("threads")
    if T is None:
        from .. import _threads as T
        _STATE["threads"] = T
        _STATE["threads0"] = T.get_num_threads()
    return 1 if T._forked else T._current or _STATE["threads0"]


def _call(fn, a, b, out, acc: bool):
    M, K = a.shape
    N = b.shape[1]
    fn.sg_gemm(M, N, K, addr(a), a.strides[0] // 4, a.strides[1] // 4, addr(b),
       b.strides[0] // 4, b.strides[1] // 4, addr(out), out.strides[0] // 4,
       1 if acc else 0, _threads())


def _measure(fn) -> bool:
    """True when this GEMM beats numpy's on shapes like the convolution and linear ones it
    serves: each side warmed up, then the best of 5 runs, summed over shapes."""
    rng = np.random.default_rng(0)
    total = [0.0, 0.0]
    for M, K, N in ((64, 288, 8192), (128, 512, 512), (288, 1024, 256)):
        a = rng.standard_normal((M, K), dtype=np.float32)
        b = rng.standard_normal((K, N), dtype=np.float32)
        out = np.empty((M, N), np.float32)
        # ours first: OpenBLAS's workers spin for a while after each call and would take
        # the core our threads need
        for i, run in ((1, lambda: _call(fn, a, b, out, False)),
                       (0, lambda: np.matmul(a, b, out=out))):
            best = float("inf")
            for r in range(6):
                t = time.perf_counter()
                run()
                if r:
                    best = min(best, time.perf_counter() - t)
            total[i] += best
    return total[1] < 0.95 * total[0]


def _choice_path() -> str:
    from ..jit._kernels import cache_dir
    key = "|".join([_cpu_tag(), np.__version__, os.environ.get("OPENBLAS_CORETYPE", ""),
                    str(_threads())])
    return os.path.join(cache_dir(), "gemm_choice_" +
                        hashlib.sha256(key.encode()).hexdigest()[:16])


def _decide(fn) -> bool:
    """The measured choice, kept on disk beside the compiled kernels (per CPU, numpy, BLAS
    core type and thread count) so later processes skip the measurement and agree."""
    try:
        path = _choice_path()
        with open(path) as f:
            return f.read().strip() == "c"
    except (OSError, ImportError):
        pass
    use = _measure(fn)
    try:
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write("c" if use else "numpy")
        os.replace(tmp, path)
    except OSError:
        pass
    return use


def _fits(M: int, N: int, K: int) -> bool:
    """Every product numpy's OpenBLAS would run on more than one thread (M*N*K > 2^18):
    once this kernel serves a process it takes all of them, because OpenBLAS's workers spin
    for ~0.1 s after each threaded call and would halve the core our next call needs
    (measured: alternating the two cost +1.1 ms on a 1.2 ms product)."""
    return M * N * K > 1 << 18


def _usable(a) -> bool:
    return (type(a) is np.ndarray and a.dtype == np.float32 and a.ndim == 2
            and a.strides[0] % 4 == 0 and a.strides[1] % 4 == 0
            and a.strides[0] >= 0 and a.strides[1] >= 0)


def enabled() -> bool:
    """Whether the C kernels serve this process (decided once, at first use)."""
    use = _STATE.get("use")
    if use is None:
        fn = _load()
        choice = os.environ.get("ARDOR_GEMM", "auto")
        use = _STATE["use"] = fn is not None and choice != "numpy" and (
            choice == "c" or _decide(fn))
    return use


def matmul(a, b, out=None, accumulate: bool = False):
    """``a @ b`` (2-D float32; into ``out`` when given, ``out += a @ b`` with
    ``accumulate``) through the C GEMM, or None when it does not apply (use numpy)."""
    if _STATE.get("use") is False or not (_usable(a) and _usable(b)) \
            or not _fits(a.shape[0], b.shape[1], a.shape[1]) or not enabled():
        return None
    M, N = a.shape[0], b.shape[1]
    if N <= 14 and M >= 2 and not accumulate:
        r = _dots(a, b, out)
        if r is not None:
            return r
    if N < 32 <= M and not accumulate:
        # a narrow result fills few lanes of the 32-wide register tile: compute its
        # transpose (b^T a^T), whose rows are the long side
        rt = product(b.T, a.T)
        if rt is None:
            return None
        if out is None:
            return np.ascontiguousarray(rt.T)
        if out.shape != (M, N) or np.may_share_memory(out, a) or np.may_share_memory(out, b):
            return None
        out[...] = rt.T
        return out
    return product(a, b, out, accumulate)


def _dots(a, b, out):
    """``a @ b`` for a narrow ``b`` (at most 14 columns) as dot products of a's rows with
    b's columns (made contiguous first: a few KB), or None where that does not apply."""
    if a.strides[1] != 4 or _load() is None:
        return None
    M, K = a.shape
    N = b.shape[1]
    w = b.T if b.strides[0] == 4 else np.ascontiguousarray(b.T)    # (N, K), rows contiguous
    if out is None:
        out = np.empty((M, N), np.float32)
    elif not (_usable(out) and out.shape == (M, N) and out.strides[1] == 4) \
            or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None
    _STATE["fn"].sg_dots(M, N, K, addr(a), a.strides[0] // 4, addr(w),
                         w.strides[0] // 4, addr(out), out.strides[0] // 4,
                         _threads() if M * N * K >= 1 << 19 else 1)
    return out


def product(a, b, out=None, accumulate: bool = False):
    """:func:`matmul` for any shape, once the kernel is loaded (no size or speed rule)."""
    if not (_usable(a) and _usable(b)) or a.shape[1] != b.shape[0] or _load() is None:
        return None
    M, K = a.shape
    N = b.shape[1]
    if out is None:
        out = np.empty((M, N), np.float32)
    elif not (_usable(out) and out.shape == (M, N) and out.strides[1] == 4) \
            or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None
    if M and N:
        if K:
            _call(_STATE["fn"], a, b, out, accumulate)
        elif not accumulate:
            out.fill(0)
    return out


def epilogue_config(a, b):
    """The numbers :func:`run_epilogue` passes the C GEMM for ``a @ b`` (into a fresh
    contiguous result), or None where that GEMM would not serve this product."""
    if not (_usable(a) and _usable(b)) or a.shape[1] != b.shape[0] or not enabled():
        return None
    M, K = a.shape
    N = b.shape[1]
    if not (M and N and K) or not _fits(M, N, K):
        return None
    return (ctypes.c_int64 * 9)(M, N, K, a.strides[0] // 4, a.strides[1] // 4,
                                b.strides[0] // 4, b.strides[1] // 4, N, 1)


def run_epilogue(cfg, arrays, epilogue: int) -> None:
    """``C = A @ B`` through the C GEMM (``cfg`` from :func:`epilogue_config`; ``arrays``:
    pointers to A, B, a fresh C, then the epilogue's other arrays), with
    ``epilogue(arrays + 2, i0, j0, m, n)`` (a C function's address) run by the GEMM's
    threads on each finished block of C while it is in cache."""
    cfg[8] = _threads()
    _STATE["fn"].sg_gemm_epi_v(cfg, arrays, epilogue)


def run_chain(prog, arrays) -> None:
    """Run the C calls described by ``prog`` (an int64 array, see ``sg_chain``) over the
    pointers ``arrays``, on this process's kernel threads."""
    _STATE["fn"].sg_chain(prog, arrays, _threads())


def mm(xp, a, b, out=None):
    """``xp.matmul(a, b, out=out)``, through the C GEMM for 2-D float32 numpy operands where
    it serves (so a model's GEMMs do not alternate between two thread pools)."""
    if xp is np:
        r = matmul(a, b, out=out)
        if r is not None:
            return r
    return xp.matmul(a, b) if out is None else xp.matmul(a, b, out=out)


def empty(xp, shape, dtype):
    """``xp.empty`` whose data starts on a 64-byte line for numpy (numpy guarantees 16): the
    AVX-512 kernels' loads then never straddle two cache lines (measured: the LSTM sequence
    kernel 5.2 -> 4.4 ms on aligned buffers)."""
    dt = np.dtype(dtype)
    if xp is not np:
        return xp.empty(shape, dtype=dt)
    n = 1
    for v in shape:
        n *= int(v)
    buf = np.empty(n * dt.itemsize + 64, np.uint8)
    start = (-addr(buf)) % 64
    return buf[start:start + n * dt.itemsize].view(dt).reshape(shape)


def aligned_copy(xp, a, dtype):
    """``a.astype(dtype)`` (always a copy) into a buffer from :func:`empty`."""
    out = empty(xp, a.shape, dtype)
    out[...] = a
    return out


def conv_forward(xflat, w2, offs, L: int):
    """Stride-1 convolution over full-width columns: xflat (N, C, P) float32 (P covers
    every shifted window), w2 (Co, C*KK), ``offs`` the KK window offsets; returns
    (N, Co, L), or None (use numpy)."""
    if not (_f32c(xflat, w2) and enabled()):
        return None
    N, C, P = xflat.shape
    Co = w2.shape[0]
    o = np.asarray(offs, np.int64)
    y = np.empty((N, Co, L), np.float32)
    _STATE["fn"].sg_conv_fwd(N, addr(xflat), C * P, P, C, addr(w2), Co,
                             addr(o), o.size, L, addr(y), Co * L, L, _threads())
    return y


def conv_input_grad(gz, front: int, wt, offs, P: int):
    """Input gradient of :func:`conv_forward` over the (padded) input plane of P columns:
    gz (N, Co, Pz) holds the output gradient at columns front..front+L, zeros elsewhere;
    wt (C, Co*KK). Returns (N, C, P), or None (use numpy)."""
    if not (_f32c(gz, wt) and enabled()):
        return None
    N, Co, Pz = gz.shape
    C = wt.shape[0]
    o = np.asarray(offs, np.int64)
    gx = np.empty((N, C, P), np.float32)
    _STATE["fn"].sg_conv_bwd_input(N, addr(gz), Co * Pz, Pz, front, Co, addr(wt),
                                   C, addr(o), o.size, P, addr(gx), C * P, P,
                                   _threads())
    return gx


def conv_weight_grad(xflat, offs, gz, front: int, L: int):
    """Weight gradient of :func:`conv_forward`, transposed: (C*KK, Co), or None."""
    if not (_f32c(xflat, gz) and enabled()):
        return None
    N, C, P = xflat.shape
    Co, Pz = gz.shape[1:]
    o = np.asarray(offs, np.int64)
    gwt = np.empty((C * o.size, Co), np.float32)
    _STATE["fn"].sg_conv_bwd_weight(N, addr(xflat), C * P, P, C, addr(o), o.size,
                                    addr(gz), Co * Pz, Pz, front, Co, L,
                                    addr(gwt), _threads())
    return gwt


def _steps_arrays(steps):
    offs = np.asarray([o for o, _ in steps], np.int64)
    bs = np.asarray([b for _, b in steps], np.int64)
    return offs, bs


def lstm_forward(xb, w_hh, h, c, ws, out, steps) -> bool:
    """An LSTM layer's recurrence over all ``steps`` ((row offset, batch) in processing
    order) in one C call: W_hh packed once, one product and one fused pointwise pass per
    step, the threads meeting at a spinning barrier. False where it does not apply (the
    caller runs its per-step loop). See ``lstm_seq_fwd`` in the source for the layouts."""
    H = w_hh.shape[1]
    if not (_f32c(xb, w_hh, h, c, ws, out) and w_hh.shape[0] == 4 * H
            and xb.shape[1] == 4 * H and ws.shape[1] == 8 * H and out.shape[1] == H
            and h.shape[1] == H and c.shape == h.shape and enabled()):
        return False
    offs, bs = _steps_arrays(steps)
    _STATE["fn"].lstm_seq_fwd(len(steps), addr(offs), addr(bs), H, addr(xb),
                              addr(w_hh), addr(h), addr(c), addr(ws),
                              addr(out), _threads())
    return True


def lstm_backward(go, dh, dc, ws, w_hh, dg, steps) -> bool:
    """Backward through time of :func:`lstm_forward` (``steps`` last time step first);
    False where it does not apply."""
    H = w_hh.shape[1]
    if not (_f32c(go, dh, dc, ws, w_hh, dg) and go.shape[1] == H and w_hh.shape[0] == 4 * H
            and ws.shape[1] == 8 * H and dg.shape[1] == 4 * H and dh.shape[1] == H
            and dc.shape == dh.shape and enabled()):
        return False
    offs, bs = _steps_arrays(steps)
    _STATE["fn"].lstm_seq_bwd(len(steps), addr(offs), addr(bs), H, addr(go),
                              go.strides[0] // 4, addr(dh), addr(dc),
                              addr(ws), addr(w_hh), addr(dg), _threads())
    return True
