/* lipcl tests — the context's random stream (same seed → same numbers, state save/restore) and
 * the initializers: uniform/normal moments, Glorot bounds, orthogonality (tall, wide, conv). */
#include <string.h>

#include "check.h"

static float *download(lip_tensor *t) {
    size_t n = lip_tensor_count(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE_OK(lip_tensor_download(t, v, n * sizeof *v));
    return v;
}

/* max |QᵀQ − I| over the smaller side's Gram matrix of the rows×cols matrix v, divided by gain². */
static double orthogonality_error(const float *v, size_t rows, size_t cols, double gain) {
    double worst = 0;
    int tall = rows >= cols;
    size_t n = tall ? cols : rows, len = tall ? rows : cols;
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double s = 0;
            for (size_t i = 0; i < len; i++) {
                double x = tall ? v[i * cols + a] : v[a * cols + i];
                double y = tall ? v[i * cols + b] : v[b * cols + i];
                s += x * y;
            }
            double e = fabs(s / (gain * gain) - (a == b ? 1.0 : 0.0));
            if (e > worst) worst = e;
        }
    return worst;
}

int main(void) {
    lip_context_config cfg = lip_context_config_default();
    cfg.seed = 1234;
    lip_context *a = test_context_with(&cfg);
    lip_context *b = test_context_with(&cfg);
    test_ctx_for_messages = a;
    size_t shape[2] = {257, 13};
    lip_tensor *ta = NULL, *tb = NULL;
    REQUIRE_OK(lip_tensor_create(a, LIP_FLOAT32, 2, shape, &ta));
    REQUIRE_OK(lip_tensor_create(b, LIP_FLOAT32, 2, shape, &tb));
    size_t n = 257 * 13;

    /* Same seed, same numbers, in two contexts; the state can be saved and restored. */
    uint64_t st[4];
    CHECK_OK(lip_random_get_state(a, st));
    CHECK_OK(lip_random_normal(a, ta, 0.5f, 2.0f));
    CHECK_OK(lip_random_normal(b, tb, 0.5f, 2.0f));
    float *va = download(ta), *vb = download(tb);
    CHECK(memcmp(va, vb, n * sizeof *va) == 0);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += va[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += (va[i] - mean) * (va[i] - mean);
    var /= (double)(n - 1);
    CHECK_NEAR(mean, 0.5, 0.1);          /* 4 standard errors: 4·2/√3341 */
    CHECK_NEAR(sqrt(var), 2.0, 0.1);
    CHECK_OK(lip_random_set_state(a, st));
    CHECK_OK(lip_random_normal(a, ta, 0.5f, 2.0f));
    free(vb);
    vb = download(ta);
    CHECK(memcmp(va, vb, n * sizeof *va) == 0);
    /* The stream moved on: the next draw differs. */
    CHECK_OK(lip_random_normal(a, ta, 0.5f, 2.0f));
    free(vb);
    vb = download(ta);
    CHECK(memcmp(va, vb, n * sizeof *va) != 0);
    /* Another seed, other numbers. */
    CHECK_OK(lip_random_seed(b, 99));
    CHECK_OK(lip_random_normal(b, tb, 0.5f, 2.0f));
    free(vb);
    vb = download(tb);
    CHECK(memcmp(va, vb, n * sizeof *va) != 0);
    free(va);
    free(vb);

    /* Uniform: inside [lo, hi), mean in the middle. */
    CHECK_OK(lip_random_uniform(a, ta, -1.0f, 3.0f));
    va = download(ta);
    int inside = 1;
    mean = 0;
    for (size_t i = 0; i < n; i++) {
        inside &= va[i] >= -1.0f && va[i] < 3.0f;
        mean += va[i];
    }
    CHECK(inside);
    CHECK_NEAR(mean / (double)n, 1.0, 0.08); /* 4 standard errors: 4·(4/√12)/√3341 */
    free(va);

    /* Glorot uniform on a dense (257, 13) kernel: limit √(6/270). */
    CHECK_OK(lip_init_glorot_uniform(a, ta));
    va = download(ta);
    double limit = sqrt(6.0 / 270.0), maxabs = 0;
    for (size_t i = 0; i < n; i++) maxabs = fabs(va[i]) > maxabs ? fabs(va[i]) : maxabs;
    CHECK(maxabs <= limit && maxabs > 0.9 * limit);
    free(va);

    /* Orthogonal: tall, wide, square and a conv kernel viewed as (kh·kw·cin, cout). */
    const size_t shapes[][4] = {{257, 13}, {13, 257}, {7, 7}, {3, 3, 5, 16}, {3, 3, 2, 64}, {1, 1}};
    const int ranks[] = {2, 2, 2, 4, 4, 2};
    for (int s = 0; s < 6; s++) {
        lip_tensor *t = NULL;
        REQUIRE_OK(lip_tensor_create(a, LIP_FLOAT32, ranks[s], shapes[s], &t));
        CHECK_OK(lip_init_orthogonal(a, t, 1.5f));
        size_t cols = shapes[s][ranks[s] - 1], rows = lip_tensor_count(t) / cols;
        float *v = download(t);
        double err = orthogonality_error(v, rows, cols, 1.5);
        if (err > 1e-5) fprintf(stderr, "orthogonal %zux%zu: error %g\n", rows, cols, err);
        CHECK(err <= 1e-5);
        free(v);
        CHECK_OK(lip_init_zeros(a, t));
        v = download(t);
        CHECK(v[0] == 0.0f && v[lip_tensor_count(t) - 1] == 0.0f);
        free(v);
        lip_tensor_free(t);
    }

    /* Bad input. */
    CHECK_STATUS(lip_random_uniform(a, ta, 1.0f, 1.0f), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(a, "lo < hi");
    CHECK_STATUS(lip_random_normal(a, ta, 0.0f, -1.0f), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_random_normal(a, NULL, 0.0f, 1.0f), LIP_ERR_NULL);
    uint64_t zero[4] = {0, 0, 0, 0};
    CHECK_STATUS(lip_random_set_state(a, zero), LIP_ERR_INVALID_ARGUMENT);
    size_t one[1] = {5};
    lip_tensor *v1 = NULL, *iv = NULL;
    REQUIRE_OK(lip_tensor_create(a, LIP_FLOAT32, 1, one, &v1));
    REQUIRE_OK(lip_tensor_create(a, LIP_INT32, 1, one, &iv));
    CHECK_STATUS(lip_init_orthogonal(a, v1, 1.0f), LIP_ERR_SHAPE);
    CHECK_MESSAGE(a, "rank >= 2");
    CHECK_STATUS(lip_init_glorot_uniform(a, iv), LIP_ERR_DTYPE);
    CHECK_STATUS(lip_tensor_fill(iv, 0.5), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(a, "not an int32 value");
    lip_tensor_free(v1);
    lip_tensor_free(iv);
    lip_tensor_free(ta);
    lip_tensor_free(tb);
    test_context_free(a);
    test_context_free(b);
    return test_finish("test_random");
}
