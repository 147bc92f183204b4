/* lipcl — internal layout of datasets shared by src/io/data.c, idx.c and synthetic.c (never installed),
 * and the self-contained seeded generator (xoshiro256** from splitmix64) their shuffles use. */
#ifndef LIPCL_DATA_INTERNAL_H
#define LIPCL_DATA_INTERNAL_H

#include <math.h>

#include "internal.h"
#include "lipcl/data.h"

struct lip_dataset {
    lip_context *ctx;
    size_t n;
    int ndim;
    size_t shape[LIP_MAX_DIMS];
    size_t sample_size; /* ∏ shape */
    float *x;           /* n × sample_size */
    int32_t *classes;   /* n, or NULL */
    float *targets;     /* n × target_width, or NULL */
    size_t target_width;
};

/** A dataset with uninitialized arrays: features always, classes when `with_classes`, targets when
 *  target_width > 0. Checks n, ndim, shape and size overflow (message names `op`). */
lip_status lip_dataset_alloc(lip_context *ctx, const char *op, size_t n, int ndim, const size_t *shape,
                             int with_classes, size_t target_width, lip_dataset **out);

/* ---- seeded generator (identical on every platform: integer arithmetic only) ------------------- */

typedef struct lip_data_rng {
    uint64_t s[4];
} lip_data_rng;

static inline uint64_t lip_data_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/** Seed from a seed and a stream number (e.g. the epoch), so streams are independent. */
static inline void lip_data_rng_seed(lip_data_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++) r->s[i] = lip_data_splitmix(&x);
}

static inline uint64_t lip_data_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t lip_data_rng_next(lip_data_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = lip_data_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lip_data_rotl(s[3], 45);
    return result;
}

/** Uniform integer in [0, bound) without modulo bias (rejection). bound ≥ 1. */
static inline uint64_t lip_data_rng_below(lip_data_rng *r, uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t v = lip_data_rng_next(r);
        if (v >= threshold) return v % bound;
    }
}

/** Uniform double in [0, 1) with 53 random bits. */
static inline double lip_data_rng_unit(lip_data_rng *r) { return (double)(lip_data_rng_next(r) >> 11) * 0x1.0p-53; }

/** Standard normal draw (Box–Muller, the cosine branch). */
static inline double lip_data_rng_gauss(lip_data_rng *r) {
    double u1 = 1.0 - lip_data_rng_unit(r); /* (0, 1]: log stays finite */
    double u2 = lip_data_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/** idx[0..n) = a uniformly random permutation of 0..n−1 (Fisher–Yates). */
static inline void lip_data_permutation(lip_data_rng *r, size_t *idx, size_t n) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lip_data_rng_below(r, (uint64_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

#endif
