/* lipcl tests — datasets: IDX files written here (raw and gzip) read back exactly, every malformed-file
 * error naming its file, the real MNIST / Fashion-MNIST files when present, label transforms, seeded
 * splits and batches, and the synthetic sets (moons, circles, the Wasserstein squares). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"

static char tmpdir[256];

static int mkdir_ok(const char *path) { return mkdir(path, 0700) == 0; }

/* ---- IDX writer (test side) ------------------------------------------------------------------- */

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file in memory: magic, dims, then `data_bytes` of data. *size receives the total. */
static unsigned char *idx_bytes(int type, int rank, const uint32_t *dims, const void *data, size_t data_bytes,
                                size_t *size) {
    size_t head = 4 + 4 * (size_t)rank;
    unsigned char *b = malloc(head + data_bytes + 1);
    b[0] = 0;
    b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) put_be32(b + 4 + 4 * i, dims[i]);
    memcpy(b + head, data, data_bytes);
    *size = head + data_bytes;
    return b;
}

static char *path_of(const char *name) {
    char *p = malloc(strlen(tmpdir) + strlen(name) + 2);
    sprintf(p, "%s/%s", tmpdir, name);
    return p;
}

/* Write bytes to tmpdir/name, gzip-compressed when gz. Returns the malloc'ed path. */
static char *write_file(const char *name, const unsigned char *bytes, size_t size, int gz) {
    char *p = path_of(name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        if (!f || (size && gzwrite(f, bytes, (unsigned)size) != (int)size) || gzclose(f) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", p);
            exit(1);
        }
    } else {
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(bytes, 1, size, f) != size || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", p);
            exit(1);
        }
    }
    return p;
}

static unsigned char *read_whole(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) exit(1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* The status is `st` and the message names `path` and contains `needle`. */
#define CHECK_FILE_ERROR(ctx, expr, st, path, needle)                                                \
    do {                                                                                           \
        CHECK_STATUS(expr, st);                                                                    \
        CHECK_MESSAGE(ctx, path);                                                                  \
        CHECK_MESSAGE(ctx, needle);                                                                \
    } while (0)

/* ---- IDX round trips ----------------------------------------------------------------------- */

static void check_idx_roundtrip(lip_context *ctx, uint64_t *rng) {
    const uint32_t n = 5, h = 7, w = 3;
    unsigned char pix[5 * 7 * 3], lab[5];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (unsigned char)(test_uniform(rng, 0, 256));
    pix[0] = 0;
    pix[1] = 255;
    for (size_t i = 0; i < n; i++) lab[i] = (unsigned char)(i * 7 % 10);
    uint32_t idims[3] = {n, h, w}, ldims[1] = {n};
    size_t isz, lsz;
    unsigned char *ib = idx_bytes(0x08, 3, idims, pix, sizeof pix, &isz);
    unsigned char *lb = idx_bytes(0x08, 1, ldims, lab, sizeof lab, &lsz);
    for (int gz = 0; gz < 2; gz++) {
        /* Names carry no extension: the reader detects gzip from the content. */
        char *ip = write_file(gz ? "img_gz" : "img_raw", ib, isz, gz);
        char *lp = write_file(gz ? "lab_gz" : "lab_raw", lb, lsz, gz);
        lip_dataset *ds = NULL;
        CHECK_OK(lip_dataset_load_idx(ctx, ip, lp, &ds));
        if (ds) {
            CHECK(lip_dataset_count(ds) == n);
            int nd = 0;
            size_t shape[LIP_MAX_DIMS];
            CHECK_OK(lip_dataset_sample_shape(ds, &nd, shape));
            CHECK(nd == 3 && shape[0] == h && shape[1] == w && shape[2] == 1);
            CHECK(lip_dataset_sample_size(ds) == h * w);
            const float *x = lip_dataset_features(ds);
            int same = 1;
            for (size_t i = 0; i < sizeof pix; i++) same &= x[i] == (float)pix[i];
            CHECK(same);
            const int32_t *c = lip_dataset_classes(ds);
            for (size_t i = 0; i < n; i++) CHECK(c && c[i] == lab[i]);
            size_t tw = 9;
            CHECK(lip_dataset_targets(ds, &tw) == NULL && tw == 0);
            CHECK(lip_dataset_num_classes(ds) == 9); /* labels 0, 7, 4, 1, 8 */
        }
        lip_dataset_free(ds);
        free(ip);
        free(lp);
    }
    free(ib);
    free(lb);

    /* Other element types: float32 2-D images (n, d) and int16 labels; 4-D images (n, h, w, c). */
    const uint32_t n2 = 4, d = 6;
    float vals[4 * 6];
    unsigned char be[4 * 6 * 4];
    for (size_t i = 0; i < n2 * d; i++) {
        vals[i] = (float)test_uniform(rng, -100, 100);
        uint32_t u;
        memcpy(&u, &vals[i], 4);
        put_be32(be + 4 * i, u);
    }
    int16_t labs16[4] = {-3, 300, 0, 7};
    unsigned char be16[8];
    for (int i = 0; i < 4; i++) {
        be16[2 * i] = (unsigned char)((uint16_t)labs16[i] >> 8);
        be16[2 * i + 1] = (unsigned char)((uint16_t)labs16[i] & 0xff);
    }
    uint32_t fd[2] = {n2, d}, l4[1] = {n2};
    ib = idx_bytes(0x0D, 2, fd, be, sizeof be, &isz);
    lb = idx_bytes(0x0B, 1, l4, be16, sizeof be16, &lsz);
    char *ip = write_file("img_f32.gz", ib, isz, 1), *lp = write_file("lab_i16", lb, lsz, 0);
    lip_dataset *ds = NULL;
    CHECK_OK(lip_dataset_load_idx(ctx, ip, lp, &ds));
    if (ds) {
        int nd = 0;
        size_t shape[LIP_MAX_DIMS];
        CHECK_OK(lip_dataset_sample_shape(ds, &nd, shape));
        CHECK(nd == 1 && shape[0] == d);
        CHECK(memcmp(lip_dataset_features(ds), vals, sizeof vals) == 0);
        for (int i = 0; i < 4; i++) CHECK(lip_dataset_classes(ds)[i] == labs16[i]);
    }
    lip_dataset_free(ds);
    free(ib);
    free(ip);
    unsigned char px4[4 * 2 * 2 * 3];
    for (size_t i = 0; i < sizeof px4; i++) px4[i] = (unsigned char)i;
    uint32_t d4[4] = {4, 2, 2, 3};
    ib = idx_bytes(0x08, 4, d4, px4, sizeof px4, &isz);
    ip = write_file("img_4d", ib, isz, 0);
    CHECK_OK(lip_dataset_load_idx(ctx, ip, lp, &ds));
    if (ds) {
        int nd = 0;
        size_t shape[LIP_MAX_DIMS];
        CHECK_OK(lip_dataset_sample_shape(ds, &nd, shape));
        CHECK(nd == 3 && shape[0] == 2 && shape[1] == 2 && shape[2] == 3);
        CHECK(lip_dataset_features(ds)[47] == 47.0f);
    }
    lip_dataset_free(ds);
    free(ib);
    free(ip);
    free(lb);
    free(lp);
}

/* Every malformed input: the status and a message naming the file. */
static void check_idx_errors(lip_context *ctx) {
    const uint32_t n = 6;
    unsigned char pix[6 * 4 * 4], lab[6] = {1, 2, 3, 4, 5, 6};
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (unsigned char)(i * 3);
    uint32_t idims[3] = {n, 4, 4}, ldims[1] = {n};
    size_t isz, lsz;
    unsigned char *ib = idx_bytes(0x08, 3, idims, pix, sizeof pix, &isz);
    unsigned char *lb = idx_bytes(0x08, 1, ldims, lab, sizeof lab, &lsz);
    char *good_img = write_file("good_img.gz", ib, isz, 1), *good_lab = write_file("good_lab", lb, lsz, 0);
    lip_dataset *ds = (lip_dataset *)1;

    /* Missing files. */
    char *missing = path_of("no_such_file.gz");
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, missing, good_lab, &ds), LIP_ERR_IO, missing, "cannot open");
    CHECK(ds == NULL);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, good_img, missing, &ds), LIP_ERR_IO, missing, "cannot open");
    /* A folder is not a file. */
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, tmpdir, good_lab, &ds), LIP_ERR_IO, tmpdir, "IDX images");

    /* Truncated data, raw and gzip; truncated header; empty file. */
    for (int gz = 0; gz < 2; gz++) {
        char *p = write_file(gz ? "trunc.gz" : "trunc", ib, isz - 5, gz);
        CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "truncated");
        CHECK_MESSAGE(ctx, "6 x 4 x 4");
        free(p);
    }
    char *p = write_file("trunc_head", ib, 9, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "truncated");
    free(p);
    p = write_file("empty", ib, 0, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "truncated");
    free(p);

    /* A gzip stream cut in the middle (the compressed bytes, not the data). */
    size_t gsz;
    unsigned char *gbytes = read_whole(good_img, &gsz);
    p = write_file("cut_stream.gz", gbytes, gsz / 2, 0);
    CHECK_STATUS(lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT);
    CHECK_MESSAGE(ctx, p);
    free(p);
    /* A corrupted gzip trailer (CRC). */
    gbytes[gsz - 6] ^= 0xff;
    p = write_file("bad_crc.gz", gbytes, gsz, 0);
    CHECK_STATUS(lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT);
    CHECK_MESSAGE(ctx, p);
    free(p);
    free(gbytes);

    /* Wrong magic, unknown type, bad rank. */
    unsigned char *bad = malloc(isz);
    memcpy(bad, ib, isz);
    bad[0] = 0x1f;
    p = write_file("bad_magic", bad, isz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "not an IDX file");
    free(p);
    memcpy(bad, ib, isz);
    bad[2] = 0x07;
    p = write_file("bad_type", bad, isz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "not an IDX file");
    free(p);
    memcpy(bad, ib, isz);
    bad[3] = 0;
    p = write_file("bad_rank", bad, isz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "rank");
    free(p);
    free(bad);

    /* Trailing bytes. */
    unsigned char *longer = malloc(isz + 3);
    memcpy(longer, ib, isz);
    longer[isz] = longer[isz + 1] = longer[isz + 2] = 7;
    p = write_file("trailing.gz", longer, isz + 3, 1);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "3 bytes follow");
    free(p);
    free(longer);

    /* Wrong dimensions: 1-D images, 2-D labels, a zero dimension, float labels. */
    size_t sz;
    unsigned char *b1 = idx_bytes(0x08, 1, ldims, lab, sizeof lab, &sz);
    p = write_file("img_1d", b1, sz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "at least 2");
    free(p);
    free(b1);
    uint32_t l2[2] = {3, 2};
    b1 = idx_bytes(0x08, 2, l2, lab, sizeof lab, &sz);
    p = write_file("lab_2d", b1, sz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, good_img, p, &ds), LIP_ERR_FORMAT, p, "1-D");
    free(p);
    free(b1);
    uint32_t z[3] = {6, 0, 4};
    b1 = idx_bytes(0x08, 3, z, pix, 0, &sz);
    p = write_file("zero_dim", b1, sz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, p, good_lab, &ds), LIP_ERR_FORMAT, p, "dimension 1 is 0");
    free(p);
    free(b1);
    unsigned char fl[6 * 4] = {0};
    b1 = idx_bytes(0x0D, 1, ldims, fl, sizeof fl, &sz);
    p = write_file("lab_float", b1, sz, 0);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, good_img, p, &ds), LIP_ERR_FORMAT, p, "integers");
    free(p);
    free(b1);

    /* Label / image count mismatch: both files named. */
    uint32_t l5[1] = {5};
    b1 = idx_bytes(0x08, 1, l5, lab, 5, &sz);
    p = write_file("lab_5", b1, sz, 1);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_idx(ctx, good_img, p, &ds), LIP_ERR_FORMAT, p, good_img);
    CHECK_MESSAGE(ctx, "5 labels");
    free(p);
    free(b1);

    CHECK_STATUS(lip_dataset_load_idx(ctx, NULL, good_lab, &ds), LIP_ERR_NULL);
    CHECK_STATUS(lip_dataset_load_idx(NULL, good_img, good_lab, &ds), LIP_ERR_NULL);

    /* The MNIST folder loader: standard names, written here; then a folder without them. */
    char *mdir = path_of("mnist");
    CHECK(mkdir_ok(mdir));
    char name[512];
    snprintf(name, sizeof name, "mnist/t10k-images-idx3-ubyte.gz");
    free(write_file(name, ib, isz, 1));
    snprintf(name, sizeof name, "mnist/t10k-labels-idx1-ubyte");
    free(write_file(name, lb, lsz, 0));
    CHECK_OK(lip_dataset_load_mnist_dir(ctx, mdir, "t10k", &ds));
    CHECK(ds && lip_dataset_count(ds) == n);
    lip_dataset_free(ds);
    CHECK_FILE_ERROR(ctx, lip_dataset_load_mnist_dir(ctx, mdir, "train", &ds), LIP_ERR_IO, mdir,
                     "train-images-idx3-ubyte.gz");
    CHECK(ds == NULL);
    CHECK_STATUS(lip_dataset_load_mnist_dir(ctx, mdir, "validation", &ds), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "t10k");
    free(mdir);

    free(missing);
    free(good_img);
    free(good_lab);
    free(ib);
    free(lb);
}

/* ---- real files -------------------------------------------------------------------------------- */

/* Returns 0 when the folder's files are absent (that part is skipped). */
static int check_real(lip_context *ctx, const char *dir, const char *split, size_t expect_n, int balanced) {
    char probe[512];
    snprintf(probe, sizeof probe, "%s/%s-images-idx3-ubyte.gz", dir, split);
    if (access(probe, R_OK) != 0) {
        printf("%s/%s: absent, skipped\n", dir, split);
        return 0;
    }
    lip_dataset *ds = NULL;
    CHECK_OK(lip_dataset_load_mnist_dir(ctx, dir, split, &ds));
    if (!ds) return 1;
    size_t n = lip_dataset_count(ds);
    CHECK(n == expect_n);
    int nd = 0;
    size_t shape[LIP_MAX_DIMS];
    CHECK_OK(lip_dataset_sample_shape(ds, &nd, shape));
    CHECK(nd == 3 && shape[0] == 28 && shape[1] == 28 && shape[2] == 1);
    const float *x = lip_dataset_features(ds);
    float lo = 1e9f, hi = -1e9f;
    int integral = 1;
    for (size_t i = 0; i < n * 784; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        integral &= x[i] == floorf(x[i]);
    }
    CHECK(lo == 0.0f && hi == 255.0f && integral);
    size_t hist[10] = {0};
    const int32_t *c = lip_dataset_classes(ds);
    int in_range = 1;
    for (size_t i = 0; i < n; i++) {
        in_range &= c[i] >= 0 && c[i] <= 9;
        if (c[i] >= 0 && c[i] <= 9) hist[c[i]]++;
    }
    CHECK(in_range);
    size_t total = 0;
    printf("%s/%s: %zu images, classes:", dir, split, n);
    for (int k = 0; k < 10; k++) {
        printf(" %zu", hist[k]);
        total += hist[k];
        if (balanced)
            CHECK(hist[k] == n / 10); /* Fashion-MNIST: exactly balanced */
        else
            CHECK(hist[k] > n / 20 && hist[k] < n / 5);
    }
    printf("\n");
    CHECK(total == n);

    /* Scale to [0, 1], then the binary 0-vs-8 task. */
    CHECK_OK(lip_dataset_scale(ds, 1.0f / 255.0f, 0.0f));
    x = lip_dataset_features(ds);
    lo = 1e9f;
    hi = -1e9f;
    for (size_t i = 0; i < n * 784; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    CHECK(lo == 0.0f && hi == 1.0f);
    CHECK_OK(lip_dataset_select_classes(ds, 0, 8));
    CHECK(lip_dataset_count(ds) == hist[0] + hist[8]);
    size_t tw = 0;
    const float *t = lip_dataset_targets(ds, &tw);
    c = lip_dataset_classes(ds);
    CHECK(tw == 1 && t);
    int ok = 1;
    for (size_t i = 0; i < lip_dataset_count(ds); i++) ok &= (c[i] == 0 && t[i] == 1.0f) || (c[i] == 8 && t[i] == -1.0f);
    CHECK(ok);
    lip_dataset_free(ds);
    return 1;
}

/* ---- transforms, splits, batches -------------------------------------------------------------- */

/* n samples of shape (3): x = (i, −i, 0.5), classes i % 4. */
static lip_dataset *indexed(lip_context *ctx, size_t n) {
    float *x = malloc(n * 3 * sizeof *x);
    int32_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        x[3 * i] = (float)i;
        x[3 * i + 1] = -(float)i;
        x[3 * i + 2] = 0.5f;
        c[i] = (int32_t)(i % 4);
    }
    size_t shape[1] = {3};
    lip_dataset *ds = NULL;
    REQUIRE_OK(lip_dataset_create(ctx, n, 1, shape, x, c, 0, NULL, &ds));
    free(x);
    free(c);
    return ds;
}

static void check_transforms(lip_context *ctx) {
    lip_dataset *ds = indexed(ctx, 10);
    /* One-hot ±1 and 1/0. */
    CHECK_OK(lip_dataset_one_hot(ds, 5, 1.0f, -1.0f));
    size_t tw = 0;
    const float *t = lip_dataset_targets(ds, &tw);
    CHECK(tw == 5);
    int ok = 1;
    for (size_t i = 0; i < 10; i++)
        for (size_t k = 0; k < 5; k++) ok &= t[i * 5 + k] == ((size_t)(i % 4) == k ? 1.0f : -1.0f);
    CHECK(ok);
    CHECK_OK(lip_dataset_one_hot(ds, 4, 1.0f, 0.0f));
    t = lip_dataset_targets(ds, &tw);
    CHECK(tw == 4 && t[4 * 3 + 3] == 1.0f && t[4 * 3 + 2] == 0.0f);
    CHECK_STATUS(lip_dataset_one_hot(ds, 3, 1.0f, 0.0f), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "class 3");
    /* Binary targets. */
    CHECK_OK(lip_dataset_binary_targets(ds, 2, 1.0f, -1.0f));
    t = lip_dataset_targets(ds, &tw);
    CHECK(tw == 1 && t[2] == 1.0f && t[6] == 1.0f && t[3] == -1.0f);
    /* Stats and standardization. */
    double mean = 0, sd = 0;
    CHECK_OK(lip_dataset_stats(ds, &mean, &sd));
    double rm = 0, rq = 0;
    for (size_t i = 0; i < 10; i++) rm += (double)i - (double)i + 0.5;
    rm /= 30;
    for (size_t i = 0; i < 10; i++) rq += (i - rm) * (i - rm) + (-(double)i - rm) * (-(double)i - rm) + (0.5 - rm) * (0.5 - rm);
    CHECK_NEAR(mean, rm, 1e-12);
    CHECK_NEAR(sd, sqrt(rq / 30), 1e-12);
    CHECK_OK(lip_dataset_standardize(ds, mean, sd));
    double m2 = 0, s2 = 0;
    CHECK_OK(lip_dataset_stats(ds, &m2, &s2));
    CHECK_NEAR(m2, 0, 1e-6);
    CHECK_NEAR(s2, 1, 1e-6);
    CHECK_STATUS(lip_dataset_standardize(ds, 0, 0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_dataset_scale(ds, NAN, 0), LIP_ERR_INVALID_ARGUMENT);
    /* Class selection keeps order and maps to ±1. */
    CHECK_OK(lip_dataset_select_classes(ds, 3, 1));
    CHECK(lip_dataset_count(ds) == 5); /* 1, 3, 5, 7, 9 */
    const int32_t *c = lip_dataset_classes(ds);
    t = lip_dataset_targets(ds, &tw);
    CHECK(c[0] == 1 && c[1] == 3 && c[4] == 1 && t[0] == -1.0f && t[1] == 1.0f && tw == 1);
    CHECK_STATUS(lip_dataset_select_classes(ds, 0, 2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "no sample of class 0 or 2");
    CHECK_STATUS(lip_dataset_select_classes(ds, 1, 1), LIP_ERR_INVALID_ARGUMENT);
    lip_dataset_free(ds);

    /* Creation errors and the context's refusal to die before its datasets. */
    size_t shape[1] = {3};
    float x[3] = {0, 0, 0};
    lip_dataset *d = (lip_dataset *)1;
    CHECK_STATUS(lip_dataset_create(ctx, 0, 1, shape, x, NULL, 0, NULL, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "at least one sample");
    CHECK(d == NULL);
    CHECK_STATUS(lip_dataset_create(ctx, 1, 1, shape, NULL, NULL, 0, NULL, &d), LIP_ERR_NULL);
    CHECK_STATUS(lip_dataset_create(ctx, 1, 4, shape, x, NULL, 0, NULL, &d), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_dataset_create(ctx, 1, 1, shape, x, NULL, 2, NULL, &d), LIP_ERR_INVALID_ARGUMENT);
    REQUIRE_OK(lip_dataset_create(ctx, 1, 1, shape, x, NULL, 0, NULL, &d));
    CHECK_STATUS(lip_dataset_one_hot(d, 3, 1, 0), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "no classes");
    CHECK_STATUS(lip_context_free(ctx), LIP_ERR_BUSY);
    lip_dataset_free(d);
    lip_dataset_free(NULL);
}

static void check_split(lip_context *ctx) {
    lip_dataset *ds = indexed(ctx, 101);
    lip_dataset *a = NULL, *b = NULL, *a2 = NULL, *b2 = NULL, *a3 = NULL, *b3 = NULL;
    CHECK_OK(lip_dataset_split(ds, 0.8, 42, &a, &b));
    CHECK_OK(lip_dataset_split(ds, 0.8, 42, &a2, &b2));
    CHECK_OK(lip_dataset_split(ds, 0.8, 43, &a3, &b3));
    if (!a || !b || !a2 || !a3) return;
    CHECK(lip_dataset_count(a) == 81 && lip_dataset_count(b) == 20);
    /* Same seed: identical; another seed: another partition. */
    CHECK(memcmp(lip_dataset_features(a), lip_dataset_features(a2), 81 * 3 * sizeof(float)) == 0);
    CHECK(memcmp(lip_dataset_features(a), lip_dataset_features(a3), 81 * 3 * sizeof(float)) != 0);
    /* A partition: every index once, each part increasing, classes follow their samples. */
    int seen[101] = {0}, ok = 1;
    const lip_dataset *parts[2] = {a, b};
    for (int p = 0; p < 2; p++) {
        const float *x = lip_dataset_features(parts[p]);
        const int32_t *c = lip_dataset_classes(parts[p]);
        for (size_t i = 0; i < lip_dataset_count(parts[p]); i++) {
            size_t k = (size_t)x[3 * i];
            seen[k]++;
            ok &= c[i] == (int32_t)(k % 4) && x[3 * i + 1] == -(float)k;
            if (i) ok &= x[3 * i] > x[3 * (i - 1)];
        }
    }
    for (int k = 0; k < 101; k++) ok &= seen[k] == 1;
    CHECK(ok);
    /* The held-out part is not just the tail. */
    CHECK(lip_dataset_features(b)[0] < 81.0f);
    lip_dataset *e1 = NULL, *e2 = NULL;
    CHECK_STATUS(lip_dataset_split(ds, 1.0, 1, &e1, &e2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_dataset_split(ds, 0.001, 1, &e1, &e2), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "empty part");
    size_t idx[3] = {5, 5, 100};
    lip_dataset *s = NULL;
    CHECK_OK(lip_dataset_subset(ds, idx, 3, &s));
    CHECK(s && lip_dataset_count(s) == 3 && lip_dataset_features(s)[6] == 100.0f);
    lip_dataset_free(s);
    idx[1] = 101;
    CHECK_STATUS(lip_dataset_subset(ds, idx, 3, &s), LIP_ERR_INVALID_ARGUMENT);
    lip_dataset *all[] = {ds, a, b, a2, b2, a3, b3};
    for (size_t i = 0; i < 7; i++) lip_dataset_free(all[i]);
}

/* Collect one epoch's order; returns the number of batches. */
static size_t epoch_order(lip_batcher *bt, size_t *order, size_t n, size_t batch, int *ok) {
    size_t got = 0, batches = 0;
    lip_batch b;
    int has = 1;
    while (has) {
        CHECK_OK(lip_batcher_next(bt, &b, &has));
        if (!has) break;
        batches++;
        size_t expect = n - got < batch ? n - got : batch;
        *ok &= b.count == expect && b.classes && !b.targets;
        for (size_t i = 0; i < b.count && got < n; i++) {
            *ok &= b.x[3 * i] == (float)b.indices[i] && b.classes[i] == (int32_t)(b.indices[i] % 4);
            order[got++] = b.indices[i];
        }
    }
    *ok &= got == n;
    return batches;
}

static void check_batches(lip_context *ctx) {
    const size_t n = 103, batch = 10;
    lip_dataset *ds = indexed(ctx, n);
    lip_batcher *bt = NULL, *bt2 = NULL, *plain = NULL;
    REQUIRE_OK(lip_batcher_create(ds, batch, 1, 7, &bt));
    REQUIRE_OK(lip_batcher_create(ds, batch, 1, 7, &bt2));
    CHECK(lip_batcher_batches_per_epoch(bt) == 11);
    size_t e0[103], e1[103], r0[103], r1[103];
    int ok = 1;
    CHECK(epoch_order(bt, e0, n, batch, &ok) == 11);
    CHECK(epoch_order(bt, e1, n, batch, &ok) == 11);
    CHECK(ok);
    /* Every sample exactly once per epoch, in a shuffled order that changes between epochs. */
    for (int e = 0; e < 2; e++) {
        int seen[103] = {0}, once = 1;
        const size_t *o = e ? e1 : e0;
        for (size_t i = 0; i < n; i++) seen[o[i]]++;
        for (size_t i = 0; i < n; i++) once &= seen[i] == 1;
        CHECK(once);
    }
    size_t fixed = 0;
    for (size_t i = 0; i < n; i++) fixed += e0[i] == i;
    CHECK(fixed < n / 4);
    CHECK(memcmp(e0, e1, sizeof e0) != 0);
    /* The same seed replays the same epochs. */
    epoch_order(bt2, r0, n, batch, &ok);
    epoch_order(bt2, r1, n, batch, &ok);
    CHECK(memcmp(e0, r0, sizeof e0) == 0 && memcmp(e1, r1, sizeof e1) == 0);
    /* Position and seek: resume epoch 1 at its third batch. */
    uint64_t ep = 9;
    size_t off = 9;
    CHECK_OK(lip_batcher_position(bt, &ep, &off));
    CHECK(ep == 2 && off == 0);
    CHECK_OK(lip_batcher_seek(bt, 1, 20));
    lip_batch b;
    int has = 0;
    CHECK_OK(lip_batcher_next(bt, &b, &has));
    CHECK(has && b.count == 10 && memcmp(b.indices, e1 + 20, 10 * sizeof(size_t)) == 0);
    CHECK_OK(lip_batcher_position(bt, &ep, &off));
    CHECK(ep == 1 && off == 30);
    CHECK_STATUS(lip_batcher_seek(bt, 0, 15), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "multiple of the batch size");
    /* Without shuffle: the dataset order; a batch larger than the set gives one batch. */
    REQUIRE_OK(lip_batcher_create(ds, 1000, 0, 0, &plain));
    CHECK(lip_batcher_batches_per_epoch(plain) == 1);
    CHECK_OK(lip_batcher_next(plain, &b, &has));
    CHECK(has && b.count == n);
    int in_order = 1;
    for (size_t i = 0; i < n; i++) in_order &= b.indices[i] == i;
    CHECK(in_order);
    CHECK_OK(lip_batcher_next(plain, &b, &has));
    CHECK(!has);
    /* Targets travel with their samples. */
    lip_batcher_free(plain);
    CHECK_OK(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f));
    REQUIRE_OK(lip_batcher_create(ds, 16, 1, 3, &plain));
    CHECK_OK(lip_batcher_next(plain, &b, &has));
    int tok = has && b.targets && b.target_width == 1;
    for (size_t i = 0; tok && i < b.count; i++) tok &= b.targets[i] == (b.indices[i] % 4 == 1 ? 1.0f : -1.0f);
    CHECK(tok);
    lip_batcher *bad = NULL;
    CHECK_STATUS(lip_batcher_create(ds, 0, 1, 1, &bad), LIP_ERR_INVALID_ARGUMENT);
    lip_batcher_free(plain);
    lip_batcher_free(bt);
    lip_batcher_free(bt2);
    lip_batcher_free(NULL);
    lip_dataset_free(ds);
}

/* ---- synthetic sets --------------------------------------------------------------------------- */

static void check_moons_circles(lip_context *ctx) {
    const double pi = 3.14159265358979323846;
    for (int kind = 0; kind < 2; kind++) {
        const char *name = kind ? "circles" : "moons";
        const size_t n = 201;
        lip_dataset *clean = NULL, *noisy = NULL, *again = NULL, *other = NULL;
        if (kind) {
            REQUIRE_OK(lip_dataset_make_circles(ctx, n, 0.0, 0.5, 0, 1, &clean));
            REQUIRE_OK(lip_dataset_make_circles(ctx, 4000, 0.05, 0.5, 1, 11, &noisy));
            REQUIRE_OK(lip_dataset_make_circles(ctx, 4000, 0.05, 0.5, 1, 11, &again));
            REQUIRE_OK(lip_dataset_make_circles(ctx, 4000, 0.05, 0.5, 1, 12, &other));
        } else {
            REQUIRE_OK(lip_dataset_make_moons(ctx, n, 0.0, 0, 1, &clean));
            REQUIRE_OK(lip_dataset_make_moons(ctx, 4000, 0.05, 1, 11, &noisy));
            REQUIRE_OK(lip_dataset_make_moons(ctx, 4000, 0.05, 1, 11, &again));
            REQUIRE_OK(lip_dataset_make_moons(ctx, 4000, 0.05, 1, 12, &other));
        }
        int nd = 0;
        size_t shape[LIP_MAX_DIMS];
        CHECK_OK(lip_dataset_sample_shape(clean, &nd, shape));
        CHECK(nd == 1 && shape[0] == 2 && lip_dataset_count(clean) == n);
        /* Unshuffled and noiseless: ⌊n/2⌋ outer points of class 0 then the inner ones, on their curves,
         * evenly spaced from angle 0. */
        const float *x = lip_dataset_features(clean);
        const int32_t *c = lip_dataset_classes(clean);
        double worst = 0;
        int order = 1;
        for (size_t i = 0; i < n; i++) {
            int outer = i < n / 2;
            order &= c[i] == (outer ? 0 : 1);
            double px = x[2 * i], py = x[2 * i + 1], r;
            if (kind)
                r = sqrt(px * px + py * py) - (outer ? 1.0 : 0.5);
            else
                r = outer ? sqrt(px * px + py * py) - 1.0 : sqrt((px - 1) * (px - 1) + (py - 0.5) * (py - 0.5)) - 1.0;
            worst = fmax(worst, fabs(r));
        }
        CHECK(order);
        CHECK(worst < 1e-6);
        CHECK_NEAR(x[0], 1.0, 1e-7); /* angle 0 */
        CHECK_NEAR(x[1], 0.0, 1e-7);
        if (!kind) {
            CHECK_NEAR(x[2 * 99], -1.0, 1e-7); /* the outer moon ends at angle π: (−1, 0) */
            CHECK_NEAR(x[2 * 100], 0.0, 1e-7); /* the inner one starts at (1 − cos 0, 1 − sin 0 − 0.5) = (0, 0.5) */
            CHECK_NEAR(x[2 * 100 + 1], 0.5, 1e-7);
        } else {
            CHECK_NEAR(x[2 * 25], cos(2 * pi * 25 / 100), 1e-7);
        }
        /* Noisy and shuffled: balanced, reproducible, residuals ≈ the noise. */
        size_t m = lip_dataset_count(noisy), ones = 0;
        const float *xn = lip_dataset_features(noisy);
        const int32_t *cn = lip_dataset_classes(noisy);
        double ss = 0;
        size_t first_half_ones = 0;
        for (size_t i = 0; i < m; i++) {
            ones += cn[i] == 1;
            if (i < m / 2) first_half_ones += cn[i] == 1;
            double px = xn[2 * i], py = xn[2 * i + 1], r;
            if (kind)
                r = sqrt(px * px + py * py) - (cn[i] ? 0.5 : 1.0);
            else
                r = cn[i] ? sqrt((px - 1) * (px - 1) + (py - 0.5) * (py - 0.5)) - 1.0 : sqrt(px * px + py * py) - 1.0;
            ss += r * r;
        }
        CHECK(ones == m / 2);
        CHECK(first_half_ones > m / 5 && first_half_ones < 3 * m / 10); /* shuffled: about half of the half */
        double rms = sqrt(ss / (double)m);
        printf("%s: radial rms %.4f for noise 0.05\n", name, rms);
        CHECK(rms > 0.04 && rms < 0.06);
        CHECK(memcmp(lip_dataset_features(noisy), lip_dataset_features(again), m * 2 * sizeof(float)) == 0);
        CHECK(memcmp(lip_dataset_features(noisy), lip_dataset_features(other), m * 2 * sizeof(float)) != 0);
        lip_dataset_free(clean);
        lip_dataset_free(noisy);
        lip_dataset_free(again);
        lip_dataset_free(other);
    }
    lip_dataset *d = NULL;
    CHECK_STATUS(lip_dataset_make_moons(ctx, 100, -0.1, 1, 0, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "noise");
    CHECK_STATUS(lip_dataset_make_moons(ctx, 1, 0.1, 1, 0, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_dataset_make_circles(ctx, 100, 0.1, 1.0, 1, 0, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "factor");
}

static void check_squares(lip_context *ctx) {
    const size_t sizes[2][2] = {{64, 64}, {10, 7}};
    const double fracs[2] = {0.3, 0.5};
    for (int s = 0; s < 2; s++)
        for (int ternary = 0; ternary < 2; ternary++) {
            size_t h = sizes[s][0], w = sizes[s][1], n = 64;
            lip_dataset *ds = NULL;
            REQUIRE_OK(lip_dataset_make_squares(ctx, n, h, w, fracs[s], ternary, &ds));
            int nd = 0;
            size_t shape[LIP_MAX_DIMS];
            CHECK_OK(lip_dataset_sample_shape(ds, &nd, shape));
            CHECK(nd == 3 && shape[0] == h && shape[1] == w && shape[2] == 1);
            /* The notebook's rectangle, recomputed here. */
            size_t l = (size_t)floor((double)h * sqrt(fracs[s])), lw = (size_t)floor((double)w * sqrt(fracs[s]));
            size_t y0 = (h - l) / 2, x0 = (w - lw) / 2;
            const float *x = lip_dataset_features(ds);
            const int32_t *c = lip_dataset_classes(ds);
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                float v = i < n / 2 ? 0.0f : (ternary && i < 3 * n / 4 ? -1.0f : 1.0f);
                ok &= c[i] == (i < n / 2 ? 0 : 1);
                for (size_t y = 0; y < h; y++)
                    for (size_t xx = 0; xx < w; xx++) {
                        int in = y >= y0 && y < y0 + l && xx >= x0 && xx < x0 + lw;
                        ok &= x[i * h * w + y * w + xx] == (in ? v : 0.0f);
                    }
            }
            CHECK(ok);
            if (s == 0) {
                /* 64×64, frac 0.3: a 35×35 square, so ‖square − black‖ = 35 = W1 of the demo. */
                CHECK(l == 35 && lw == 35);
                double d = 0;
                for (size_t k = 0; k < h * w; k++) {
                    double diff = (double)x[(n - 1) * h * w + k] - x[0 * h * w + k];
                    d += diff * diff;
                }
                CHECK_NEAR(sqrt(d), 35.0, 1e-12);
            }
            lip_dataset_free(ds);
        }
    lip_dataset *d = NULL;
    CHECK_STATUS(lip_dataset_make_squares(ctx, 63, 8, 8, 0.3, 0, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "even");
    CHECK_STATUS(lip_dataset_make_squares(ctx, 64, 8, 8, 0.0, 0, &d), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "frac");
}

int main(void) {
    lip_context *ctx = test_context();
    test_ctx_for_messages = ctx;
    uint64_t rng = test_seed(31337);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lipcl-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }

    check_idx_roundtrip(ctx, &rng);
    check_idx_errors(ctx);
    int real = 0;
    real += check_real(ctx, "/work/shared/data/mnist-t10k", "t10k", 10000, 0);
    real += check_real(ctx, "/usr/share/datasets/fashion-mnist", "t10k", 10000, 1);
    real += check_real(ctx, "/usr/share/datasets/fashion-mnist", "train", 60000, 1);
    if (!real) printf("no real MNIST files here: that part skipped\n");
    check_transforms(ctx);
    check_split(ctx);
    check_batches(ctx);
    check_moons_circles(ctx);
    check_squares(ctx);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    test_context_free(ctx);
    return test_finish("test_data");
}
