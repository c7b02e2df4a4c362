"""Small hand-written C kernels for eager ops whose numpy form is many passes or slow calls.

GELU's exact form needs erf, which numpy lacks: scipy's float32 erf costs ~10 ns an element
and the pure-numpy one more, so on a GPT-style block GELU alone outweighed the GEMMs. Here the
forward and the backward are one loop each, compiled by the system C compiler through
``ardor.jit``'s kernel cache (glibc's vectorized erff/expf when libmvec is there). Every entry
returns None when it does not apply or no compiler works, and the caller keeps its numpy path;
``ARDOR_NO_CKERNELS=1`` turns them off.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

from ._addr import addr

# The LSTM cell update for units [u0, u1) of one row, in C: one definition used by the
# per-step kernels here and by the whole-sequence kernels of _gemm.py.
LSTM_CELL = r"""
/* a: h_prev @ W_hh^T gates (4H), x: the input projection with both biases (4H); writes the
   workspace row wr = [i f g o | c_prev | c | tanh(c) | h_prev], the cell state cn, the
   output on and, when hn is given, the new hidden state (hn may be hp) */
static inline void lstm_cell_fwd(const float* restrict a, const float* restrict x,
                                 float* restrict wr, float* restrict cn, const float* hp,
                                 float* restrict on, float* hn, int64_t H, int64_t u0,
                                 int64_t u1) {
    #pragma omp simd
    for (int64_t j = u0; j < u1; j++) {
        float gi = 1.0f / (1.0f + expf(-(a[j] + x[j])));
        float gf = 1.0f / (1.0f + expf(-(a[H + j] + x[H + j])));
        float gg = tanhf(a[2 * H + j] + x[2 * H + j]);
        float go = 1.0f / (1.0f + expf(-(a[3 * H + j] + x[3 * H + j])));
        float cp = cn[j];
        float cc = gf * cp + gi * gg;
        float tc = tanhf(cc);
        wr[j] = gi; wr[H + j] = gf; wr[2 * H + j] = gg; wr[3 * H + j] = go;
        wr[4 * H + j] = cp; wr[5 * H + j] = cc; wr[6 * H + j] = tc; wr[7 * H + j] = hp[j];
        cn[j] = cc;
        float hh = go * tc;
        on[j] = hh;
        if (hn) hn[j] = hh;
    }
}
/* its backward for one row: dh (+ the output gradient gn) and dc in, the gate gradients d
   (4H) out, dc becomes the previous cell state's gradient */
static inline void lstm_cell_bwd(const float* restrict wr, const float* restrict gn,
                                 float* restrict dhn, float* restrict dcn, float* restrict d,
                                 int64_t H, int64_t u0, int64_t u1) {
    #pragma omp simd
    for (int64_t j = u0; j < u1; j++) {
        float i = wr[j], f = wr[H + j], g = wr[2 * H + j], o = wr[3 * H + j];
        float cp = wr[4 * H + j], tc = wr[6 * H + j];
        float dht = dhn[j] + gn[j];
        float dct = dcn[j] + dht * o * (1.0f - tc * tc);
        d[j] = dct * g * (i * (1.0f - i));
        d[H + j] = dct * cp * (f * (1.0f - f));
        d[2 * H + j] = dct * i * (1.0f - g * g);
        d[3 * H + j] = dht * tc * (o * (1.0f - o));
        dcn[j] = dct * f;
    }
}
"""

_SRC = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
/*SIMD*/
/*LSTM_CELL*/
/* torch's formulas (aten GeluKernel): y = x * 0.5 * (1 + erf(x / sqrt(2))),
   dx = dy * (cdf + x * pdf) with cdf = 0.5 * (1 + erf(x / sqrt(2))) */
void gelu_f32(const float* restrict x, float* restrict y, int64_t n) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v * 0.5f * (1.0f + erff(v * 0.70710678118654752440f));
    }
}
void gelu_bwd_f32(const float* restrict g, const float* restrict x, float* restrict y,
                  int64_t n) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752440f));
        float pdf = expf(-0.5f * v * v) * 0.39894228040143267794f;
        y[i] = g[i] * (cdf + v * pdf);
    }
}
/* layer norm over rows of D: out = (x - mean) * rstd * w + b; mean/rstd per row (double
   accumulation, two passes as torch's reference). w, b may be NULL. */
void ln_fwd_f32(const float* restrict x, const float* restrict w, const float* restrict b,
                float* restrict out, float* restrict mean, float* restrict rstd,
                int64_t n, int64_t D, float eps) {
    for (int64_t r = 0; r < n; r++) {
        const float* xr = x + r * D;
        float* o = out + r * D;
        double s = 0.0;
        #pragma omp simd reduction(+:s)
        for (int64_t j = 0; j < D; j++) s += xr[j];
        float m = (float)(s / (double)D);
        double v = 0.0;
        #pragma omp simd reduction(+:v)
        for (int64_t j = 0; j < D; j++) { float d = xr[j] - m; v += (double)d * d; }
        float rs = 1.0f / sqrtf((float)(v / (double)D) + eps);
        mean[r] = m; rstd[r] = rs;
        if (w && b) {
            #pragma omp simd
            for (int64_t j = 0; j < D; j++) o[j] = (xr[j] - m) * rs * w[j] + b[j];
        } else if (w) {
            #pragma omp simd
            for (int64_t j = 0; j < D; j++) o[j] = (xr[j] - m) * rs * w[j];
        } else if (b) {
            #pragma omp simd
            for (int64_t j = 0; j < D; j++) o[j] = (xr[j] - m) * rs + b[j];
        } else {
            #pragma omp simd
            for (int64_t j = 0; j < D; j++) o[j] = (xr[j] - m) * rs;
        }
    }
}
/* its backward: gx = rstd * (gxh - mean(gxh) - xhat * mean(gxh * xhat)), gxh = g * w;
   gw = sum_rows g * xhat, gb = sum_rows g (double accumulators gwd, gbd of length D). */
void ln_bwd_f32(const float* restrict g, const float* restrict x, const float* restrict w,
                const float* restrict mean, const float* restrict rstd, float* restrict gx,
                double* restrict gwd, double* restrict gbd, int64_t n, int64_t D) {
    for (int64_t r = 0; r < n; r++) {
        const float* gr = g + r * D;
        const float* xr = x + r * D;
        float* o = gx + r * D;
        float m = mean[r], rs = rstd[r];
        double s1 = 0.0, s2 = 0.0;
        #pragma omp simd reduction(+:s1, s2)
        for (int64_t j = 0; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            float gh = w ? gr[j] * w[j] : gr[j];
            s1 += gh;
            s2 += (double)gh * xh;
            gwd[j] += (double)gr[j] * xh;
            gbd[j] += gr[j];
        }
        float a = (float)(s1 / (double)D), c = (float)(s2 / (double)D);
        #pragma omp simd
        for (int64_t j = 0; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            float gh = w ? gr[j] * w[j] : gr[j];
            o[j] = rs * (gh - a - xh * c);
        }
    }
}

/* threshold/relu backward, torch's threshold_backward: x <= thr ? 0 : g (NaN x passes g) */
void thr_bwd_f32(const float* restrict g, const float* restrict x, float* restrict y,
                 int64_t n, float thr) {
    #pragma omp simd
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] <= thr ? 0.0f : g[i];
}

/* One LSTM step's pointwise part (torch's gate order i, f, g, o), after the step's GEMM:
   gb (b, 4H) holds h_prev @ W_hh^T, xb (b, 4H) the input projection with both biases, c
   (b, H) the cell state (updated in place), hp (b, H) the previous hidden state. The
   workspace row is [i f g o | c_prev | c | tanh(c) | h_prev] (ldw floats apart); h goes to
   out (ldo apart). The cell itself is LSTM_CELL (shared with the sequence kernel). */
void lstm_fwd_f32(const float* restrict gb, const float* restrict xb, float* restrict c,
                  const float* restrict hp, float* restrict ws, float* restrict out, int64_t b,
                  int64_t H, int64_t ldw, int64_t ldo) {
    for (int64_t n = 0; n < b; n++)
        lstm_cell_fwd(gb + n * 4 * H, xb + n * 4 * H, ws + n * ldw, c + n * H, hp + n * H,
                      out + n * ldo, 0, H, 0, H);
}
/* Its backward: dh (b, H) += go rows (ldg apart) on entry; gate gradients to dg (b, 4H);
   dc (b, H) becomes the gradient for the previous cell state. */
void lstm_bwd_f32(float* restrict dh, const float* restrict go, float* restrict dc,
                  const float* restrict ws, float* restrict dg, int64_t b, int64_t H,
                  int64_t ldw, int64_t ldg) {
    for (int64_t n = 0; n < b; n++)
        lstm_cell_bwd(ws + n * ldw, go + n * ldg, dh + n * H, dc + n * H, dg + n * 4 * H, H,
                      0, H);
}
/* softmax over rows of D (the last dim): max-shifted as the numpy form (a row whose max is
   not finite is shifted by 0, giving torch's nan for all -inf rows) */
void softmax_f32(const float* restrict x, float* restrict y, int64_t n, int64_t D, int nt) {
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const float* xr = x + r * D;
        float* yr = y + r * D;
        float m = -INFINITY;
        for (int64_t j = 0; j < D; j++) m = xr[j] > m ? xr[j] : m;
        if (!isfinite(m)) m = 0.0f;
        float s = 0.0f;
        #pragma omp simd reduction(+:s)
        for (int64_t j = 0; j < D; j++) { float e = expf(xr[j] - m); yr[j] = e; s += e; }
        float inv = 1.0f / s;
        #pragma omp simd
        for (int64_t j = 0; j < D; j++) yr[j] *= inv;
    }
}
/* cross entropy with class-index targets over n rows of D float32 logits (no class
   weights, no label smoothing): logp = x - max - log(sum(exp(x - max))) as the numpy form,
   loss[r] = -logp[r, t[r]] (0 at rows whose target is `ignore`). Returns the number of
   counted rows, or -1 - r for the first row r whose target is out of range (nothing
   else is trusted then: the caller raises torch's error). */
int64_t ce_fwd_f32(const float* restrict x, const int64_t* restrict t, float* restrict logp,
                   float* restrict loss, int64_t n, int64_t D, int64_t ignore) {
    int64_t cnt = 0;
    for (int64_t r = 0; r < n; r++) {
        if (t[r] == ignore) continue;
        if (t[r] < 0 || t[r] >= D) return -1 - r;
        cnt++;
    }
    for (int64_t r = 0; r < n; r++) {
        const float* xr = x + r * D;
        float* lr = logp + r * D;
        float m = xr[0];
        for (int64_t j = 1; j < D; j++) { float v = xr[j]; m = (v > m || v != v) ? v : m; }
        float s = 0.0f;
        for (int64_t j = 0; j < D; j++) s += expf(xr[j] - m);
        float lse = logf(s);
        for (int64_t j = 0; j < D; j++) lr[j] = (xr[j] - m) - lse;
        loss[r] = t[r] == ignore ? 0.0f : -lr[t[r]];
    }
    return cnt;
}
/* its gradient wrt the logits: gx[r] = coef_r * (exp(logp[r]) - onehot(t[r])), coef_r =
   g[r * gs] / div (0 at ignored rows) */
void ce_bwd_f32(const float* restrict g, int64_t gs, const float* restrict logp,
                const int64_t* restrict t, float* restrict gx, int64_t n, int64_t D,
                int64_t ignore, float div) {
    for (int64_t r = 0; r < n; r++) {
        float coef = t[r] == ignore ? 0.0f : g[r * gs] / div;
        const float* lr = logp + r * D;
        float* gr = gx + r * D;
        for (int64_t j = 0; j < D; j++) gr[j] = expf(lr[j]) * coef;
        if (t[r] != ignore) gr[t[r]] -= coef;
    }
}
static inline void maxpool_one(const float* restrict xp, float* restrict yp,
                               int64_t* restrict ip, int64_t H, int64_t W, int64_t h0,
                               int64_t w0, int64_t kh, int64_t kw, int64_t dh, int64_t dw) {
    int64_t ia = h0 < 0 ? (-h0 + dh - 1) / dh : 0;                /* in-bounds kernel rows */
    int64_t ib = (H - h0 + dh - 1) / dh;
    if (ib > kh) ib = kh;
    int64_t ja = w0 < 0 ? (-w0 + dw - 1) / dw : 0;
    int64_t jb = (W - w0 + dw - 1) / dw;
    if (jb > kw) jb = kw;
    int64_t bi = (h0 + ia * dh) * W + w0 + ja * dw;
    float best = xp[bi];
    for (int64_t i = ia; i < ib; i++)
        for (int64_t j = (i == ia ? ja + 1 : ja); j < jb; j++) {
            int64_t at = (h0 + i * dh) * W + w0 + j * dw;
            float v = xp[at];
            if (v > best || v != v) { best = v; bi = at; }
        }
    *yp = best;
    *ip = bi;
}

#define POOL_CHUNK 64
static void maxpool_plane(const float* restrict xp, float* restrict yp, int64_t* restrict ip,
                          int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t kh,
                          int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                          int64_t dh, int64_t dw) {
    /* outputs whose windows lie inside the row run vectorized across the row, one kernel
       offset at a time with selects (a branch per element mispredicts on random data);
       the border ones run the scalar window walk */
    int64_t owa = (pw + sw - 1) / sw;
    int64_t owb = (W - 1 - (kw - 1) * dw + pw) / sw + 1;
    if (W - 1 - (kw - 1) * dw + pw < 0) owb = 0;
    if (owb > OW) owb = OW;
    if (owa > owb) owa = owb;
    float best[POOL_CHUNK];
    int64_t bidx[POOL_CHUNK];
    for (int64_t oh = 0; oh < OH; oh++) {
        int64_t h0 = oh * sh - ph;
        int64_t ia = h0 < 0 ? (-h0 + dh - 1) / dh : 0;
        int64_t ib = (H - h0 + dh - 1) / dh;
        if (ib > kh) ib = kh;
        for (int64_t ow = 0; ow < owa; ow++)
            maxpool_one(xp, yp + oh * OW + ow, ip + oh * OW + ow, H, W, h0, ow * sw - pw,
                        kh, kw, dh, dw);
        for (int64_t c0 = owa; c0 < owb; c0 += POOL_CHUNK) {
            int64_t n = owb - c0 < POOL_CHUNK ? owb - c0 : POOL_CHUNK;
            int64_t r0 = (h0 + ia * dh) * W + c0 * sw - pw;
            for (int64_t t = 0; t < n; t++) { bidx[t] = r0 + t * sw; best[t] = xp[bidx[t]]; }
            for (int64_t i = ia; i < ib; i++)
                for (int64_t j = (i == ia ? 1 : 0); j < kw; j++) {
                    int64_t base = (h0 + i * dh) * W + c0 * sw - pw + j * dw;
                    #pragma omp simd
                    for (int64_t t = 0; t < n; t++) {
                        int64_t at = base + t * sw;
                        float v = xp[at], b = best[t];
                        /* plain selects, each one condition: gcc vectorizes these into
                           compares and blends (a combined "a || b" stayed a branch) */
                        float nb = v > b ? v : b;
                        int64_t ni = v > b ? at : bidx[t];
                        best[t] = v != v ? v : nb;
                        bidx[t] = v != v ? at : ni;
                    }
                }
            for (int64_t t = 0; t < n; t++) {
                yp[oh * OW + c0 + t] = best[t];
                ip[oh * OW + c0 + t] = bidx[t];
            }
        }
        for (int64_t ow = owb; ow < OW; ow++)
            maxpool_one(xp, yp + oh * OW + ow, ip + oh * OW + ow, H, W, h0, ow * sw - pw,
                        kh, kw, dh, dw);
    }
}
/* 2-d max pooling over planes of (H, W), torch's CPU kernel rule: the window's first
   in-bounds element starts, a later one wins when strictly greater or NaN; indices are flat
   within the unpadded plane */
void maxpool2d_f32(const float* restrict x, float* restrict y, int64_t* restrict ind,
                   int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                   int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                   int64_t dh, int64_t dw, int nt) {
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        maxpool_plane(x + p * H * W, y + p * OH * OW, ind + p * OH * OW, H, W, OH, OW,
                      kh, kw, sh, sw, ph, pw, dh, dw);
}
/* out (planes, S) = 0, then out[p, ind[p, o]] += g[p, o] (max pooling's backward), or
   = g[p, o] with assign (max_unpool: the last of repeated indices wins, as numpy's) */
void pool_scatter_f32(const float* restrict g, const int64_t* restrict ind,
                      float* restrict out, int64_t planes, int64_t O, int64_t S, int assign,
                      int nt) {
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float* op = out + p * S;
        const float* gp = g + p * O;
        const int64_t* ip = ind + p * O;
        for (int64_t s = 0; s < S; s++) op[s] = 0.0f;
        /* an index outside the plane (none comes from the pooling forward) is dropped, never
           written out of bounds */
        if (assign) {
            for (int64_t o = 0; o < O; o++)
                if ((uint64_t)ip[o] < (uint64_t)S) op[ip[o]] = gp[o];
        } else {
            for (int64_t o = 0; o < O; o++)
                if ((uint64_t)ip[o] < (uint64_t)S) op[ip[o]] += gp[o];
        }
    }
}
/* Direct 2-d convolution, stride 1, for few input taps (C*KH*KW small): each output row is
   the bias plus one scaled, shifted input row per tap, so nothing is unfolded and the output
   is written once, in place. x is the zero-padded input (N, C, Hp, Wp); w (Co, C, KH, KW). */
#define DC_CO 8
#ifdef __AVX512F__
#include <immintrin.h>
/* one output row (OW <= 64) kept in registers across all taps: loaded never, stored once */
static inline void dconv_row512(const float* restrict xrow, int64_t xs_c, int64_t Wp,
                                const float* restrict wco, float bv, float* restrict yr,
                                int64_t C, int64_t KH, int64_t KW, int64_t dh, int64_t dw,
                                int64_t OW) {
    __mmask16 m[4];
    for (int v = 0; v < 4; v++) {
        int64_t left = OW - 16 * v;
        m[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
    }
    __m512 a0 = _mm512_set1_ps(bv), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t ci = 0; ci < C; ci++)
        for (int64_t kh = 0; kh < KH; kh++) {
            const float* xr0 = xrow + ci * xs_c + kh * dh * Wp;
            for (int64_t kw = 0; kw < KW; kw++) {
                const float* xr = xr0 + kw * dw;
                __m512 wv = _mm512_set1_ps(*wco++);
                a0 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[0], xr), a0);
                if (m[1]) a1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[1], xr + 16), a1);
                if (m[2]) a2 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[2], xr + 32), a2);
                if (m[3]) a3 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m[3], xr + 48), a3);
            }
        }
    _mm512_mask_storeu_ps(yr, m[0], a0);
    if (m[1]) _mm512_mask_storeu_ps(yr + 16, m[1], a1);
    if (m[2]) _mm512_mask_storeu_ps(yr + 32, m[2], a2);
    if (m[3]) _mm512_mask_storeu_ps(yr + 48, m[3], a3);
}
#endif
void dconv2d_fwd_f32(const float* restrict x, const float* restrict w, const float* b,
                     float* restrict y, int64_t N, int64_t C, int64_t Hp, int64_t Wp,
                     int64_t Co, int64_t KH, int64_t KW, int64_t dh, int64_t dw, int64_t OH,
                     int64_t OW, int nt) {
    int64_t cob = (Co + DC_CO - 1) / DC_CO;
#ifdef __AVX512F__
    if (OW <= 64) {
        #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
        for (int64_t it = 0; it < N * Co; it++) {
            int64_t n = it / Co, co = it % Co;
            const float* wco = w + co * C * KH * KW;
            float bv = b ? b[co] : 0.0f;
            for (int64_t oh = 0; oh < OH; oh++)
                dconv_row512(x + (n * C * Hp + oh) * Wp, Hp * Wp, Wp, wco, bv,
                             y + (it * OH + oh) * OW, C, KH, KW, dh, dw, OW);
        }
        return;
    }
#endif
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t it = 0; it < N * cob; it++) {
        int64_t n = it / cob, c0 = (it % cob) * DC_CO;
        int64_t c1 = c0 + DC_CO < Co ? c0 + DC_CO : Co;
        for (int64_t oh = 0; oh < OH; oh++) {
            for (int64_t co = c0; co < c1; co++) {
                float* yr = y + ((n * Co + co) * OH + oh) * OW;
                float bv = b ? b[co] : 0.0f;
                for (int64_t ow = 0; ow < OW; ow++) yr[ow] = bv;
            }
            for (int64_t ci = 0; ci < C; ci++)
                for (int64_t kh = 0; kh < KH; kh++) {
                    const float* xr0 = x + ((n * C + ci) * Hp + oh + kh * dh) * Wp;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const float* xr = xr0 + kw * dw;
                        for (int64_t co = c0; co < c1; co++) {
                            float wv = w[((co * C + ci) * KH + kh) * KW + kw];
                            float* yr = y + ((n * Co + co) * OH + oh) * OW;
                            #pragma omp simd
                            for (int64_t ow = 0; ow < OW; ow++) yr[ow] += wv * xr[ow];
                        }
                    }
                }
        }
    }
}
/* its weight gradient: gw[co, ci, kh, kw] = sum over n, oh, ow of
   gy[n, co, oh, ow] * x[n, ci, oh + kh*dh, ow + kw*dw] (the bias gradient is channel_sum) */
void dconv2d_bwd_w_f32(const float* restrict x, const float* restrict gy, float* restrict gw,
                       int64_t N, int64_t C, int64_t Hp, int64_t Wp, int64_t Co,
                       int64_t KH, int64_t KW, int64_t dh, int64_t dw, int64_t OH, int64_t OW,
                       int nt) {
    int64_t T = C * KH * KW;
#ifdef __AVX512F__
    if (OW <= 32 && T <= 12) {
        /* every tap's sum in registers at once (up to 12 taps x 2 vectors): each gy row is
           read once and each input row once per tap, from cache */
        __mmask16 m0 = OW >= 16 ? 0xFFFF : (__mmask16)((1u << OW) - 1u);
        __mmask16 m1 = OW <= 16 ? 0 : (__mmask16)((1u << (OW - 16)) - 1u);
        int64_t toff[12];
        for (int64_t t = 0; t < T; t++) {
            int64_t ci = t / (KH * KW), kh = (t / KW) % KH, kw = t % KW;
            toff[t] = (ci * Hp + kh * dh) * Wp + kw * dw;
        }
        #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
        for (int64_t co = 0; co < Co; co++) {
            __m512 z = _mm512_setzero_ps();
            __m512 a[12][2];
            #pragma GCC unroll 12
            for (int t = 0; t < 12; t++) { a[t][0] = z; a[t][1] = z; }
            for (int64_t n = 0; n < N; n++)
                for (int64_t oh = 0; oh < OH; oh++) {
                    const float* g = gy + ((n * Co + co) * OH + oh) * OW;
                    const float* xb = x + (n * C * Hp + oh) * Wp;
                    __m512 g0 = _mm512_maskz_loadu_ps(m0, g);
                    __m512 g1 = _mm512_maskz_loadu_ps(m1, g + 16);
                    #pragma GCC unroll 12
                    for (int t = 0; t < 12; t++) {
                        if (t < T) {
                            const float* xr = xb + toff[t];
                            a[t][0] = _mm512_fmadd_ps(g0, _mm512_maskz_loadu_ps(m0, xr), a[t][0]);
                            a[t][1] = _mm512_fmadd_ps(g1, _mm512_maskz_loadu_ps(m1, xr + 16),
                                                      a[t][1]);
                        }
                    }
                }
            for (int t = 0; t < T; t++)
                gw[co * T + t] = _mm512_reduce_add_ps(_mm512_add_ps(a[t][0], a[t][1]));
        }
        return;
    }
    if (OW <= 64) {
        /* one tap at a time, its sum over all rows held in registers; the co plane of gy
           and the images stay in cache across the taps */
        __mmask16 m[4];
        for (int v = 0; v < 4; v++) {
            int64_t left = OW - 16 * v;
            m[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
        }
        #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
        for (int64_t co = 0; co < Co; co++) {
            for (int64_t t = 0; t < T; t++) {
                int64_t ci = t / (KH * KW), kh = (t / KW) % KH, kw = t % KW;
                /* rows two at a time into separate accumulators: twice the independent
                   FMA chains, so the adds do not wait on each other's latency */
                __m512 z = _mm512_setzero_ps();
                __m512 a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
#define DC_ROW(ACC0, ACC1, ACC2, ACC3, r)                                                   \
                {                                                                          \
                    int64_t n_ = n, oh_ = (r);                                             \
                    const float* g = gy + ((n_ * Co + co) * OH + oh_) * OW;                \
                    __m512 g0 = _mm512_maskz_loadu_ps(m[0], g);                            \
                    __m512 g1 = m[1] ? _mm512_maskz_loadu_ps(m[1], g + 16) : z;            \
                    __m512 g2 = m[2] ? _mm512_maskz_loadu_ps(m[2], g + 32) : z;            \
                    __m512 g3 = m[3] ? _mm512_maskz_loadu_ps(m[3], g + 48) : z;            \
                    const float* xr = x + ((n_ * C + ci) * Hp + oh_ + kh * dh) * Wp        \
                                      + kw * dw;                                           \
                    ACC0 = _mm512_fmadd_ps(g0, _mm512_maskz_loadu_ps(m[0], xr), ACC0);     \
                    if (m[1]) ACC1 = _mm512_fmadd_ps(                                       \
                        g1, _mm512_maskz_loadu_ps(m[1], xr + 16), ACC1);                   \
                    if (m[2]) ACC2 = _mm512_fmadd_ps(                                       \
                        g2, _mm512_maskz_loadu_ps(m[2], xr + 32), ACC2);                   \
                    if (m[3]) ACC3 = _mm512_fmadd_ps(                                       \
                        g3, _mm512_maskz_loadu_ps(m[3], xr + 48), ACC3);                   \
                }
                for (int64_t n = 0; n < N; n++) {
                    int64_t oh = 0;
                    for (; oh + 1 < OH; oh += 2) {
                        DC_ROW(a0, a1, a2, a3, oh)
                        DC_ROW(b0, b1, b2, b3, oh + 1)
                    }
                    if (oh < OH) DC_ROW(a0, a1, a2, a3, oh)
                }
#undef DC_ROW
                a0 = _mm512_add_ps(a0, b0); a1 = _mm512_add_ps(a1, b1);
                a2 = _mm512_add_ps(a2, b2); a3 = _mm512_add_ps(a3, b3);
                gw[co * T + t] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1),
                                                                    _mm512_add_ps(a2, a3)));
            }
        }
        return;
    }
#endif
    /* per-lane partial sums over rows (acc[t][ow]), reduced across lanes once at the end:
       the inner loops are plain vector FMAs, no horizontal reduction per row */
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t co = 0; co < Co; co++) {
        float* acc = calloc((size_t)T * OW, sizeof(float));
        for (int64_t n = 0; n < N; n++)
            for (int64_t oh = 0; oh < OH; oh++) {
                const float* g = gy + ((n * Co + co) * OH + oh) * OW;
                for (int64_t ci = 0; ci < C; ci++)
                    for (int64_t kh = 0; kh < KH; kh++) {
                        const float* xr0 = x + ((n * C + ci) * Hp + oh + kh * dh) * Wp;
                        for (int64_t kw = 0; kw < KW; kw++) {
                            const float* xr = xr0 + kw * dw;
                            float* a = acc + ((ci * KH + kh) * KW + kw) * OW;
                            #pragma omp simd
                            for (int64_t ow = 0; ow < OW; ow++) a[ow] += g[ow] * xr[ow];
                        }
                    }
            }
        for (int64_t t = 0; t < T; t++) {
            double s = 0.0;
            for (int64_t ow = 0; ow < OW; ow++) s += acc[t * OW + ow];
            gw[co * T + t] = (float)s;
        }
        free(acc);
    }
}
/* its input gradient into the padded frame: gxp[n, ci, oh + kh*dh, ow + kw*dw] +=
   w[co, ci, kh, kw] * gy[n, co, oh, ow] (gxp zeroed here) */
void dconv2d_bwd_x_f32(const float* restrict gy, const float* restrict w, float* restrict gxp,
                       int64_t N, int64_t C, int64_t Hp, int64_t Wp, int64_t Co, int64_t KH,
                       int64_t KW, int64_t dh, int64_t dw, int64_t OH, int64_t OW, int nt) {
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t it = 0; it < N * C; it++) {
        int64_t n = it / C, ci = it % C;
        float* gp = gxp + it * Hp * Wp;
        for (int64_t i = 0; i < Hp * Wp; i++) gp[i] = 0.0f;
        for (int64_t co = 0; co < Co; co++)
            for (int64_t oh = 0; oh < OH; oh++) {
                const float* g = gy + ((n * Co + co) * OH + oh) * OW;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        float wv = w[((co * C + ci) * KH + kh) * KW + kw];
                        float* r = gp + (oh + kh * dh) * Wp + kw * dw;
                        #pragma omp simd
                        for (int64_t ow = 0; ow < OW; ow++) r[ow] += wv * g[ow];
                    }
            }
    }
}
/* out[c] = sum over n, s of x[n, c, s] for a contiguous (N, C, S) array (a bias gradient):
   blocks of 256 summed in float lanes, blocks added in double */
void channel_sum_f32(const float* restrict x, float* restrict out, int64_t N, int64_t C,
                     int64_t S, int nt) {
    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double acc = 0.0;
        for (int64_t n = 0; n < N; n++) {
            const float* p = x + (n * C + c) * S;
            for (int64_t s0 = 0; s0 < S; s0 += 256) {
                int64_t s1 = s0 + 256 < S ? s0 + 256 : S;
                float b = 0.0f;
                #pragma omp simd reduction(+:b)
                for (int64_t s = s0; s < s1; s++) b += p[s];
                acc += b;
            }
        }
        out[c] = (float)acc;
    }
}
"""
_SRC = _SRC.replace("/*LSTM_CELL*/", LSTM_CELL)

_LIB: list = []   # [lib or None] once loaded
_MIN = 1024       # below this a ctypes call costs more than numpy's passes


def _lib():
    if not _LIB:
        lib = None
        if not os.environ.get("ARDOR_NO_CKERNELS"):
            try:
                from ..jit import _kernels as K
                lib = K._compile_c(_SRC.replace("/*SIMD*/", K._SIMD_DECLS), quiet=True) \
                    or K._compile_c(_SRC.replace("/*SIMD*/", ""), quiet=True)
            except Exception:  # noqa: BLE001 - any failure means: use numpy
                lib = None
        if lib is not None:
            p = ctypes.c_void_p
            i64 = ctypes.c_int64
            for name, args in (("gelu_f32", [p] * 2 + [i64]), ("gelu_bwd_f32", [p] * 3 + [i64]),
                               ("thr_bwd_f32", [p] * 3 + [i64, ctypes.c_float]),
                               ("ln_fwd_f32", [p] * 6 + [i64, i64, ctypes.c_float]),
                               ("ln_bwd_f32", [p] * 8 + [i64, i64]),
                               ("lstm_fwd_f32", [p] * 6 + [i64] * 4),
                               ("lstm_bwd_f32", [p] * 5 + [i64] * 4),
                               ("softmax_f32", [p] * 2 + [i64] * 2 + [ctypes.c_int]),
                               ("ce_fwd_f32", [p] * 4 + [i64] * 3),
                               ("ce_bwd_f32", [p, i64] + [p] * 3 + [i64] * 3
                                + [ctypes.c_float]),
                               ("maxpool2d_f32", [p] * 3 + [i64] * 13 + [ctypes.c_int]),
                               ("pool_scatter_f32", [p] * 3 + [i64] * 3 + [ctypes.c_int] * 2),
                               ("dconv2d_fwd_f32", [p] * 4 + [i64] * 11 + [ctypes.c_int]),
                               ("dconv2d_bwd_w_f32", [p] * 3 + [i64] * 11 + [ctypes.c_int]),
                               ("dconv2d_bwd_x_f32", [p] * 3 + [i64] * 11 + [ctypes.c_int]),
                               ("channel_sum_f32", [p] * 2 + [i64] * 3 + [ctypes.c_int])):
                fn = getattr(lib, name)
                fn.restype = None
                fn.argtypes = args
            lib.ce_fwd_f32.restype = i64
        _LIB.append(lib)
    return _LIB[0]


def available() -> bool:
    """True when the kernels are compiled and loaded (else callers keep their numpy path)."""
    return _lib() is not None


def _ok(*arrays) -> bool:
    a0 = arrays[0]
    if type(a0) is not np.ndarray or a0.size < _MIN:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != np.float32 or not a.flags.c_contiguous \
                or a.shape != a0.shape:
            return False
    return True


def gelu(x):
    """Exact GELU of a float32 array, or None (use numpy)."""
    if not _ok(x):
        return None
    lib = _lib()
    if lib is None:
        return None
    y = np.empty_like(x)
    lib.gelu_f32(addr(x), addr(y), x.size)
    return y


def gelu_backward(g, x):
    """``g * gelu'(x)`` for float32 arrays of one shape, or None (use numpy)."""
    if not _ok(x, g):
        return None
    lib = _lib()
    if lib is None:
        return None
    y = np.empty_like(x)
    lib.gelu_bwd_f32(addr(g), addr(x), addr(y), x.size)
    return y


def threshold_backward(g, x, threshold: float):
    """torch's threshold_backward (``x <= threshold ? 0 : g``) for float32 arrays of one
    shape, or None (use numpy)."""
    if not _ok(x, g):
        return None
    lib = _lib()
    if lib is None:
        return None
    y = np.empty_like(x)
    lib.thr_bwd_f32(addr(g), addr(x), addr(y), x.size, float(threshold))
    return y


def softmax_lastdim(x):
    """softmax over the last dim of a contiguous float32 array, or None (use numpy)."""
    if not _ok(x) or x.ndim == 0 or x.shape[-1] == 0:
        return None
    lib = _lib()
    if lib is None:
        return None
    y = np.empty_like(x)
    D = x.shape[-1]
    lib.softmax_f32(addr(x), addr(y), x.size // D, D, _nthreads(x.size * 8))
    return y


def _ce_ok(x, t) -> bool:
    return type(x) is np.ndarray and x.dtype == np.float32 and x.ndim == 2 \
        and x.flags.c_contiguous and x.shape[1] > 0 and type(t) is np.ndarray \
        and t.dtype == np.int64 and t.flags.c_contiguous and t.shape == x.shape[:1]


def cross_entropy(x, t, ignore_index: int, reduction: str):
    """(loss, log_probs) of cross entropy with class-index targets ``t`` (int64) over the
    rows of a contiguous float32 (N, C) array, without class weights or label smoothing;
    None where the kernel does not apply or a target is out of range (the caller's numpy
    path then raises torch's error). One pass instead of ~25 numpy calls."""
    lib = _lib() if _ce_ok(x, t) else None
    if lib is None:
        return None
    n, D = x.shape
    logp = np.empty_like(x)
    loss = np.empty(n, np.float32)
    cnt = lib.ce_fwd_f32(addr(x), addr(t), addr(logp), addr(loss),
                         n, D, ignore_index)
    if cnt < 0:
        return None
    if reduction == "none":
        return loss, logp
    total = loss.sum(dtype=np.float32)
    if reduction == "sum":
        return total, logp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float32(total) / np.float32(cnt), logp


def cross_entropy_backward(g, logp, t, ignore_index: int, reduction: str):
    """The logits' gradient for :func:`cross_entropy` (``g``: the loss's gradient, 0-d or
    per row), or None (use numpy)."""
    lib = _lib() if _ce_ok(logp, t) else None
    if lib is None or type(g) is not np.ndarray or g.dtype != np.float32:
        return None
    g = np.ascontiguousarray(g)
    if g.size != (1 if reduction != "none" else t.size):
        return None
    div = 1.0
    if reduction == "mean":
        div = float(np.count_nonzero(t != ignore_index))
    gx = np.empty_like(logp)
    lib.ce_bwd_f32(addr(g), 0 if reduction != "none" else 1, addr(logp),
                   addr(t), addr(gx), t.size, logp.shape[1], ignore_index, div)
    return gx


def _ptr(a):
    return None if a is None else addr(a)


def _vec(a, D: int) -> bool:
    return a is None or (type(a) is np.ndarray and a.dtype == np.float32
                         and a.flags.c_contiguous and a.size == D)


def layer_norm(x, w, b, k: int, eps: float):
    """(out, mean, rstd) of layer norm over the last ``k`` dims of a contiguous float32
    array (mean/rstd keep dims, as the numpy form), or None (use numpy)."""
    if type(x) is not np.ndarray or x.dtype != np.float32 or not x.flags.c_contiguous \
            or x.ndim < k or x.size == 0:
        return None
    D = int(np.prod(x.shape[x.ndim - k:]))
    if D == 0 or not (_vec(w, D) and _vec(b, D)):
        return None
    lib = _lib()
    if lib is None:
        return None
    n = x.size // D
    stat = x.shape[:x.ndim - k] + (1,) * k
    out = np.empty_like(x)
    mean = np.empty(stat, np.float32)
    rstd = np.empty(stat, np.float32)
    lib.ln_fwd_f32(addr(x), _ptr(w), _ptr(b), addr(out), addr(mean),
                   addr(rstd), n, D, float(eps))
    return out, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd, k: int):
    """(gx, gw, gb) of :func:`layer_norm`, or None (use numpy). gw/gb are None without w."""
    if not (type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous
            and type(g) is np.ndarray and g.dtype == np.float32 and g.flags.c_contiguous
            and g.shape == x.shape and x.size and x.ndim > k):
        return None
    D = int(np.prod(x.shape[x.ndim - k:]))
    n = x.size // D
    for s in (mean, rstd):
        if not (type(s) is np.ndarray and s.dtype == np.float32 and s.flags.c_contiguous
                and s.size == n):
            return None
    if D == 0 or not _vec(w, D):
        return None
    lib = _lib()
    if lib is None:
        return None
    gx = np.empty_like(x)
    gwd = np.zeros(D)
    gbd = np.zeros(D)
    lib.ln_bwd_f32(addr(g), addr(x), _ptr(w), addr(mean),
                   addr(rstd), addr(gx), addr(gwd), addr(gbd), n, D)
    shape = x.shape[x.ndim - k:]
    return gx, gwd.astype(np.float32).reshape(shape), gbd.astype(np.float32).reshape(shape)


def _rows(a, width: int) -> bool:
    """float32 numpy 2-D array whose rows are contiguous runs of ``width`` elements."""
    return (type(a) is np.ndarray and a.dtype == np.float32 and a.ndim == 2
            and a.shape[1] >= width and a.strides[1] == 4 and a.strides[0] % 4 == 0)


def lstm_step(gb, xb, c, hp, ws, out) -> bool:
    """One LSTM step's pointwise part in one loop (see the C source); False if it does not
    apply (the caller runs its numpy form). gb (b, 4H) (h_prev's gate products) and xb
    (b, 4H) (the input projection), c, hp (b, H) contiguous; ws and out row-strided views."""
    b, h4 = gb.shape
    H = h4 // 4
    if not (_rows(ws, 8 * H) and _rows(out, H) and _rows(gb, h4) and _rows(c, H)
            and _rows(hp, H) and gb.flags.c_contiguous and c.flags.c_contiguous
            and _rows(xb, h4) and xb.flags.c_contiguous and xb.shape[0] == b
            and hp.flags.c_contiguous and ws.shape[0] == out.shape[0] == c.shape[0] == b
            and hp.shape[0] == b):
        return False
    lib = _lib()
    if lib is None:
        return False
    lib.lstm_fwd_f32(addr(gb), addr(xb), addr(c), addr(hp),
                     addr(ws), addr(out), b, H, ws.strides[0] // 4,
                     out.strides[0] // 4)
    return True


def lstm_step_backward(dh, go, dc, ws, dg) -> bool:
    """The backward of :func:`lstm_step` (see the C source); False if it does not apply."""
    b, H = dh.shape
    if not (_rows(ws, 8 * H) and _rows(go, H) and _rows(dg, 4 * H) and _rows(dh, H)
            and _rows(dc, H) and dh.flags.c_contiguous and dc.flags.c_contiguous
            and dg.flags.c_contiguous and ws.shape[0] == go.shape[0] == dc.shape[0] == b
            and dg.shape[0] == b):
        return False
    lib = _lib()
    if lib is None:
        return False
    lib.lstm_bwd_f32(addr(dh), addr(go), addr(dc), addr(ws),
                     addr(dg), b, H, ws.strides[0] // 4, go.strides[0] // 4)
    return True


def _nthreads(work: int) -> int:
    if work < 1 << 16:
        return 1
    from . import _gemm
    return _gemm._threads()


def max_pool2d(x, k, s, p, d, out):
    """(values, flat indices) of 2-d max pooling of a contiguous float32 (N, C, H, W) array
    to spatial size ``out``, or None (use numpy)."""
    lib = _lib4(x) if x.size and len(k) == 2 else None
    if lib is None:
        return None
    n, c, H, W = x.shape
    y = np.empty((n, c) + tuple(out), np.float32)
    ind = np.empty((n, c) + tuple(out), np.int64)
    lib.maxpool2d_f32(addr(x), addr(y), addr(ind), n * c, H, W, out[0],
                      out[1], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
                      _nthreads(y.size * k[0] * k[1]))
    return y, ind


def pool_scatter(g, idx, shape, accumulate: bool):
    """zeros(shape) with g's values added (``accumulate``) or assigned at idx's flat
    per-plane positions (max pooling's backward, max_unpool), or None (use numpy). g float32
    and idx int64, both contiguous (N, C, *O), indices already checked in range."""
    if not (type(g) is np.ndarray and g.dtype == np.float32 and g.flags.c_contiguous
            and type(idx) is np.ndarray and idx.dtype == np.int64 and idx.flags.c_contiguous
            and idx.shape == g.shape and g.ndim >= 2 and tuple(shape[:2]) == g.shape[:2]):
        return None
    lib = _lib()
    if lib is None:
        return None
    planes = shape[0] * shape[1]
    out = np.empty(tuple(shape), np.float32)
    S = out.size // planes if planes else 0
    if planes:
        lib.pool_scatter_f32(addr(g), addr(idx), addr(out), planes,
                             g.size // planes, S, 0 if accumulate else 1, _nthreads(out.size))
    return out


def _f32c(*arrays) -> bool:
    return all(type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
               for a in arrays)


def _lib4(*arrays):
    """The kernels' library when every array is a contiguous float32 4-d one, else None."""
    if not (_f32c(*arrays) and all(a.ndim == 4 for a in arrays)):
        return None
    return _lib()


def direct_conv2d(xpad, w, b, dil, out):
    """Stride-1 2-d convolution of a zero-padded float32 (N, C, Hp, Wp) array by w
    (Co, C, KH, KW) (+ bias) to spatial size ``out``, or None (use numpy)."""
    lib = _lib4(xpad, w)
    if lib is None or not (b is None or _f32c(b)):
        return None
    n, c, hp, wp = xpad.shape
    co, _, kh, kw = w.shape
    y = np.empty((n, co) + tuple(out), np.float32)
    lib.dconv2d_fwd_f32(addr(xpad), addr(w), _ptr(b), addr(y), n, c, hp, wp,
                        co, kh, kw, dil[0], dil[1], out[0], out[1], _nthreads(y.size * c * kh * kw))
    return y


def direct_conv2d_weight_grad(xpad, gy, kernel, dil):
    """The weight gradient of :func:`direct_conv2d`, or None (use numpy)."""
    lib = _lib4(xpad, gy)
    if lib is None:
        return None
    n, c, hp, wp = xpad.shape
    co, oh, ow = gy.shape[1:]
    gw = np.empty((co, c) + tuple(kernel), np.float32)
    lib.dconv2d_bwd_w_f32(addr(xpad), addr(gy), addr(gw), n, c, hp, wp, co,
                          kernel[0], kernel[1], dil[0], dil[1], oh, ow,
                          _nthreads(gy.size * c * kernel[0] * kernel[1]))
    return gw


def direct_conv2d_input_grad(gy, w, padded, dil):
    """Gradient of :func:`direct_conv2d` for the padded input frame ``padded`` (Hp, Wp),
    or None (use numpy)."""
    lib = _lib4(gy, w)
    if lib is None:
        return None
    n, co, oh, ow = gy.shape
    c, kh, kw = w.shape[1:]
    gxp = np.empty((n, c) + tuple(padded), np.float32)
    lib.dconv2d_bwd_x_f32(addr(gy), addr(w), addr(gxp), n, c, padded[0],
                          padded[1], co, kh, kw, dil[0], dil[1], oh, ow,
                          _nthreads(gy.size * c * kh * kw))
    return gxp


def channel_sum(x, dim):
    """x.sum(dim) for a contiguous float32 array of ndim >= 3 reduced over every dim but
    dim 1 (a bias gradient), or None (use numpy): numpy's pairwise sum over the strided
    non-last axes runs at a third of the memory rate."""
    if not (_f32c(x) and x.ndim >= 3 and x.size >= 1 << 16 and isinstance(dim, (tuple, list))
            and tuple(sorted(dim)) == (0,) + tuple(range(2, x.ndim))):
        return None
    lib = _lib()
    if lib is None:
        return None
    n, c = x.shape[:2]
    out = np.empty(c, np.float32)
    lib.channel_sum_f32(addr(x), addr(out), n, c, x.size // max(n * c, 1),
                        _nthreads(x.size))
    return out
