/* lipcl tests — tensors: create/free, upload/download round trips (float32 and int32, 1-4 D),
 * fill, copy, reshape, accessors, memory accounting, out-of-device-memory and bad input. */
#include <string.h>

#include "check.h"

int main(void) {
    uint64_t rng = test_seed(7);
    lip_context *ctx = test_context();
    size_t used0 = 0, peak0 = 0;
    CHECK_OK(lip_context_memory(ctx, &used0, &peak0));

    /* Round trips at awkward sizes, every rank. */
    const size_t shapes[][4] = {{1, 1, 1, 1}, {7, 1, 1, 1}, {13, 129, 1, 1}, {2, 3, 5, 7}, {257, 3, 1, 1}};
    const int ranks[] = {1, 1, 2, 4, 2};
    for (int s = 0; s < 5; s++) {
        lip_tensor *t = NULL;
        REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ranks[s], shapes[s], &t));
        size_t n = lip_tensor_count(t);
        size_t expect = 1;
        for (int i = 0; i < ranks[s]; i++) {
            expect *= shapes[s][i];
            CHECK(lip_tensor_dim(t, i) == shapes[s][i]);
        }
        CHECK(n == expect && lip_tensor_ndim(t) == ranks[s] && lip_tensor_dtype(t) == LIP_FLOAT32);
        CHECK(lip_tensor_dim(t, ranks[s]) == 0 && lip_tensor_dim(t, -1) == 0);
        CHECK(lip_tensor_context(t) == ctx);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        test_fill_uniform(&rng, a, n, -3, 3);
        CHECK_OK(lip_tensor_upload(t, a, n * sizeof *a));
        float *neg = test_falloc(n), *back = test_falloc(n);
        for (size_t i = 0; i < n; i++) neg[i] = -a[i] - 1.0f;
        CHECK_OK(lip_tensor_upload_async(t, neg, n * sizeof *neg)); /* queued; the download waits for it */
        CHECK_OK(lip_tensor_download(t, back, n * sizeof *back));
        CHECK(memcmp(back, neg, n * sizeof *neg) == 0);
        free(neg);
        free(back);
        CHECK_OK(lip_tensor_upload(t, a, n * sizeof *a));
        CHECK_OK(lip_tensor_download(t, b, n * sizeof *b));
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        /* copy into a tensor of another shape with the same count */
        size_t flat[1] = {n};
        lip_tensor *u = NULL;
        REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, flat, &u));
        CHECK_OK(lip_tensor_copy(u, t));
        memset(b, 0, n * sizeof *b);
        CHECK_OK(lip_tensor_download(u, b, n * sizeof *b));
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        /* fill */
        CHECK_OK(lip_tensor_fill(t, -2.5));
        CHECK_OK(lip_tensor_download(t, b, n * sizeof *b));
        int all = 1;
        for (size_t i = 0; i < n; i++) all &= b[i] == -2.5f;
        CHECK(all);
        lip_tensor_free(u);
        lip_tensor_free(t);
        free(a);
        free(b);
    }

    /* int32 */
    size_t ishape[2] = {5, 3};
    lip_tensor *it = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_INT32, 2, ishape, &it));
    int32_t iv[15], ib[15];
    for (int i = 0; i < 15; i++) iv[i] = i * 1000003 - 7;
    CHECK_OK(lip_tensor_upload(it, iv, sizeof iv));
    CHECK_OK(lip_tensor_download(it, ib, sizeof ib));
    CHECK(memcmp(iv, ib, sizeof iv) == 0);
    CHECK_OK(lip_tensor_fill(it, 42));
    CHECK_OK(lip_tensor_download(it, ib, sizeof ib));
    CHECK(ib[0] == 42 && ib[14] == 42);

    /* reshape */
    size_t r3[3] = {3, 1, 5};
    CHECK_OK(lip_tensor_reshape(it, 3, r3));
    CHECK(lip_tensor_ndim(it) == 3 && lip_tensor_dim(it, 2) == 5);
    size_t r_bad[2] = {4, 4};
    CHECK_STATUS(lip_tensor_reshape(it, 2, r_bad), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "16 elements");

    /* Bad input: sizes, ranks, dtypes, NULLs, mixing dtypes. */
    size_t zero[2] = {3, 0};
    lip_tensor *bad = NULL;
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 2, zero, &bad), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "dimension 1 is 0");
    CHECK(bad == NULL);
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 5, r3, &bad), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 0, r3, &bad), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_tensor_create(ctx, (lip_dtype)9, 1, r3, &bad), LIP_ERR_DTYPE);
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 1, NULL, &bad), LIP_ERR_NULL);
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 1, r3, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_tensor_create(NULL, LIP_FLOAT32, 1, r3, &bad), LIP_ERR_NULL);
    size_t huge[2] = {1u << 20, 1u << 12};
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 2, huge, &bad), LIP_ERR_SHAPE); /* > 2^31-1 elements */
    CHECK_STATUS(lip_tensor_upload_async(it, iv, sizeof iv - 4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "56 bytes given");
    CHECK_STATUS(lip_tensor_upload_async(it, NULL, sizeof iv), LIP_ERR_NULL);
    CHECK_STATUS(lip_tensor_upload(it, iv, sizeof iv - 4), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "56 bytes given");
    CHECK_STATUS(lip_tensor_download(it, NULL, sizeof iv), LIP_ERR_NULL);
    CHECK_STATUS(lip_tensor_upload(NULL, iv, sizeof iv), LIP_ERR_NULL);
    size_t fshape[1] = {15};
    lip_tensor *ft = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, fshape, &ft));
    CHECK_STATUS(lip_tensor_copy(ft, it), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "int32");
    size_t small[1] = {14};
    lip_tensor *st = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, small, &st));
    CHECK_STATUS(lip_tensor_copy(st, ft), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "(15,)");
    CHECK_STATUS(lip_tensor_copy(st, NULL), LIP_ERR_NULL);

    /* Memory accounting follows create and free. */
    size_t used = 0, peak = 0;
    CHECK_OK(lip_context_memory(ctx, &used, &peak));
    CHECK(used >= used0 + 15 * 4 + 15 * 4 + 14 * 4);
    CHECK(peak >= used);
    lip_tensor_free(st);
    size_t used2 = 0;
    CHECK_OK(lip_context_memory(ctx, &used2, NULL));
    CHECK(used2 < used);

    /* Tensors of one context are refused by another. */
    lip_context *other = test_context();
    lip_tensor *ot = NULL;
    REQUIRE_OK(lip_tensor_create(other, LIP_FLOAT32, 1, fshape, &ot));
    test_ctx_for_messages = ctx;
    CHECK_STATUS(lip_tensor_copy(ft, ot), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "another context");
    lip_tensor_free(ot);
    test_context_free(other);
    test_ctx_for_messages = ctx;
    lip_tensor_free(ft);
    lip_tensor_free(it);
    test_context_free(ctx);

    /* Out of device memory: over the configured budget, and over the device's largest allocation. */
    lip_context_config cfg = lip_context_config_default();
    cfg.device_memory_limit = (1 << 20) + 8192; /* two 512 KiB tensors, guard bands included */
    ctx = test_context_with(&cfg);
    size_t half[1] = {(1 << 20) / 8};
    lip_tensor *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, half, &a));
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, half, &b));
    CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 1, half, &c), LIP_ERR_OUT_OF_DEVICE_MEMORY);
    CHECK_MESSAGE(ctx, "does not fit");
    lip_tensor_free(a);
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, half, &c)); /* freed memory is reusable */
    lip_tensor_free(b);
    lip_tensor_free(c);
    test_context_free(ctx);
    ctx = test_context();
    lip_device_info info;
    CHECK_OK(lip_context_device_info(ctx, &info));
    size_t too_big[2] = {(size_t)(info.max_alloc_bytes / 4 / 1024) + 1, 1024};
    if (too_big[0] * too_big[1] <= 0x7fffffffu) {
        CHECK_STATUS(lip_tensor_create(ctx, LIP_FLOAT32, 2, too_big, &c), LIP_ERR_OUT_OF_DEVICE_MEMORY);
        CHECK_MESSAGE(ctx, "largest allocation");
    }
    test_context_free(ctx);
    return test_finish("test_tensor");
}
