/* lipcl — synthetic datasets of deel-lip's demos: scikit-learn's two moons and circles (seeded shuffle and
 * Gaussian noise) and the black / centred-square images of the Wasserstein toy (exact W1 known). */
#include <stdlib.h>
#include <string.h>

#include "io/data_internal.h"

#define SYN_PI 3.14159265358979323846

/* Shuffle the rows of a 2-D point set and its classes, then add N(0, noise²) to every coordinate, in
 * scikit-learn's order (shuffle first, noise second). */
static lip_status shuffle_and_noise(lip_dataset *d, int shuffle, double noise, uint64_t seed) {
    lip_data_rng r;
    lip_data_rng_seed(&r, seed, 0);
    if (shuffle) {
        size_t *perm = malloc(d->n * sizeof *perm);
        float *x = malloc(d->n * 2 * sizeof *x);
        int32_t *c = malloc(d->n * sizeof *c);
        if (!perm || !x || !c) {
            free(perm);
            free(x);
            free(c);
            return lip_set_error(d->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "synthetic dataset: out of host memory");
        }
        lip_data_permutation(&r, perm, d->n);
        for (size_t i = 0; i < d->n; i++) {
            x[2 * i] = d->x[2 * perm[i]];
            x[2 * i + 1] = d->x[2 * perm[i] + 1];
            c[i] = d->classes[perm[i]];
        }
        free(d->x);
        free(d->classes);
        d->x = x;
        d->classes = c;
        free(perm);
    }
    if (noise > 0)
        for (size_t i = 0; i < 2 * d->n; i++) d->x[i] = (float)((double)d->x[i] + noise * lip_data_rng_gauss(&r));
    return LIP_OK;
}

static lip_status check_points(lip_context *ctx, const char *op, size_t n, double noise, lip_dataset **out) {
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ctx, n >= 2, LIP_ERR_INVALID_ARGUMENT, "%s: need at least 2 samples, got %zu", op, n);
    LIP_CHECK(ctx, isfinite(noise) && noise >= 0, LIP_ERR_INVALID_ARGUMENT,
              "%s: noise must be finite and >= 0, got %g", op, noise);
    return LIP_OK;
}

lip_status lip_dataset_make_moons(lip_context *ctx, size_t n, double noise, int shuffle, uint64_t seed,
                                  lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_make_moons";
    LIP_TRY(check_points(ctx, op, n, noise, out));
    size_t two = 2, n_out = n / 2, n_in = n - n_out;
    lip_dataset *d = NULL;
    LIP_TRY(lip_dataset_alloc(ctx, op, n, 1, &two, 1, 0, &d));
    /* numpy linspace(0, π, k): i·(π/(k − 1)), the last point exactly π. */
    for (size_t i = 0; i < n_out; i++) {
        double t = n_out > 1 ? (i + 1 == n_out ? SYN_PI : (double)i * (SYN_PI / (double)(n_out - 1))) : 0.0;
        d->x[2 * i] = (float)cos(t);
        d->x[2 * i + 1] = (float)sin(t);
        d->classes[i] = 0;
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = n_in > 1 ? (i + 1 == n_in ? SYN_PI : (double)i * (SYN_PI / (double)(n_in - 1))) : 0.0;
        size_t k = n_out + i;
        d->x[2 * k] = (float)(1.0 - cos(t));
        d->x[2 * k + 1] = (float)(1.0 - sin(t) - 0.5);
        d->classes[k] = 1;
    }
    lip_status st = shuffle_and_noise(d, shuffle, noise, seed);
    if (st != LIP_OK) {
        lip_dataset_free(d);
        return st;
    }
    *out = d;
    return LIP_OK;
}

lip_status lip_dataset_make_circles(lip_context *ctx, size_t n, double noise, double factor, int shuffle,
                                    uint64_t seed, lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_make_circles";
    LIP_TRY(check_points(ctx, op, n, noise, out));
    LIP_CHECK(ctx, factor > 0 && factor < 1, LIP_ERR_INVALID_ARGUMENT, "%s: factor must be in (0, 1), got %g", op,
              factor);
    size_t two = 2, n_out = n / 2, n_in = n - n_out;
    lip_dataset *d = NULL;
    LIP_TRY(lip_dataset_alloc(ctx, op, n, 1, &two, 1, 0, &d));
    /* numpy linspace(0, 2π, k, endpoint=False): i·(2π/k). */
    for (size_t i = 0; i < n_out; i++) {
        double t = (double)i * (2.0 * SYN_PI / (double)n_out);
        d->x[2 * i] = (float)cos(t);
        d->x[2 * i + 1] = (float)sin(t);
        d->classes[i] = 0;
    }
    for (size_t i = 0; i < n_in; i++) {
        double t = (double)i * (2.0 * SYN_PI / (double)n_in);
        size_t k = n_out + i;
        d->x[2 * k] = (float)(cos(t) * factor);
        d->x[2 * k + 1] = (float)(sin(t) * factor);
        d->classes[k] = 1;
    }
    lip_status st = shuffle_and_noise(d, shuffle, noise, seed);
    if (st != LIP_OK) {
        lip_dataset_free(d);
        return st;
    }
    *out = d;
    return LIP_OK;
}

lip_status lip_dataset_make_squares(lip_context *ctx, size_t n, size_t h, size_t w, double frac, int ternary,
                                    lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_make_squares";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ctx, n >= 2 && n % 2 == 0, LIP_ERR_INVALID_ARGUMENT, "%s: n must be even and >= 2, got %zu", op, n);
    LIP_CHECK(ctx, h >= 1 && w >= 1, LIP_ERR_SHAPE, "%s: image size %zux%zu must be at least 1x1", op, h, w);
    LIP_CHECK(ctx, frac > 0 && frac <= 1, LIP_ERR_INVALID_ARGUMENT, "%s: frac must be in (0, 1], got %g", op, frac);
    size_t shape[3] = {h, w, 1};
    lip_dataset *d = NULL;
    LIP_TRY(lip_dataset_alloc(ctx, op, n, 3, shape, 1, 0, &d));
    /* The notebook: f = frac**0.5; l = int(h·f); ldec = (h − l)//2 (likewise for w). */
    double f = sqrt(frac);
    size_t l = (size_t)((double)h * f), lw = (size_t)((double)w * f);
    size_t ldec = (h - l) / 2, wdec = (w - lw) / 2;
    memset(d->x, 0, n * d->sample_size * sizeof *d->x);
    for (size_t i = 0; i < n; i++) {
        d->classes[i] = i >= n / 2;
        if (i < n / 2) continue;
        float v = (ternary && i < 3 * n / 4) ? -1.0f : 1.0f;
        float *img = d->x + i * d->sample_size;
        for (size_t y = ldec; y < ldec + l; y++)
            for (size_t x = wdec; x < wdec + lw; x++) img[y * w + x] = v;
    }
    *out = d;
    return LIP_OK;
}
