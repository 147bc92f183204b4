/* lipcl tests — LIP_INIT_SPECTRAL (deel-lip SpectralInitializer): every singular value within 1e-3
 * of 1 on tall, wide, square and conv-shaped tensors, the same numbers from the same seed, and the
 * default kernel of SpectralDense / FrobeniusDense. */
#include <string.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "layers/layer.h"

/* Singular values of t viewed as (count / last axis, last axis): smallest and largest. */
static void sv_range(const float *v, size_t rows, size_t cols, double *lo, double *hi) {
    size_t n = rows < cols ? rows : cols;
    double *w = hr_alloc(rows * cols), *sv = hr_alloc(n);
    for (size_t i = 0; i < rows * cols; i++) w[i] = v[i];
    hr_singular_values(w, rows, cols, sv);
    *lo = sv[n - 1], *hi = sv[0];
    free(w), free(sv);
}

/* One spectral draw of `shape` from the context's stream; malloc'ed host copy. */
static float *draw(lip_context *ctx, lip_layer *l, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t));
    CHECK_OK(lip_layer_init_param(l, t, LIP_INIT_SPECTRAL));
    CHECK(lip_tensor_ndim(t) == ndim); /* the matrix view was undone */
    float *v = test_download(t);
    lip_tensor_free(t);
    return v;
}

int main(void) {
    uint64_t seed = test_seed(99);
    lip_context_config cfg = lip_context_config_default();
    cfg.seed = seed;
    lip_context *a = test_context_with(&cfg), *b = test_context_with(&cfg);
    test_ctx_for_messages = a;
    lip_layer *la = NULL, *lb = NULL; /* any layer serves as the owner named in messages */
    REQUIRE_OK(lip_relu_create(a, "owner", &la));
    REQUIRE_OK(lip_relu_create(b, "owner", &lb));

    const struct {
        int ndim;
        size_t shape[4];
    } cases[] = {
        {2, {37, 11}},      /* tall */
        {2, {5, 23}},       /* wide */
        {2, {16, 16}},      /* square */
        {2, {1, 1}},        /* a single weight: ±1 */
        {2, {2, 1}},        /* one column */
        {4, {3, 3, 7, 5}},  /* conv kernel (kh, kw, cin, cout): (63, 5) */
        {4, {1, 1, 3, 8}},  /* 1×1 conv, wide: (3, 8) */
        {3, {2, 3, 13}},    /* (6, 13) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int nd = cases[i].ndim;
        const size_t *s = cases[i].shape;
        size_t cols = s[nd - 1], count = 1;
        for (int d = 0; d < nd; d++) count *= s[d];
        size_t rows = count / cols;
        float *va = draw(a, la, nd, s), *vb = draw(b, lb, nd, s);
        CHECK(memcmp(va, vb, count * sizeof *va) == 0); /* same seed, same kernel */
        double lo, hi;
        sv_range(va, rows, cols, &lo, &hi);
        printf("spectral init %zux%zu: singular values in [%.7f, %.7f]\n", rows, cols, lo, hi);
        CHECK(fabs(lo - 1.0) <= 1e-3 && fabs(hi - 1.0) <= 1e-3);
        free(va), free(vb);
    }
    /* The stream moves on: a second draw differs from the first. */
    size_t sq[2] = {8, 8};
    float *v1 = draw(a, la, 2, sq), *v2 = draw(a, la, 2, sq);
    CHECK(memcmp(v1, v2, sizeof(float) * 64) != 0);
    free(v1), free(v2);
    /* It starts from the orthogonal draw of the same stream and then normalizes it (W/(σ + 1e-3)
     * and Björck move every entry a little, but by far less than 1e-3). */
    uint64_t state[4];
    size_t tall[2] = {12, 4};
    lip_tensor *o = NULL;
    REQUIRE_OK(lip_tensor_create(a, LIP_FLOAT32, 2, tall, &o));
    REQUIRE_OK(lip_random_get_state(a, state));
    REQUIRE_OK(lip_init_orthogonal(a, o, 1.0f));
    float *vo = test_download(o);
    REQUIRE_OK(lip_random_set_state(a, state));
    float *vs = draw(a, la, 2, tall);
    double moved = 0;
    for (size_t i = 0; i < 48; i++) moved = fmax(moved, fabs((double)vs[i] - vo[i]));
    CHECK(moved > 0 && moved < 1e-3);
    free(vo), free(vs);
    lip_tensor_free(o);

    /* SpectralDense and FrobeniusDense start from it (deel-lip's default kernel initializer). */
    for (int frob = 0; frob < 2; frob++) {
        lip_dense_config dc = lip_dense_config_default(9);
        lip_layer *l = NULL;
        REQUIRE_OK(frob ? lip_frobenius_dense_create(a, &dc, "d", &l) : lip_spectral_dense_create(a, &dc, "d", &l));
        size_t in[1] = {20};
        REQUIRE_OK(lip_layer_build(l, 1, in));
        lip_tensor *kernel = NULL;
        const char *name = NULL;
        REQUIRE_OK(lip_layer_param(l, 0, &kernel, NULL, &name));
        CHECK(strcmp(name, "kernel") == 0);
        float *v = test_download(kernel);
        double lo, hi;
        sv_range(v, 20, 9, &lo, &hi);
        CHECK(fabs(lo - 1.0) <= 1e-3 && fabs(hi - 1.0) <= 1e-3);
        free(v);
        lip_layer_free(l);
        dc.kernel_init = (lip_init)(LIP_INIT_SPECTRAL + 1);
        CHECK_STATUS(frob ? lip_frobenius_dense_create(a, &dc, "d", &l) : lip_spectral_dense_create(a, &dc, "d", &l),
                     LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(a, "unknown initializer");
    }

    /* A vector has no spectral draw. */
    size_t five = 5;
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(a, LIP_FLOAT32, 1, &five, &t));
    CHECK_STATUS(lip_layer_init_param(la, t, LIP_INIT_SPECTRAL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(a, "ReLU 'owner': the spectral initializer needs a tensor of rank >= 2, got 1");
    lip_tensor_free(t);
    lip_layer_free(la), lip_layer_free(lb);
    test_context_free(a);
    test_context_free(b);
    return test_finish("test_initializers");
}
