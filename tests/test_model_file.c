/* lipcl tests — model files: round trips of every layer family (bitwise-identical predictions), exact
 * training resume, every truncation and byte flip of a small file refused, foreign files, atomic writes. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "layers/layer.h"
#include "lipcl/io.h"
#include "lipcl/lipcl.h"

static lip_context *ctx;
static uint64_t rng;
static char dir[64];

static char *path_in(const char *name) {
    static char buf[4][320];
    static int at;
    char *p = buf[at++ % 4];
    snprintf(p, 320, "%.64s/%.200s", dir, name);
    return p;
}

static void add(lip_model *m, lip_layer *l) { CHECK_OK(lip_model_add(m, l)); }

/* in (8, 6, 2): every conv, pooling, resampling, reshaping and activation family, a residual sum, and
 * non-default options (k, pad modes, strides) so that the options have to survive. */
static lip_model *image_model(void) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    CHECK_OK(lip_model_create(ctx, "every family", &m));
    lip_conv2d_config cc = lip_conv2d_config_default(4, 3, 3);
    cc.k_coef_lip = 1.25f;
    CHECK_OK(lip_spectral_conv2d_create(ctx, &cc, "sconv", &l)); add(m, l);
    CHECK_OK(lip_prelu_lip_create(ctx, 0.7f, "prelu", &l)); add(m, l);
    cc.k_coef_lip = 1.0f;
    CHECK_OK(lip_conv2d_create(ctx, &cc, "conv", &l)); add(m, l);
    int sum = 0;
    CHECK_OK(lip_model_add_sum(m, 1, 2, &sum));
    lip_pool2d_config pc = lip_pool2d_config_default();
    pc.k_coef_lip = 0.9f;
    CHECK_OK(lip_scaled_l2norm_pooling2d_create(ctx, &pc, "l2pool", &l)); add(m, l); /* (4, 3, 4) */
    cc.pad_mode = LIP_PAD_REFLECT;
    cc.k_coef_lip = 1.1f;
    CHECK_OK(lip_frobenius_conv2d_create(ctx, &cc, "fconv", &l)); add(m, l);
    CHECK_OK(lip_groupsort_create(ctx, 2, 1.0f, "gs", &l)); add(m, l);
    CHECK_OK(lip_invertible_downsampling_create(ctx, 2, 1, "down", &l)); add(m, l); /* (2, 3, 8) */
    CHECK_OK(lip_invertible_upsampling_create(ctx, 2, 1, "up", &l)); add(m, l);     /* (4, 3, 4) */
    cc.pad_mode = LIP_PAD_ZEROS;
    CHECK_OK(lip_spectral_conv2d_transpose_create(ctx, &cc, "sconvt", &l)); add(m, l);
    lip_conv2d_config tc = lip_conv2d_config_default(3, 2, 2);
    tc.padding = LIP_PADDING_VALID;
    CHECK_OK(lip_conv2d_transpose_create(ctx, &tc, "convt", &l)); add(m, l); /* (5, 4, 3) */
    lip_pool2d_config mp = lip_pool2d_config_default();
    mp.stride_h = mp.stride_w = 1;
    CHECK_OK(lip_max_pooling2d_create(ctx, &mp, "maxpool", &l)); add(m, l); /* (4, 3, 3) */
    lip_pool2d_config ap = lip_pool2d_config_default();
    ap.pool_w = 1;
    ap.k_coef_lip = 1.3f;
    CHECK_OK(lip_scaled_average_pooling2d_create(ctx, &ap, "avgpool", &l)); add(m, l); /* (2, 3, 3) */
    CHECK_OK(lip_maxmin_create(ctx, 1.5f, "maxmin", &l)); add(m, l);                  /* (2, 3, 6) */
    CHECK_OK(lip_householder_create(ctx, 1.0f, 0.3f, "householder", &l)); add(m, l);
    size_t rs[3] = {3, 0, 2};
    CHECK_OK(lip_reshape_create(ctx, 3, rs, "reshape", &l)); add(m, l); /* (3, 6, 2) */
    CHECK_OK(lip_flatten_create(ctx, NULL, &l)); add(m, l);             /* (36), unnamed */
    lip_dense_config dc = lip_dense_config_default(10);
    CHECK_OK(lip_dense_create(ctx, &dc, "dense", &l)); add(m, l);
    CHECK_OK(lip_relu_create(ctx, "relu", &l)); add(m, l);
    dc.units = 6;
    dc.k_coef_lip = 0.8f;
    dc.maxiter_bjorck = 20;
    CHECK_OK(lip_spectral_dense_create(ctx, &dc, "sdense", &l)); add(m, l);
    CHECK_OK(lip_fullsort_create(ctx, 1.0f, "fullsort", &l)); add(m, l);
    dc.units = 4;
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "fdense", &l)); add(m, l);
    size_t in[3] = {8, 6, 2};
    CHECK_OK(lip_model_build(m, 3, in));
    return m;
}

/* in (5, 3, 4) → GroupSort2 → ScaledGlobalAveragePooling2D, or ScaledGlobalL2NormPooling2D. */
static lip_model *global_model(int l2) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    CHECK_OK(lip_model_create(ctx, l2 ? "gl2" : "gavg", &m));
    CHECK_OK(lip_groupsort2_create(ctx, 1.0f, NULL, &l)); add(m, l);
    if (l2)
        CHECK_OK(lip_scaled_global_l2norm_pooling2d_create(ctx, 1.7f, 1e-5f, "g", &l));
    else
        CHECK_OK(lip_scaled_global_average_pooling2d_create(ctx, 0.6f, "g", &l));
    add(m, l);
    size_t in[3] = {5, 3, 4};
    CHECK_OK(lip_model_build(m, 3, in));
    return m;
}

static size_t in_count(const lip_model *m) {
    const lip_layer *l = lip_model_layer(m, 0);
    return l->in_count;
}

static float *predict(lip_model *m, const float *x, size_t batch, size_t *out_n) {
    int nd = 0;
    size_t os[LIP_MAX_DIMS], oc = 1;
    CHECK_OK(lip_model_output_shape(m, &nd, os));
    for (int i = 0; i < nd; i++) oc *= os[i];
    size_t xs[2] = {batch, in_count(m)}, ys[2] = {batch, oc};
    lip_tensor *tx = test_upload(ctx, 2, xs, x), *ty = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, ys, &ty));
    CHECK_OK(lip_model_predict(m, tx, ty, 0));
    float *y = test_download(ty);
    lip_tensor_free(tx), lip_tensor_free(ty);
    *out_n = batch * oc;
    return y;
}

/* Both models have the same layers (type, name, options, parameters bit for bit). */
static void check_same_layers(lip_model *a, lip_model *b) {
    CHECK(lip_model_node_count(a) == lip_model_node_count(b));
    CHECK(strcmp(lip_model_name(a), lip_model_name(b)) == 0);
    for (size_t i = 0; i < lip_model_node_count(a) && i < lip_model_node_count(b); i++) {
        lip_layer *la = lip_model_layer(a, i), *lb = lip_model_layer(b, i);
        CHECK((la == NULL) == (lb == NULL));
        if (!la || !lb) continue;
        CHECK(strcmp(lip_layer_type(la), lip_layer_type(lb)) == 0);
        CHECK(strcmp(lip_layer_name(la), lip_layer_name(lb)) == 0);
        lip_layer_config ca, cb;
        memset(&ca, 0, sizeof ca), memset(&cb, 0, sizeof cb);
        CHECK_OK(la->vt->get_config(la, &ca));
        CHECK_OK(lb->vt->get_config(lb, &cb));
        CHECK(ca.count == cb.count && memcmp(ca.kv, cb.kv, ca.count * sizeof ca.kv[0]) == 0);
        CHECK(lip_layer_param_count(la) == lip_layer_param_count(lb));
        for (size_t k = 0; k < lip_layer_param_count(la) && k < lip_layer_param_count(lb); k++) {
            lip_tensor *ta = NULL, *tb = NULL;
            CHECK_OK(lip_layer_param(la, k, &ta, NULL, NULL));
            CHECK_OK(lip_layer_param(lb, k, &tb, NULL, NULL));
            size_t n = lip_tensor_count(ta);
            CHECK(n == lip_tensor_count(tb));
            float *fa = test_download(ta), *fb = test_download(tb);
            CHECK(memcmp(fa, fb, n * sizeof *fa) == 0);
            if (memcmp(fa, fb, n * sizeof *fa))
                fprintf(stderr, "  %s '%s' parameter %zu differs\n", lip_layer_type(la), lip_layer_name(la), k);
            free(fa), free(fb);
        }
    }
}

/* save → load: the same layers, and predictions bitwise equal to the saved model after its own
 * reparametrization (the loaded model runs one from the saved u). The RNG state is not disturbed. */
static void round_trip(lip_model *m, const char *file) {
    const size_t batch = 3;
    size_t n = batch * in_count(m);
    float *x = test_falloc(n);
    test_fill_uniform(&rng, x, n, -1, 1);
    CHECK_OK(lip_model_save(m, path_in(file), LIP_SAVE_WEIGHTS));
    uint64_t s0[4], s1[4];
    CHECK_OK(lip_random_get_state(ctx, s0));
    lip_model *b = NULL;
    CHECK_OK(lip_model_load(ctx, path_in(file), &b));
    CHECK_OK(lip_random_get_state(ctx, s1));
    CHECK(memcmp(s0, s1, sizeof s0) == 0);
    if (!b) return;
    CHECK_OK(lip_model_reparametrize(m)); /* load ran one from the saved u: now u agrees too */
    check_same_layers(m, b);
    size_t na = 0, nb = 0;
    float *ya = predict(m, x, batch, &na), *yb = predict(b, x, batch, &nb);
    CHECK(na == nb && memcmp(ya, yb, na * sizeof *ya) == 0);
    free(ya), free(yb);
    /* Both advance u the same way from here. */
    CHECK_OK(lip_model_reparametrize(m));
    CHECK_OK(lip_model_reparametrize(b));
    ya = predict(m, x, batch, &na), yb = predict(b, x, batch, &nb);
    CHECK(na == nb && memcmp(ya, yb, na * sizeof *ya) == 0);
    check_same_layers(m, b);
    free(ya), free(yb), free(x);
    /* A second save of the loaded model is byte-identical to a save of the original. */
    CHECK_OK(lip_model_save(b, path_in("again.lipcl"), LIP_SAVE_WEIGHTS));
    CHECK_OK(lip_model_save(m, path_in("orig.lipcl"), LIP_SAVE_WEIGHTS));
    char *fa = NULL, *fb = NULL;
    size_t sa = 0, sb = 0;
    FILE *f = fopen(path_in("again.lipcl"), "rb");
    if (f) {
        fseek(f, 0, SEEK_END), sa = (size_t)ftell(f), rewind(f);
        fa = malloc(sa + 1);
        CHECK(fread(fa, 1, sa, f) == sa);
        fclose(f);
    }
    f = fopen(path_in("orig.lipcl"), "rb");
    if (f) {
        fseek(f, 0, SEEK_END), sb = (size_t)ftell(f), rewind(f);
        fb = malloc(sb + 1);
        CHECK(fread(fb, 1, sb, f) == sb);
        fclose(f);
    }
    CHECK(fa && fb && sa == sb && memcmp(fa, fb, sa) == 0);
    free(fa), free(fb);
    lip_model_free(b);
}

static void test_round_trips(void) {
    lip_model *m = image_model();
    round_trip(m, "image.lipcl");
    lip_model_free(m);
    for (int l2 = 0; l2 < 2; l2++) {
        m = global_model(l2);
        round_trip(m, "global.lipcl");
        lip_model_free(m);
    }
    /* safetensors: the header announces every tensor with its shape and offsets. */
    m = image_model();
    CHECK_OK(lip_model_save_safetensors(m, path_in("w.safetensors")));
    FILE *f = fopen(path_in("w.safetensors"), "rb");
    CHECK(f != NULL);
    if (f) {
        unsigned char len8[8];
        CHECK(fread(len8, 1, 8, f) == 8);
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)len8[i] << (8 * i);
        CHECK(hl % 8 == 0 && hl < 100000);
        char *h = calloc(hl + 1, 1);
        CHECK(fread(h, 1, hl, f) == hl);
        CHECK(h[0] == '{');
        CHECK(strstr(h, "\"sconv/kernel\":{\"dtype\":\"F32\",\"shape\":[3,3,2,4],\"data_offsets\":[0,288]}") != NULL);
        CHECK(strstr(h, "\"sconv/u\"") && strstr(h, "\"fdense/bias\"") && strstr(h, "\"householder/theta\""));
        /* the data section's size is the last tensor's end offset */
        fseek(f, 0, SEEK_END);
        long total = ftell(f);
        size_t params = 0;
        for (size_t i = 0; i < lip_model_node_count(m); i++) {
            lip_layer *l = lip_model_layer(m, i);
            for (size_t k = 0; l && k < lip_layer_param_count(l); k++) {
                lip_tensor *t = NULL;
                CHECK_OK(lip_layer_param(l, k, &t, NULL, NULL));
                params += lip_tensor_count(t);
            }
        }
        CHECK((size_t)total == 8 + hl + 4 * params);
        free(h);
        fclose(f);
    }
    lip_model_free(m);
}

/* The small model of the corruption tests: SpectralDense(4) → GroupSort2 → FrobeniusDense(2), compiled
 * with HKR and Adam (so a saved training state has slots). */
static lip_model *small_model(void) {
    lip_model *m = NULL;
    lip_layer *l = NULL;
    CHECK_OK(lip_model_create(ctx, "small", &m));
    lip_dense_config dc = lip_dense_config_default(4);
    CHECK_OK(lip_spectral_dense_create(ctx, &dc, "sd", &l)); add(m, l);
    CHECK_OK(lip_groupsort2_create(ctx, 1.0f, "gs", &l)); add(m, l);
    dc.units = 1;
    CHECK_OK(lip_frobenius_dense_create(ctx, &dc, "head", &l)); add(m, l);
    size_t in[1] = {2};
    CHECK_OK(lip_model_build(m, 1, in));
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lc.alpha = 50.0f;
    lc.min_margin = 0.3f;
    lip_loss *loss = NULL;
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    lip_optimizer_config oc = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    oc.learning_rate = 0.02;
    lip_optimizer *opt = NULL;
    CHECK_OK(lip_optimizer_create(ctx, &oc, &opt));
    CHECK_OK(lip_model_compile(m, loss, opt, 0, NULL));
    return m;
}

static unsigned char *read_all(const char *p, size_t *size) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*size + 1);
    if (fread(b, 1, *size, f) != *size) *size = 0;
    fclose(f);
    return b;
}

static void write_all(const char *p, const void *data, size_t size) {
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(data, 1, size, f) == size);
    fclose(f);
}

/* The file's FNV-1a 64 trailer recomputed (to craft files whose checksum holds). */
static void fix_checksum(unsigned char *b, size_t size) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < size - 8; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    for (int i = 0; i < 8; i++) b[size - 8 + i] = (unsigned char)(h >> (8 * i));
}

/* A refused load: the expected status (or any error when expected is LIP_OK), no model, a message. */
static void expect_refused(const char *p, lip_status expected, const char *needle) {
    lip_model *b = (lip_model *)&b; /* must be reset to NULL */
    lip_status st = lip_model_load(ctx, p, &b);
    test_checks++;
    if (st == LIP_OK || (expected != LIP_OK && st != expected) || b != NULL) {
        fprintf(stderr, "load of a bad file '%s' returned %s (expected %s)\n", p, lip_status_name(st),
                lip_status_name(expected));
        test_failures++;
    }
    if (st == LIP_OK) lip_model_free(b);
    if (needle) CHECK_MESSAGE(ctx, needle);
}

static void test_corruption(void) {
    lip_model *m = small_model();
    lip_dataset *ds = NULL;
    CHECK_OK(lip_dataset_make_moons(ctx, 16, 0.05, 1, 3, &ds));
    CHECK_OK(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 8;
    CHECK_OK(lip_model_fit(m, ds, &fc));
    const char *good = path_in("small.lipcl"), *bad = path_in("bad.lipcl");
    CHECK_OK(lip_model_save(m, good, LIP_SAVE_TRAINING_STATE));
    size_t size = 0;
    unsigned char *b = read_all(good, &size);
    CHECK(b && size > 32 && size <= 4096);
    printf("small model file (with training state): %zu bytes\n", size);
    lip_model *ok = NULL;
    CHECK_OK(lip_model_load(ctx, good, &ok));
    lip_model_free(ok);
    if (!b) return;
    unsigned char *c = malloc(size);
    for (size_t len = 0; len < size; len++) { /* every truncation */
        write_all(bad, b, len);
        expect_refused(bad, LIP_ERR_FORMAT, "bad.lipcl");
        CHECK_STATUS(lip_model_load_training_state(m, bad), LIP_ERR_FORMAT);
    }
    for (size_t at = 0; at < size; at++) { /* every flipped byte: the version field may read as a future one */
        memcpy(c, b, size);
        c[at] ^= 0xFF;
        write_all(bad, c, size);
        lip_model *x = NULL;
        lip_status st = lip_model_load(ctx, bad, &x);
        CHECK(x == NULL && (st == LIP_ERR_FORMAT || (st == LIP_ERR_UNSUPPORTED && at >= 8 && at < 12)));
        CHECK(strstr(lip_context_last_error(ctx), "bad.lipcl") != NULL);
        if (x) lip_model_free(x);
        st = lip_model_load_training_state(m, bad);
        CHECK(st == LIP_ERR_FORMAT || (st == LIP_ERR_UNSUPPORTED && at >= 8 && at < 12));
    }
    /* Trailing data, a wrong magic, a future version (checksum fixed), foreign and empty files. */
    unsigned char *longer = malloc(size + 1);
    memcpy(longer, b, size), longer[size] = 0;
    write_all(bad, longer, size + 1);
    expect_refused(bad, LIP_ERR_FORMAT, "trailing");
    memcpy(c, b, size);
    c[0] = 'X';
    write_all(bad, c, size);
    expect_refused(bad, LIP_ERR_FORMAT, "not a lipcl model file");
    memcpy(c, b, size);
    c[8] = (unsigned char)(LIP_MODEL_FILE_VERSION + 1);
    fix_checksum(c, size);
    write_all(bad, c, size);
    expect_refused(bad, LIP_ERR_UNSUPPORTED, "version");
    write_all(bad, "\x89PNG\r\n\x1a\n0000000000000000000000000000000000", 40);
    expect_refused(bad, LIP_ERR_FORMAT, "not a lipcl model file");
    write_all(bad, "", 0);
    expect_refused(bad, LIP_ERR_FORMAT, "bad.lipcl");
    expect_refused(path_in("does-not-exist.lipcl"), LIP_ERR_IO, "does-not-exist.lipcl");
    expect_refused(dir, LIP_OK, NULL); /* a directory */
    /* Checksum intact but records wrong: a node reading a later node, an unknown layer type. */
    memcpy(c, b, size);
    size_t node0 = 24 + 4 + strlen("small") + 4 + 8 + 4; /* name, input shape (rank 1), node count */
    c[node0] = 5;                                        /* node 0's input: node 5 */
    fix_checksum(c, size);
    write_all(bad, c, size);
    expect_refused(bad, LIP_ERR_FORMAT, "node inputs");
    memcpy(c, b, size);
    size_t type0 = node0 + 9 + 4; /* inputs, kind, type length */
    CHECK(memcmp(c + type0, "SpectralDense", 13) == 0);
    c[type0] = 'Z';
    fix_checksum(c, size);
    write_all(bad, c, size);
    expect_refused(bad, LIP_ERR_FORMAT, "unknown layer type 'ZpectralDense'");
    free(c), free(longer), free(b);
    lip_dataset_free(ds);
    lip_model_free(m);
}

/* Train 2 epochs, save with the training state, train 2 more; a model loaded from the file, given the
 * state and trained 2 epochs ends bitwise where the original does. */
static void test_resume(void) {
    lip_dataset *ds = NULL;
    CHECK_OK(lip_dataset_make_moons(ctx, 40, 0.05, 1, 7, &ds));
    CHECK_OK(lip_dataset_binary_targets(ds, 1, 1.0f, -1.0f));
    lip_fit_config fc = lip_fit_config_default();
    fc.batch_size = 16; /* the last batch holds 8 */
    fc.epochs = 2;
    lip_model *a = small_model();
    CHECK_OK(lip_model_fit(a, ds, &fc));
    const char *p = path_in("resume.lipcl");
    CHECK_OK(lip_model_save(a, p, LIP_SAVE_TRAINING_STATE));
    CHECK_OK(lip_model_reparametrize(a)); /* what load does: both continue from W̄(saved u) */
    lip_model *b = NULL;
    CHECK_OK(lip_model_load(ctx, p, &b));
    if (!b) return;
    /* Refused before compile, and for an optimizer of another kind. */
    CHECK_STATUS(lip_model_load_training_state(b, p), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not compiled");
    lip_loss_config lc = lip_loss_config_default(LIP_LOSS_HKR);
    lip_loss *loss = NULL;
    CHECK_OK(lip_loss_create(ctx, &lc, &loss)); /* other α, margin: the file's are restored */
    lip_optimizer_config sgd = lip_optimizer_config_default(LIP_OPTIMIZER_SGD);
    sgd.momentum = 0.5;
    lip_optimizer *opt = NULL;
    CHECK_OK(lip_optimizer_create(ctx, &sgd, &opt));
    CHECK_OK(lip_model_compile(b, loss, opt, 0, NULL));
    CHECK_STATUS(lip_model_load_training_state(b, p), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "slots");
    lip_optimizer_config adam = lip_optimizer_config_default(LIP_OPTIMIZER_ADAM);
    adam.learning_rate = 0.02;
    CHECK_OK(lip_loss_create(ctx, &lc, &loss));
    CHECK_OK(lip_optimizer_create(ctx, &adam, &opt));
    CHECK_OK(lip_model_compile(b, loss, opt, 0, NULL));
    CHECK_OK(lip_model_load_training_state(b, p));
    /* A weights-only file has no training state. */
    CHECK_OK(lip_model_save(a, path_in("weights.lipcl"), LIP_SAVE_WEIGHTS));
    CHECK_STATUS(lip_model_load_training_state(b, path_in("weights.lipcl")), LIP_ERR_FORMAT);
    CHECK_MESSAGE(ctx, "no training state");
    CHECK_OK(lip_model_fit(a, ds, &fc));
    CHECK_OK(lip_model_fit(b, ds, &fc));
    check_same_layers(a, b);
    size_t ea = 0, eb = 0, cols = 0;
    CHECK_OK(lip_model_history_size(a, &ea, &cols));
    CHECK_OK(lip_model_history_size(b, &eb, &cols));
    double la = 0, lb = 1;
    CHECK_OK(lip_model_history_value(a, ea - 1, 0, &la));
    CHECK_OK(lip_model_history_value(b, eb - 1, 0, &lb));
    CHECK(la == lb);
    lip_model_free(a), lip_model_free(b);
    lip_dataset_free(ds);
}

/* Misuse and the atomic write: a failed save leaves no file, nor a temporary one; an existing file is
 * replaced whole. */
static void test_save_errors(void) {
    lip_model *m = global_model(0);
    CHECK_STATUS(lip_model_save(m, path_in("x.lipcl"), LIP_SAVE_TRAINING_STATE), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "not compiled");
    CHECK_STATUS(lip_model_save(m, path_in("x.lipcl"), 0x80), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_model_save(m, NULL, 0), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_save(NULL, path_in("x.lipcl"), 0), LIP_ERR_NULL);
    CHECK_STATUS(lip_model_load(ctx, NULL, NULL), LIP_ERR_NULL);
    CHECK(access(path_in("x.lipcl"), F_OK) != 0);
    /* a regular file used as a folder: unwritable */
    write_all(path_in("plain"), "x", 1);
    CHECK_STATUS(lip_model_save(m, path_in("plain/m.lipcl"), 0), LIP_ERR_IO);
    CHECK_MESSAGE(ctx, "plain/m.lipcl");
    CHECK_STATUS(lip_model_save(m, "/nonexistent-lipcl-dir/m.lipcl", 0), LIP_ERR_IO);
    CHECK_STATUS(lip_model_save_safetensors(m, "/nonexistent-lipcl-dir/m.safetensors"), LIP_ERR_IO);
    /* replace a larger file: the result is exactly the new one */
    lip_model *big = image_model();
    CHECK_OK(lip_model_save(big, path_in("replace.lipcl"), 0));
    CHECK_OK(lip_model_save(m, path_in("replace.lipcl"), 0));
    lip_model *b = NULL;
    CHECK_OK(lip_model_load(ctx, path_in("replace.lipcl"), &b));
    CHECK(b && lip_model_node_count(b) == lip_model_node_count(m));
    lip_model_free(b);
    /* an unbuilt model */
    lip_model *u = NULL;
    CHECK_OK(lip_model_create(ctx, "unbuilt", &u));
    CHECK_STATUS(lip_model_save(u, path_in("u.lipcl"), 0), LIP_ERR_INVALID_ARGUMENT);
    lip_model_free(u);
    /* no temporary file left behind by any of the saves above */
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        test_checks++;
        if (strstr(e->d_name, ".tmp")) {
            fprintf(stderr, "temporary file left: %s\n", e->d_name);
            test_failures++;
        }
    }
    if (d) closedir(d);
    lip_model_free(big), lip_model_free(m);
}

static void cleanup(void) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) remove(path_in(e->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

int main(void) {
    ctx = test_context();
    test_ctx_for_messages = ctx;
    rng = test_seed(0xf11e);
    CHECK_OK(lip_random_seed(ctx, rng));
    snprintf(dir, sizeof dir, "/tmp/lipcl-model-file-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary folder\n");
        return 1;
    }
    test_round_trips();
    test_corruption();
    test_resume();
    test_save_errors();
    cleanup();
    test_context_free(ctx);
    return test_finish("test_model_file");
}
