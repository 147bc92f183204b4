/* lipcl — datasets on the host: IDX files (MNIST, Fashion-MNIST; gzip or raw), label transforms, seeded
 * splits and shuffled batches, and the synthetic sets of deel-lip's demos (two moons, circles, squares). */
#ifndef LIPCL_DATA_H
#define LIPCL_DATA_H

#include <stdint.h>

#include "lipcl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A dataset holds n samples in host memory: float32 features (n × sample size, each sample row-major
 * with its per-sample shape, NHWC for images: MNIST gives (28, 28, 1)), optional int32 class labels
 * (n) and optional float32 targets (n × target width: ±1 for a binary task, one-hot rows, ...). The
 * model uploads batches; nothing here touches the device. The context only receives error messages
 * (lip_context_last_error) and counts the dataset among its live objects.
 *
 * Randomness (splits, shuffles, noise) comes from a seed given to each call and a self-contained
 * xoshiro256** stream seeded through splitmix64, with integer-only index draws: the same seed gives
 * the same order on every platform. (The Gaussian noise of the synthetic sets goes through log/cos
 * of the C library: identical wherever those are correctly rounded, as in glibc for these inputs.)
 */
typedef struct lip_dataset lip_dataset;

/** Create a dataset from host arrays (copied): n ≥ 1 samples of `sample_shape` (ndim 1..3), features
 *  x (n × ∏shape floats, required), classes (n, or NULL), targets (n × target_width, or NULL with
 *  target_width 0). */
LIP_API lip_status lip_dataset_create(lip_context *ctx, size_t n, int ndim, const size_t *sample_shape,
                                      const float *x, const int32_t *classes, size_t target_width,
                                      const float *targets, lip_dataset **out);
/** Free the dataset. NULL is accepted. */
LIP_API void lip_dataset_free(lip_dataset *ds);

/**
 * Read an IDX image file and an IDX label file (each gzip-compressed or raw; detected from the content,
 * not the name). Images: ≥ 2 dimensions (n, d1, ...); (n, h, w) becomes samples (h, w, 1), (n, h, w, c)
 * stays, (n, d) gives samples (d). Labels: 1-D (n), an integer type, become the classes. Any IDX element
 * type is accepted (u8, i8, i16, i32, f32, f64, big-endian) and converted to float32 without scaling
 * (MNIST pixels are 0..255: see lip_dataset_scale). Errors name the file: missing or unreadable
 * (LIP_ERR_IO), wrong magic, bad type or rank, truncated or with trailing bytes, or a label count that
 * differs from the image count (LIP_ERR_FORMAT).
 */
LIP_API lip_status lip_dataset_load_idx(lip_context *ctx, const char *images_path, const char *labels_path,
                                        lip_dataset **out);
/**
 * The standard MNIST / Fashion-MNIST files of `dir` for `split` ("train" or "t10k"):
 * SPLIT-images-idx3-ubyte[.gz] and SPLIT-labels-idx1-ubyte[.gz] (also the SPLIT-images.idx3-ubyte
 * spelling); the .gz file is preferred when both exist. LIP_ERR_IO naming the folder and the names
 * tried when none exists.
 */
LIP_API lip_status lip_dataset_load_mnist_dir(lip_context *ctx, const char *dir, const char *split,
                                              lip_dataset **out);

/* ---- transforms (in place) ------------------------------------------------------------------- */

/** x ← x·scale + shift for every feature (scale 1/255, shift 0 maps MNIST pixels to [0, 1]). */
LIP_API lip_status lip_dataset_scale(lip_dataset *ds, float scale, float shift);
/** Mean and standard deviation (population) of all features, computed in double. */
LIP_API lip_status lip_dataset_stats(const lip_dataset *ds, double *mean, double *std);
/** x ← (x − mean)/std (std > 0): standardize with the statistics of the training set. */
LIP_API lip_status lip_dataset_standardize(lip_dataset *ds, double mean, double std);

/** Keep only the samples of class `positive` or `negative` (order kept) and set the targets to (n, 1):
 *  +1 for `positive`, −1 for `negative` (deel-lip's binary demos, e.g. MNIST 0 vs 8). The classes
 *  stay. Needs classes; LIP_ERR_INVALID_ARGUMENT if no sample is left. */
LIP_API lip_status lip_dataset_select_classes(lip_dataset *ds, int32_t positive, int32_t negative);
/** Targets (n, 1) from the classes: `pos_value` where class == positive, `neg_value` elsewhere (e.g.
 *  ±1 for two moons). */
LIP_API lip_status lip_dataset_binary_targets(lip_dataset *ds, int32_t positive, float pos_value,
                                              float neg_value);
/** One-hot targets (n, num_classes): `on` at the class, `off` elsewhere (1/0, or 1/−1 as deel-lip's
 *  `2·onehot − 1`). Every class must be in 0..num_classes−1. */
LIP_API lip_status lip_dataset_one_hot(lip_dataset *ds, size_t num_classes, float on, float off);

/** A new dataset with the samples indices[0..count) (copies; indices < n, repeats allowed). */
LIP_API lip_status lip_dataset_subset(const lip_dataset *ds, const size_t *indices, size_t count,
                                      lip_dataset **out);
/**
 * Split into two new datasets: a seeded permutation of the samples, the first round(fraction·n) to
 * *first, the rest to *second, each part keeping the original order of its samples (so 0.8 with a
 * seed gives a reproducible 80/20 train/validation split). Both parts must be non-empty.
 */
LIP_API lip_status lip_dataset_split(const lip_dataset *ds, double fraction, uint64_t seed, lip_dataset **first,
                                     lip_dataset **second);

/* ---- accessors ----------------------------------------------------------------------------- */

/** Number of samples (0 for NULL). */
LIP_API size_t lip_dataset_count(const lip_dataset *ds);
/** The per-sample shape: *ndim (1..3) and shape[0..ndim). */
LIP_API lip_status lip_dataset_sample_shape(const lip_dataset *ds, int *ndim, size_t shape[LIP_MAX_DIMS]);
/** Floats per sample (∏ shape). */
LIP_API size_t lip_dataset_sample_size(const lip_dataset *ds);
/** The features, n × sample size (borrowed; valid until the next transform or free). */
LIP_API const float *lip_dataset_features(const lip_dataset *ds);
/** The classes (n), NULL when the dataset has none (borrowed). */
LIP_API const int32_t *lip_dataset_classes(const lip_dataset *ds);
/** The targets (n × *width), NULL with *width 0 when none (borrowed); width may be NULL. */
LIP_API const float *lip_dataset_targets(const lip_dataset *ds, size_t *width);
/** 1 + the largest class (0 without classes). */
LIP_API size_t lip_dataset_num_classes(const lip_dataset *ds);

/* ---- shuffled batches -------------------------------------------------------------------------- */

typedef struct lip_batcher lip_batcher;

/** One batch: `count` samples, copied into the batcher's buffers (valid until the next call). */
typedef struct lip_batch {
    size_t count;
    const float *x;         /* count × sample size */
    const int32_t *classes; /* count, or NULL */
    const float *targets;   /* count × target width, or NULL */
    size_t target_width;
    const size_t *indices;  /* the dataset positions of the samples */
} lip_batch;

/**
 * Iterate over `ds` in batches of `batch_size` (≥ 1): each epoch visits every sample exactly once, the
 * last batch holding the remainder (never padded). With `shuffle`, epoch e uses a permutation drawn from
 * (seed, e) alone, so any epoch can be replayed or resumed without the previous ones; without it, the
 * dataset order. The dataset must outlive the batcher and stay unchanged.
 */
LIP_API lip_status lip_batcher_create(const lip_dataset *ds, size_t batch_size, int shuffle, uint64_t seed,
                                      lip_batcher **out);
/** Free the batcher (not the dataset). NULL is accepted. */
LIP_API void lip_batcher_free(lip_batcher *b);
/** The next batch of the current epoch: *has_batch = 1 and `batch` filled; at the end of the epoch
 *  *has_batch = 0 (batch untouched) and the next call starts the following epoch. */
LIP_API lip_status lip_batcher_next(lip_batcher *b, lip_batch *batch, int *has_batch);
/** Batches per epoch (⌈n / batch_size⌉). */
LIP_API size_t lip_batcher_batches_per_epoch(const lip_batcher *b);
/** The position: current epoch (from 0) and the number of samples of it already delivered. */
LIP_API lip_status lip_batcher_position(const lip_batcher *b, uint64_t *epoch, size_t *offset);
/** Jump to an epoch and an offset (a multiple of the batch size, ≤ n): resume a run exactly. */
LIP_API lip_status lip_batcher_seek(lip_batcher *b, uint64_t epoch, size_t offset);

/* ---- synthetic sets ----------------------------------------------------------------------------- */

/**
 * scikit-learn's make_moons(n, noise, shuffle): the outer half-circle (cos t, sin t) for ⌊n/2⌋ points
 * (class 0) and the inner (1 − cos t, 1 − sin t − 0.5) for the rest (class 1), t evenly spaced over
 * [0, π]; with `shuffle` the samples are permuted; then N(0, noise²) is added to each coordinate
 * (noise ≥ 0). Samples of shape (2), classes 0/1, no targets (see lip_dataset_binary_targets).
 */
LIP_API lip_status lip_dataset_make_moons(lip_context *ctx, size_t n, double noise, int shuffle, uint64_t seed,
                                          lip_dataset **out);
/** scikit-learn's make_circles(n, noise, factor): ⌊n/2⌋ points on the unit circle (class 0) and the
 *  rest on the circle of radius `factor` (in (0, 1), sklearn's default 0.8) (class 1), angles evenly
 *  spaced over [0, 2π) without the endpoint; shuffle and noise as make_moons. */
LIP_API lip_status lip_dataset_make_circles(lip_context *ctx, size_t n, double noise, double factor, int shuffle,
                                            uint64_t seed, lip_dataset **out);
/**
 * deel-lip's Wasserstein demo images (demo1, and torchlip's wasserstein_toy): n (even, ≥ 2) images of
 * h × w × 1. The first n/2 are black (0), class 0; the others hold a centred rectangle of
 * ⌊h·√frac⌋ × ⌊w·√frac⌋ pixels starting at ((h − l)/2, (w − l')/2), class 1, valued +1 (binary) or,
 * for `ternary`, −1 for samples n/2 ≤ i < 3n/4 and +1 after, exactly as the notebook's generators lay out
 * a batch of n. For 64 × 64 and frac 0.3 the square is 35 × 35 and the exact W1 distance between the
 * two classes is 35. frac in (0, 1]. Classes only, as the other synthetic sets (the notebook's y is the
 * class: lip_dataset_binary_targets(ds, 1, 1, 0) gives it as targets). Deterministic (no seed).
 */
LIP_API lip_status lip_dataset_make_squares(lip_context *ctx, size_t n, size_t h, size_t w, double frac,
                                            int ternary, lip_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
