/* lipcl — host datasets: creation, label transforms (binary ±1, one-hot), normalization, subsets and
 * seeded splits, and the batcher that visits every sample once per epoch in a seeded order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/data_internal.h"

lip_status lip_dataset_alloc(lip_context *ctx, const char *op, size_t n, int ndim, const size_t *shape,
                             int with_classes, size_t target_width, lip_dataset **out) {
    LIP_CHECK(ctx, n >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: a dataset needs at least one sample", op);
    LIP_CHECK(ctx, ndim >= 1 && ndim <= 3, LIP_ERR_SHAPE, "%s: the per-sample shape must have 1 to 3 axes, got %d",
              op, ndim);
    LIP_CHECK(ctx, shape, LIP_ERR_NULL, "%s: sample shape is NULL", op);
    size_t size = 1;
    for (int i = 0; i < ndim; i++) {
        LIP_CHECK(ctx, shape[i] >= 1, LIP_ERR_SHAPE, "%s: sample axis %d has size 0", op, i);
        LIP_CHECK(ctx, size <= SIZE_MAX / shape[i], LIP_ERR_SHAPE, "%s: sample shape too large", op);
        size *= shape[i];
    }
    LIP_CHECK(ctx, n <= SIZE_MAX / sizeof(float) / size, LIP_ERR_SHAPE, "%s: %zu samples of %zu floats overflow",
              op, n, size);
    LIP_CHECK(ctx, target_width == 0 || n <= SIZE_MAX / sizeof(float) / target_width, LIP_ERR_SHAPE,
              "%s: %zu targets of width %zu overflow", op, n, target_width);
    lip_dataset *d = calloc(1, sizeof *d);
    if (d) {
        d->x = malloc(n * size * sizeof *d->x);
        if (with_classes) d->classes = malloc(n * sizeof *d->classes);
        if (target_width) d->targets = malloc(n * target_width * sizeof *d->targets);
    }
    if (!d || !d->x || (with_classes && !d->classes) || (target_width && !d->targets)) {
        if (d) {
            free(d->x);
            free(d->classes);
            free(d->targets);
            free(d);
        }
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory for %zu samples of %zu floats",
                             op, n, size);
    }
    d->ctx = ctx;
    d->n = n;
    d->ndim = ndim;
    for (int i = 0; i < ndim; i++) d->shape[i] = shape[i];
    d->sample_size = size;
    d->target_width = target_width;
    ctx->live_objects++;
    *out = d;
    return LIP_OK;
}

lip_status lip_dataset_create(lip_context *ctx, size_t n, int ndim, const size_t *sample_shape, const float *x,
                              const int32_t *classes, size_t target_width, const float *targets, lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_create";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ctx, x, LIP_ERR_NULL, "%s: features x is NULL", op);
    LIP_CHECK(ctx, (targets == NULL) == (target_width == 0), LIP_ERR_INVALID_ARGUMENT,
              "%s: targets %s but target_width is %zu", op, targets ? "given" : "NULL", target_width);
    lip_dataset *d = NULL;
    LIP_TRY(lip_dataset_alloc(ctx, op, n, ndim, sample_shape, classes != NULL, target_width, &d));
    memcpy(d->x, x, n * d->sample_size * sizeof *x);
    if (classes) memcpy(d->classes, classes, n * sizeof *classes);
    if (targets) memcpy(d->targets, targets, n * target_width * sizeof *targets);
    *out = d;
    return LIP_OK;
}

void lip_dataset_free(lip_dataset *ds) {
    if (!ds) return;
    ds->ctx->live_objects--;
    free(ds->x);
    free(ds->classes);
    free(ds->targets);
    free(ds);
}

/* ---- transforms -------------------------------------------------------------------------------- */

lip_status lip_dataset_scale(lip_dataset *ds, float scale, float shift) {
    if (!ds) return LIP_ERR_NULL;
    LIP_CHECK(ds->ctx, isfinite(scale) && isfinite(shift), LIP_ERR_INVALID_ARGUMENT,
              "lip_dataset_scale: scale and shift must be finite, got %g and %g", (double)scale, (double)shift);
    size_t total = ds->n * ds->sample_size;
    for (size_t i = 0; i < total; i++) ds->x[i] = ds->x[i] * scale + shift;
    return LIP_OK;
}

lip_status lip_dataset_stats(const lip_dataset *ds, double *mean, double *std) {
    if (!ds) return LIP_ERR_NULL;
    LIP_CHECK(ds->ctx, mean && std, LIP_ERR_NULL, "lip_dataset_stats: mean and std must not be NULL");
    size_t total = ds->n * ds->sample_size;
    double s = 0;
    for (size_t i = 0; i < total; i++) s += ds->x[i];
    double m = s / (double)total, q = 0;
    for (size_t i = 0; i < total; i++) q += (ds->x[i] - m) * (ds->x[i] - m);
    *mean = m;
    *std = sqrt(q / (double)total);
    return LIP_OK;
}

lip_status lip_dataset_standardize(lip_dataset *ds, double mean, double std) {
    if (!ds) return LIP_ERR_NULL;
    LIP_CHECK(ds->ctx, isfinite(mean) && isfinite(std) && std > 0, LIP_ERR_INVALID_ARGUMENT,
              "lip_dataset_standardize: need a finite mean and std > 0, got %g and %g", mean, std);
    size_t total = ds->n * ds->sample_size;
    for (size_t i = 0; i < total; i++) ds->x[i] = (float)((ds->x[i] - mean) / std);
    return LIP_OK;
}

/* Replace the targets by a fresh n × width array (uninitialized). */
static lip_status new_targets(lip_dataset *ds, const char *op, size_t width) {
    LIP_CHECK(ds->ctx, ds->n <= SIZE_MAX / sizeof(float) / width, LIP_ERR_SHAPE, "%s: targets too large", op);
    float *t = malloc(ds->n * width * sizeof *t);
    if (!t) return lip_set_error(ds->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", op);
    free(ds->targets);
    ds->targets = t;
    ds->target_width = width;
    return LIP_OK;
}

lip_status lip_dataset_select_classes(lip_dataset *ds, int32_t positive, int32_t negative) {
    if (!ds) return LIP_ERR_NULL;
    const char *op = "lip_dataset_select_classes";
    LIP_CHECK(ds->ctx, ds->classes, LIP_ERR_INVALID_ARGUMENT, "%s: the dataset has no classes", op);
    LIP_CHECK(ds->ctx, positive != negative, LIP_ERR_INVALID_ARGUMENT,
              "%s: positive and negative classes must differ, got %d twice", op, (int)positive);
    size_t kept = 0;
    for (size_t i = 0; i < ds->n; i++) kept += ds->classes[i] == positive || ds->classes[i] == negative;
    LIP_CHECK(ds->ctx, kept > 0, LIP_ERR_INVALID_ARGUMENT, "%s: no sample of class %d or %d among the %zu samples",
              op, (int)positive, (int)negative, ds->n);
    float *t = malloc(kept * sizeof *t);
    if (!t) return lip_set_error(ds->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", op);
    size_t j = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int32_t c = ds->classes[i];
        if (c != positive && c != negative) continue;
        if (j != i) memmove(ds->x + j * ds->sample_size, ds->x + i * ds->sample_size, ds->sample_size * sizeof *ds->x);
        ds->classes[j] = c;
        t[j] = c == positive ? 1.0f : -1.0f;
        j++;
    }
    free(ds->targets);
    ds->targets = t;
    ds->target_width = 1;
    ds->n = kept;
    return LIP_OK;
}

lip_status lip_dataset_binary_targets(lip_dataset *ds, int32_t positive, float pos_value, float neg_value) {
    if (!ds) return LIP_ERR_NULL;
    const char *op = "lip_dataset_binary_targets";
    LIP_CHECK(ds->ctx, ds->classes, LIP_ERR_INVALID_ARGUMENT, "%s: the dataset has no classes", op);
    LIP_TRY(new_targets(ds, op, 1));
    for (size_t i = 0; i < ds->n; i++) ds->targets[i] = ds->classes[i] == positive ? pos_value : neg_value;
    return LIP_OK;
}

lip_status lip_dataset_one_hot(lip_dataset *ds, size_t num_classes, float on, float off) {
    if (!ds) return LIP_ERR_NULL;
    const char *op = "lip_dataset_one_hot";
    LIP_CHECK(ds->ctx, ds->classes, LIP_ERR_INVALID_ARGUMENT, "%s: the dataset has no classes", op);
    LIP_CHECK(ds->ctx, num_classes >= 1, LIP_ERR_INVALID_ARGUMENT, "%s: num_classes must be >= 1", op);
    for (size_t i = 0; i < ds->n; i++)
        LIP_CHECK(ds->ctx, ds->classes[i] >= 0 && (size_t)ds->classes[i] < num_classes, LIP_ERR_INVALID_ARGUMENT,
                  "%s: sample %zu has class %d, outside 0..%zu", op, i, (int)ds->classes[i], num_classes - 1);
    LIP_TRY(new_targets(ds, op, num_classes));
    for (size_t i = 0; i < ds->n; i++)
        for (size_t c = 0; c < num_classes; c++)
            ds->targets[i * num_classes + c] = (size_t)ds->classes[i] == c ? on : off;
    return LIP_OK;
}

lip_status lip_dataset_subset(const lip_dataset *ds, const size_t *indices, size_t count, lip_dataset **out) {
    if (!ds) return LIP_ERR_NULL;
    const char *op = "lip_dataset_subset";
    LIP_CHECK(ds->ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ds->ctx, indices, LIP_ERR_NULL, "%s: indices is NULL", op);
    for (size_t i = 0; i < count; i++)
        LIP_CHECK(ds->ctx, indices[i] < ds->n, LIP_ERR_INVALID_ARGUMENT, "%s: index %zu (at %zu) >= %zu samples", op,
                  indices[i], i, ds->n);
    lip_dataset *d = NULL;
    LIP_TRY(lip_dataset_alloc(ds->ctx, op, count, ds->ndim, ds->shape, ds->classes != NULL, ds->target_width, &d));
    for (size_t i = 0; i < count; i++) {
        size_t k = indices[i];
        memcpy(d->x + i * d->sample_size, ds->x + k * ds->sample_size, ds->sample_size * sizeof *ds->x);
        if (ds->classes) d->classes[i] = ds->classes[k];
        if (ds->targets)
            memcpy(d->targets + i * ds->target_width, ds->targets + k * ds->target_width,
                   ds->target_width * sizeof *ds->targets);
    }
    *out = d;
    return LIP_OK;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

lip_status lip_dataset_split(const lip_dataset *ds, double fraction, uint64_t seed, lip_dataset **first,
                             lip_dataset **second) {
    if (!ds) return LIP_ERR_NULL;
    const char *op = "lip_dataset_split";
    LIP_CHECK(ds->ctx, first && second, LIP_ERR_NULL, "%s: first and second must not be NULL", op);
    *first = *second = NULL;
    LIP_CHECK(ds->ctx, fraction > 0 && fraction < 1, LIP_ERR_INVALID_ARGUMENT, "%s: fraction must be in (0, 1), got %g",
              op, fraction);
    size_t n1 = (size_t)floor(fraction * (double)ds->n + 0.5);
    LIP_CHECK(ds->ctx, n1 >= 1 && n1 < ds->n, LIP_ERR_INVALID_ARGUMENT,
              "%s: a fraction %g of %zu samples leaves an empty part", op, fraction, ds->n);
    size_t *perm = malloc(ds->n * sizeof *perm);
    if (!perm) return lip_set_error(ds->ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s: out of host memory", op);
    lip_data_rng r;
    lip_data_rng_seed(&r, seed, 0);
    lip_data_permutation(&r, perm, ds->n);
    /* Each part keeps the original order: the split is a pure partition. */
    qsort(perm, n1, sizeof *perm, cmp_size);
    qsort(perm + n1, ds->n - n1, sizeof *perm, cmp_size);
    lip_status st = lip_dataset_subset(ds, perm, n1, first);
    if (st == LIP_OK) st = lip_dataset_subset(ds, perm + n1, ds->n - n1, second);
    if (st != LIP_OK) {
        lip_dataset_free(*first);
        *first = NULL;
    }
    free(perm);
    return st;
}

/* ---- accessors ------------------------------------------------------------------------------------ */

size_t lip_dataset_count(const lip_dataset *ds) { return ds ? ds->n : 0; }

lip_status lip_dataset_sample_shape(const lip_dataset *ds, int *ndim, size_t shape[LIP_MAX_DIMS]) {
    if (!ds) return LIP_ERR_NULL;
    LIP_CHECK(ds->ctx, ndim && shape, LIP_ERR_NULL, "lip_dataset_sample_shape: ndim and shape must not be NULL");
    *ndim = ds->ndim;
    for (int i = 0; i < LIP_MAX_DIMS; i++) shape[i] = i < ds->ndim ? ds->shape[i] : 0;
    return LIP_OK;
}

size_t lip_dataset_sample_size(const lip_dataset *ds) { return ds ? ds->sample_size : 0; }
const float *lip_dataset_features(const lip_dataset *ds) { return ds ? ds->x : NULL; }
const int32_t *lip_dataset_classes(const lip_dataset *ds) { return ds ? ds->classes : NULL; }

const float *lip_dataset_targets(const lip_dataset *ds, size_t *width) {
    if (width) *width = ds ? ds->target_width : 0;
    return ds ? ds->targets : NULL;
}

size_t lip_dataset_num_classes(const lip_dataset *ds) {
    if (!ds || !ds->classes) return 0;
    int32_t m = -1;
    for (size_t i = 0; i < ds->n; i++)
        if (ds->classes[i] > m) m = ds->classes[i];
    return (size_t)(m + 1);
}

/* ---- batcher --------------------------------------------------------------------------------------- */

struct lip_batcher {
    const lip_dataset *ds;
    lip_context *ctx;
    size_t batch;
    int shuffle;
    uint64_t seed;
    uint64_t epoch;    /* current epoch */
    size_t offset;     /* samples of it delivered */
    size_t *perm;      /* the order of `perm_epoch` */
    uint64_t perm_epoch;
    int perm_valid;
    float *x;
    int32_t *classes;
    float *targets;
    size_t *indices;
};

lip_status lip_batcher_create(const lip_dataset *ds, size_t batch_size, int shuffle, uint64_t seed,
                              lip_batcher **out) {
    if (!ds) return LIP_ERR_NULL;
    lip_context *ctx = ds->ctx;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_batcher_create: out is NULL");
    *out = NULL;
    LIP_CHECK(ctx, batch_size >= 1, LIP_ERR_INVALID_ARGUMENT, "lip_batcher_create: batch_size must be >= 1");
    size_t b = batch_size < ds->n ? batch_size : ds->n; /* buffers never need more than n samples */
    lip_batcher *t = calloc(1, sizeof *t);
    if (t) {
        t->perm = malloc(ds->n * sizeof *t->perm);
        t->x = malloc(b * ds->sample_size * sizeof *t->x);
        t->indices = malloc(b * sizeof *t->indices);
        if (ds->classes) t->classes = malloc(b * sizeof *t->classes);
        if (ds->targets) t->targets = malloc(b * ds->target_width * sizeof *t->targets);
    }
    if (!t || !t->perm || !t->x || !t->indices || (ds->classes && !t->classes) || (ds->targets && !t->targets)) {
        if (t) {
            free(t->perm);
            free(t->x);
            free(t->indices);
            free(t->classes);
            free(t->targets);
            free(t);
        }
        return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_batcher_create: out of host memory");
    }
    t->ds = ds;
    t->ctx = ctx;
    t->batch = batch_size;
    t->shuffle = shuffle != 0;
    t->seed = seed;
    ctx->live_objects++;
    *out = t;
    return LIP_OK;
}

void lip_batcher_free(lip_batcher *b) {
    if (!b) return;
    b->ctx->live_objects--;
    free(b->perm);
    free(b->x);
    free(b->indices);
    free(b->classes);
    free(b->targets);
    free(b);
}

/* The order of the current epoch (computed once per epoch). */
static void epoch_order(lip_batcher *b) {
    if (b->perm_valid && b->perm_epoch == b->epoch) return;
    size_t n = b->ds->n;
    if (b->shuffle) {
        lip_data_rng r;
        lip_data_rng_seed(&r, b->seed, b->epoch + 1); /* stream 0 is the split's */
        lip_data_permutation(&r, b->perm, n);
    } else {
        for (size_t i = 0; i < n; i++) b->perm[i] = i;
    }
    b->perm_epoch = b->epoch;
    b->perm_valid = 1;
}

lip_status lip_batcher_next(lip_batcher *b, lip_batch *batch, int *has_batch) {
    if (!b) return LIP_ERR_NULL;
    LIP_CHECK(b->ctx, batch && has_batch, LIP_ERR_NULL, "lip_batcher_next: batch and has_batch must not be NULL");
    const lip_dataset *ds = b->ds;
    if (b->offset >= ds->n) {
        *has_batch = 0;
        b->epoch++;
        b->offset = 0;
        return LIP_OK;
    }
    epoch_order(b);
    size_t count = ds->n - b->offset < b->batch ? ds->n - b->offset : b->batch;
    for (size_t i = 0; i < count; i++) {
        size_t k = b->perm[b->offset + i];
        b->indices[i] = k;
        memcpy(b->x + i * ds->sample_size, ds->x + k * ds->sample_size, ds->sample_size * sizeof *ds->x);
        if (ds->classes) b->classes[i] = ds->classes[k];
        if (ds->targets)
            memcpy(b->targets + i * ds->target_width, ds->targets + k * ds->target_width,
                   ds->target_width * sizeof *ds->targets);
    }
    b->offset += count;
    batch->count = count;
    batch->x = b->x;
    batch->classes = ds->classes ? b->classes : NULL;
    batch->targets = ds->targets ? b->targets : NULL;
    batch->target_width = ds->target_width;
    batch->indices = b->indices;
    *has_batch = 1;
    return LIP_OK;
}

size_t lip_batcher_batches_per_epoch(const lip_batcher *b) {
    return b ? (b->ds->n + b->batch - 1) / b->batch : 0;
}

lip_status lip_batcher_position(const lip_batcher *b, uint64_t *epoch, size_t *offset) {
    if (!b) return LIP_ERR_NULL;
    LIP_CHECK(b->ctx, epoch && offset, LIP_ERR_NULL, "lip_batcher_position: epoch and offset must not be NULL");
    *epoch = b->epoch;
    *offset = b->offset;
    return LIP_OK;
}

lip_status lip_batcher_seek(lip_batcher *b, uint64_t epoch, size_t offset) {
    if (!b) return LIP_ERR_NULL;
    LIP_CHECK(b->ctx, offset <= b->ds->n && (offset % b->batch == 0 || offset == b->ds->n), LIP_ERR_INVALID_ARGUMENT,
              "lip_batcher_seek: offset %zu must be a multiple of the batch size %zu and at most %zu samples",
              offset, b->batch, b->ds->n);
    b->epoch = epoch;
    b->offset = offset;
    return LIP_OK;
}
