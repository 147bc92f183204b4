/* lipcl tests — the activation layers (GroupSort(n), GroupSort2, FullSort, MaxMin, ReLU) through the
 * generic layer API: host references for forward and backward, tensors of any shape with the
 * right counts, the Lipschitz bound on random pairs, and bad construction. */
#include <string.h>

#include "check.h"

static uint64_t rng;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* y for one row of c channels; kind 0 GroupSort(n) (n 0 = all), 1 MaxMin, 2 ReLU. */
static void host_row(int kind, size_t n, float k, const float *x, size_t c, float *y) {
    if (kind == 0) {
        size_t g = n ? n : c;
        for (size_t s = 0; s < c; s += g) {
            memcpy(y + s, x + s, g * sizeof *x);
            qsort(y + s, g, sizeof *y, cmp_float);
        }
        for (size_t i = 0; i < c; i++) y[i] *= k;
    } else if (kind == 1) {
        for (size_t i = 0; i < c; i++) {
            y[i] = k * (x[i] > 0 ? x[i] : 0);
            y[c + i] = k * (x[i] < 0 ? -x[i] : 0);
        }
    } else {
        for (size_t i = 0; i < c; i++) y[i] = x[i] > 0 ? x[i] : 0;
    }
}

static void check_layer(lip_context *ctx, lip_layer *l, int kind, size_t n, float k) {
    const size_t batch = 3, shape[3] = {2, 5, 12}, c = 12, rows = batch * 2 * 5;
    REQUIRE_OK(lip_layer_build(l, 3, shape));
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    size_t oc = kind == 1 ? 2 * c : c;
    CHECK(ond == 3 && os[2] == oc);
    size_t nx = rows * c, ny = rows * oc;
    /* Flat tensors on purpose: the layer API views them as (batch, 2, 5, channels). */
    lip_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &nx, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &ny, &y));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &ny, &dy));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &nx, &dx));
    float *hx = test_falloc(nx), *hy = test_falloc(ny), *hg = test_falloc(ny), *ref = test_falloc(ny);
    test_fill_uniform(&rng, hx, nx, -2, 2);
    test_fill_uniform(&rng, hg, ny, -1, 1);
    CHECK_OK(lip_tensor_upload(x, hx, nx * sizeof(float)));
    CHECK_OK(lip_tensor_upload(dy, hg, ny * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK(lip_tensor_ndim(x) == 1 && lip_tensor_dim(x, 0) == nx); /* the view was undone */
    test_read(y, hy);
    for (size_t r = 0; r < rows; r++) host_row(kind, n, k, hx + r * c, c, ref + r * oc);
    double *refd = test_to_double(ref, ny);
    test_compare(lip_layer_type(l), hy, refd, ny, 1e-6, 1e-6);
    /* Backward by finite differences of ⟨g, f(x)⟩ on the host (no ties: uniform random inputs). */
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *hdx = test_falloc(nx), *row = test_falloc(oc), *xr = test_falloc(c);
    test_read(dx, hdx);
    double worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < c; i++) {
            double l2[2];
            for (int side = 0; side < 2; side++) {
                memcpy(xr, hx + r * c, c * sizeof *xr);
                xr[i] += side ? -1e-3f : 1e-3f;
                host_row(kind, n, k, xr, c, row);
                double s = 0;
                for (size_t j = 0; j < oc; j++) s += (double)hg[r * oc + j] * row[j];
                l2[side] = s;
            }
            double fd = (l2[0] - l2[1]) / 2e-3;
            /* Skip kinks: ReLU/MaxMin at 0, and sort ties (another channel within 3e-3). */
            int kink = fabs(hx[r * c + i]) <= 3e-3;
            for (size_t j = 0; j < c && kind == 0; j++)
                if (j != i && fabs(hx[r * c + j] - hx[r * c + i]) <= 3e-3) kink = 1;
            if (!kink) worst = fmax(worst, fabs(fd - hdx[r * c + i]));
        }
    /* Float central differences with h = 1e-3 on O(1) sums carry ~1e-3 of rounding noise. */
    if (worst > 5e-3) fprintf(stderr, "%s: finite-difference error %g\n", lip_layer_type(l), worst);
    CHECK(worst <= 5e-3);
    CHECK_OK(lip_layer_backward(l, x, y, dy, NULL, 0)); /* dx not wanted: fine */
    /* ‖f(a) − f(b)‖ ≤ L‖a − b‖ per sample, L = k (ReLU 1). */
    float *hx2 = test_falloc(nx), *hy2 = test_falloc(ny);
    for (size_t i = 0; i < nx; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -0.5, 0.5);
    CHECK_OK(lip_tensor_upload(x, hx2, nx * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    test_read(y, hy2);
    double bound = kind == 2 ? 1.0 : k;
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        size_t sx = nx / batch, sy = ny / batch;
        for (size_t i = 0; i < sx; i++) dxn += pow(hx2[b * sx + i] - hx[b * sx + i], 2);
        for (size_t i = 0; i < sy; i++) dyn += pow(hy2[b * sy + i] - hy[b * sy + i], 2);
        CHECK(sqrt(dyn) <= bound * sqrt(dxn) * (1 + 1e-4));
    }
    free(hx), free(hy), free(hg), free(ref), free(refd), free(hdx), free(row), free(xr), free(hx2), free(hy2);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

int main(void) {
    rng = test_seed(5);
    lip_context *ctx = test_context();
    lip_layer *l = NULL;
    REQUIRE_OK(lip_groupsort2_create(ctx, 1.0f, "gs2", &l));
    check_layer(ctx, l, 0, 2, 1.0f);
    REQUIRE_OK(lip_groupsort_create(ctx, 4, 2.0f, "gs4", &l));
    check_layer(ctx, l, 0, 4, 2.0f);
    REQUIRE_OK(lip_fullsort_create(ctx, 1.0f, "fs", &l));
    check_layer(ctx, l, 0, 0, 1.0f);
    REQUIRE_OK(lip_maxmin_create(ctx, 0.5f, "mm", &l));
    check_layer(ctx, l, 1, 0, 0.5f);
    REQUIRE_OK(lip_relu_create(ctx, "relu", &l));
    check_layer(ctx, l, 2, 0, 1.0f);
    CHECK(strcmp(lip_layer_type(l = NULL), "") == 0);

    /* Bad construction: k ≤ 0; channels that do not divide into groups (at build, with the layer named). */
    CHECK_STATUS(lip_groupsort_create(ctx, 2, 0.0f, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "GroupSort 'bad': k_coef_lip");
    CHECK_STATUS(lip_maxmin_create(ctx, -1.0f, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    REQUIRE_OK(lip_groupsort_create(ctx, 4, 1.0f, "gs4", &l));
    size_t six[1] = {6};
    CHECK_STATUS(lip_layer_build(l, 1, six), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "4");
    size_t eight[1] = {8};
    CHECK_OK(lip_layer_build(l, 1, eight)); /* a failed build can be retried */
    lip_layer_free(l);
    test_context_free(ctx);
    return test_finish("test_activation_layers");
}
