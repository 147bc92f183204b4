/* lipcl — the context's random stream (xoshiro256** seeded by splitmix64) and the Keras weight
 * initializers: uniform, normal, Glorot uniform, orthogonal (Householder QR in double), zeros. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(lip_context *ctx) {
    uint64_t *s = ctx->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(lip_context *ctx) { return (double)(next_u64(ctx) >> 11) * (1.0 / 9007199254740992.0); }

static double next_gaussian(lip_context *ctx) {
    /* Box–Muller with both values used in turn would need state; one value per pair keeps
     * the stream simple and reproducible. 1 − u avoids log(0). */
    double u1 = 1.0 - next_unit(ctx), u2 = next_unit(ctx);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void lip_random_init_state(lip_context *ctx, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < 4; i++) ctx->rng[i] = splitmix64(&s);
}

lip_status lip_random_seed(lip_context *ctx, uint64_t seed) {
    if (!ctx) return LIP_ERR_NULL;
    lip_random_init_state(ctx, seed);
    return LIP_OK;
}

lip_status lip_random_get_state(const lip_context *ctx, uint64_t state[4]) {
    if (!ctx || !state) return LIP_ERR_NULL;
    memcpy(state, ctx->rng, sizeof ctx->rng);
    return LIP_OK;
}

lip_status lip_random_set_state(lip_context *ctx, const uint64_t state[4]) {
    if (!ctx || !state) return LIP_ERR_NULL;
    LIP_CHECK(ctx, state[0] | state[1] | state[2] | state[3], LIP_ERR_INVALID_ARGUMENT,
              "lip_random_set_state: the all-zero state is not valid for xoshiro256**");
    memcpy(ctx->rng, state, sizeof ctx->rng);
    return LIP_OK;
}

lip_status lip_random_next(lip_context *ctx, uint64_t *value) {
    if (!ctx || !value) return LIP_ERR_NULL;
    *value = next_u64(ctx);
    return LIP_OK;
}

/* Draw `n` floats with `draw` and upload them to t. */
static lip_status upload_floats(lip_context *ctx, lip_tensor *t, const float *v) {
    return lip_tensor_upload(t, v, t->count * sizeof(float));
}

static float *host_floats(lip_context *ctx, const lip_tensor *t) {
    float *v = malloc(t->count * sizeof *v);
    if (!v) lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %zu floats", t->count);
    return v;
}

lip_status lip_random_uniform(lip_context *ctx, lip_tensor *t, float lo, float hi) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, "lip_random_uniform: t"));
    LIP_CHECK(ctx, lo < hi && isfinite(lo) && isfinite(hi), LIP_ERR_INVALID_ARGUMENT,
              "lip_random_uniform: need finite lo < hi, got [%g, %g)", lo, hi);
    float *v = host_floats(ctx, t);
    if (!v) return LIP_ERR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < t->count; i++) {
        float x = (float)(lo + (hi - lo) * next_unit(ctx));
        v[i] = x < hi ? x : lo; /* rounding to float may reach hi */
    }
    lip_status st = upload_floats(ctx, t, v);
    free(v);
    return st;
}

lip_status lip_random_normal(lip_context *ctx, lip_tensor *t, float mean, float std) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, "lip_random_normal: t"));
    LIP_CHECK(ctx, std >= 0 && isfinite(std) && isfinite(mean), LIP_ERR_INVALID_ARGUMENT,
              "lip_random_normal: need finite mean and std >= 0, got %g, %g", mean, std);
    float *v = host_floats(ctx, t);
    if (!v) return LIP_ERR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < t->count; i++) v[i] = (float)(mean + std * next_gaussian(ctx));
    lip_status st = upload_floats(ctx, t, v);
    free(v);
    return st;
}

/* Keras fans: last axis = out, second to last = in, the rest is the receptive field. */
static void fans(const lip_tensor *t, double *fan_in, double *fan_out) {
    if (t->ndim == 1) {
        *fan_in = *fan_out = (double)t->shape[0];
        return;
    }
    double receptive = 1;
    for (int i = 0; i < t->ndim - 2; i++) receptive *= (double)t->shape[i];
    *fan_in = receptive * (double)t->shape[t->ndim - 2];
    *fan_out = receptive * (double)t->shape[t->ndim - 1];
}

lip_status lip_init_glorot_uniform(lip_context *ctx, lip_tensor *t) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, "lip_init_glorot_uniform: t"));
    double fi, fo;
    fans(t, &fi, &fo);
    float limit = (float)sqrt(6.0 / (fi + fo));
    return lip_random_uniform(ctx, t, -limit, limit);
}

/* Householder QR of the m×n (m ≥ n) column-major-free row-major matrix a; q gets the m×n
 * orthonormal factor with the sign of R's diagonal folded in (Keras: q *= sign(diag(r))). */
static int thin_qr(double *a, size_t m, size_t n, double *q) {
    double *v = malloc(m * sizeof *v), *d = malloc(n * sizeof *d);
    double *vs = malloc(m * n * sizeof *vs), *beta = malloc(n * sizeof *beta);
    if (!v || !d || !vs || !beta) {
        free(v), free(d), free(vs), free(beta);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        double norm = 0;
        for (size_t i = k; i < m; i++) norm += a[i * n + k] * a[i * n + k];
        norm = sqrt(norm);
        double alpha = a[k * n + k] > 0 ? -norm : norm;
        for (size_t i = 0; i < m; i++) v[i] = i < k ? 0 : a[i * n + k];
        v[k] -= alpha;
        double vv = 0;
        for (size_t i = k; i < m; i++) vv += v[i] * v[i];
        beta[k] = vv > 0 ? 2.0 / vv : 0.0;
        for (size_t j = k; j < n; j++) {
            double s = 0;
            for (size_t i = k; i < m; i++) s += v[i] * a[i * n + j];
            s *= beta[k];
            for (size_t i = k; i < m; i++) a[i * n + j] -= s * v[i];
        }
        d[k] = a[k * n + k]; /* R's diagonal */
        for (size_t i = 0; i < m; i++) vs[k * m + i] = v[i];
    }
    /* Q = H_0 H_1 … H_{n−1} applied to the first n columns of I. */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) q[i * n + j] = i == j ? 1.0 : 0.0;
    for (size_t kk = n; kk-- > 0;) {
        const double *vk = vs + kk * m;
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t i = kk; i < m; i++) s += vk[i] * q[i * n + j];
            s *= beta[kk];
            for (size_t i = kk; i < m; i++) q[i * n + j] -= s * vk[i];
        }
    }
    for (size_t j = 0; j < n; j++)
        if (d[j] < 0)
            for (size_t i = 0; i < m; i++) q[i * n + j] = -q[i * n + j];
    free(v), free(d), free(vs), free(beta);
    return 0;
}

lip_status lip_init_orthogonal(lip_context *ctx, lip_tensor *t, float gain) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_TRY(lip_check_tensor(ctx, t, LIP_FLOAT32, "lip_init_orthogonal: t"));
    LIP_CHECK(ctx, t->ndim >= 2, LIP_ERR_SHAPE, "lip_init_orthogonal: needs a tensor of rank >= 2, got rank %d",
              t->ndim);
    LIP_CHECK(ctx, isfinite(gain), LIP_ERR_INVALID_ARGUMENT, "lip_init_orthogonal: gain %g is not finite", gain);
    size_t cols = t->shape[t->ndim - 1], rows = t->count / cols;
    size_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    double *a = malloc(m * n * sizeof *a), *q = malloc(m * n * sizeof *q);
    float *v = host_floats(ctx, t);
    if (!a || !q || !v) {
        free(a), free(q), free(v);
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_init_orthogonal: out of host memory");
    }
    for (size_t i = 0; i < m * n; i++) a[i] = next_gaussian(ctx);
    lip_status st = LIP_OK;
    if (thin_qr(a, m, n, q) != 0) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_init_orthogonal: out of host memory");
    } else {
        /* Tall: q is rows×cols. Wide: q is cols×rows, and the tensor gets its transpose. */
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                v[i * cols + j] = (float)(gain * (rows >= cols ? q[i * n + j] : q[j * n + i]));
        st = upload_floats(ctx, t, v);
    }
    free(a), free(q), free(v);
    return st;
}

lip_status lip_init_zeros(lip_context *ctx, lip_tensor *t) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, t, LIP_ERR_NULL, "lip_init_zeros: t is NULL");
    return lip_tensor_fill(t, 0.0);
}
