/* lipcl tests — context life cycle and error reporting: busy refusal, messages, log callback,
 * build failures with their log, missing kernel files and entry points, build options. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static char logged[8192];
static void capture_log(lip_log_level level, const char *text, void *user) {
    (void)level;
    (void)user;
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof logged - used, "%s\n", text);
}

static char *make_temp_dir(void) {
    char tmpl[] = "/tmp/lipcl-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

int main(void) {
    /* Log callback receives the device line; nothing is printed by the library. */
    lip_context_config cfg = lip_context_config_default();
    cfg.log = capture_log;
    cfg.log_level = LIP_LOG_INFO;
    lip_context *ctx = NULL;
    REQUIRE_OK(lip_context_create(&ctx, &cfg));
    test_ctx_for_messages = ctx;
    CHECK(strstr(logged, "lipcl ") != NULL);
    CHECK(strcmp(lip_context_last_error(ctx), "") == 0);

    /* The context refuses to go while a tensor lives, naming it. */
    size_t shape[2] = {3, 4};
    lip_tensor *t = NULL;
    CHECK_OK(lip_tensor_create(ctx, LIP_FLOAT32, 2, shape, &t));
    CHECK_STATUS(lip_context_free(ctx), LIP_ERR_BUSY);
    CHECK_MESSAGE(ctx, "1 tensor");
    CHECK_MESSAGE(ctx, "(3, 4)");
    lip_context_clear_error(ctx);
    CHECK(strcmp(lip_context_last_error(ctx), "") == 0);
    lip_tensor_free(t);

    /* Bad arguments to context functions. */
    CHECK_STATUS(lip_context_set_gemm_path(ctx, (lip_gemm_path)7), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "unknown path 7");
    CHECK_STATUS(lip_context_device_info(ctx, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_context_profile(ctx, NULL, NULL), LIP_ERR_NULL);

    /* Build options: no fast-math by default, user options appended, fast-math on request. */
    char *opts = lip_program_options(ctx, "-DX=1");
    CHECK(opts && strstr(opts, "fast") == NULL && strstr(opts, "-DX=1") != NULL);
    free(opts);
    test_context_free(ctx);

    char *dir = make_temp_dir();
    REQUIRE_OK(dir ? LIP_OK : LIP_ERR_IO);
    cfg = lip_context_config_default();
    cfg.fast_math = 1;
    cfg.build_options = "-DUSER_OPTION=3";
    cfg.kernel_dir = dir;
    cfg.cache_disable = 1;
    ctx = test_context_with(&cfg);
    opts = lip_program_options(ctx, NULL);
    CHECK(opts && strstr(opts, "-cl-fast-relaxed-math") && strstr(opts, "-DUSER_OPTION=3"));
    free(opts);

    /* A kernel file missing from LIPCL_KERNEL_DIR: the message names the path. */
    cl_kernel k = NULL;
    CHECK_STATUS(lip_kernel_get(ctx, "elementwise", "lip_elementwise_scale", NULL, &k), LIP_ERR_KERNEL_NOT_FOUND);
    CHECK_MESSAGE(ctx, "elementwise.cl");
    CHECK_MESSAGE(ctx, dir);

    /* A broken kernel file: LIP_ERR_BUILD, the message has family, options and log. */
    write_text(dir, "elementwise.cl", "__kernel void lip_elementwise_scale(__global float *x) { x[0] = undefined_name; }\n");
    CHECK_STATUS(lip_kernel_get(ctx, "elementwise", "lip_elementwise_scale", "-DSOME_DEFINE=2", &k), LIP_ERR_BUILD);
    CHECK_MESSAGE(ctx, "'elementwise'");
    CHECK_MESSAGE(ctx, "-DSOME_DEFINE=2");
    CHECK_MESSAGE(ctx, "undefined_name");
    CHECK(strstr(lip_context_last_build_log(ctx), "undefined_name") != NULL);

    /* A good file, a missing entry point, then the entry point. */
    write_text(dir, "elementwise.cl",
               "__kernel void lip_elementwise_scale(__global float *x, const uint off, const float a) { x[off + get_global_id(0)] *= a; }\n");
    CHECK_STATUS(lip_kernel_get(ctx, "elementwise", "lip_elementwise_nope", NULL, &k), LIP_ERR_KERNEL_NOT_FOUND);
    CHECK_MESSAGE(ctx, "lip_elementwise_nope");
    CHECK_OK(lip_kernel_get(ctx, "elementwise", "lip_elementwise_scale", NULL, &k));
    /* The same kernel comes from the memory cache the second time. */
    lip_cache_stats s0, s1;
    CHECK_OK(lip_context_cache_stats(ctx, &s0));
    cl_kernel k2 = NULL;
    CHECK_OK(lip_kernel_get(ctx, "elementwise", "lip_elementwise_scale", NULL, &k2));
    CHECK_OK(lip_context_cache_stats(ctx, &s1));
    CHECK(k2 == k && s1.memory_hits == s0.memory_hits + 1 && s1.builds == s0.builds);
    /* ... and runs through the launch helper. */
    size_t one[1] = {4};
    float host[4] = {1, 2, 3, 4}, back[4];
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, one, &t));
    CHECK_OK(lip_tensor_upload(t, host, sizeof host));
    cl_mem mem;
    size_t off = 0;
    CHECK_OK(lip_tensor_cl(t, &mem, &off));
    cl_uint offu = (cl_uint)off;
    float two = 2.0f;
    size_t global[1] = {4}, local[1] = {4};
    CHECK_OK(lip_launch(ctx, k, "test/scale", 1, global, local, LIP_KARGS(LIP_KARG(mem), LIP_KARG(offu), LIP_KARG(two))));
    CHECK_OK(lip_tensor_download(t, back, sizeof back));
    CHECK(back[0] == 2 && back[3] == 8);
    /* A wrong argument list is reported with the kernel's label. */
    CHECK_STATUS(lip_launch(ctx, k, "test/scale", 1, global, local, LIP_KARGS(LIP_KARG(two), LIP_KARG(two), LIP_KARG(two))),
                 LIP_ERR_OPENCL);
    CHECK_MESSAGE(ctx, "test/scale");
    lip_tensor_free(t);
    test_context_free(ctx);

    /* LIPCL_KERNEL_DIR from the environment is honoured when the config gives none. */
    setenv("LIPCL_KERNEL_DIR", dir, 1);
    cfg = lip_context_config_default();
    cfg.cache_disable = 1;
    ctx = test_context_with(&cfg);
    CHECK_STATUS(lip_kernel_get(ctx, "reduce", "lip_reduce_sum", NULL, &k), LIP_ERR_KERNEL_NOT_FOUND);
    CHECK_MESSAGE(ctx, dir);
    test_context_free(ctx);
    unsetenv("LIPCL_KERNEL_DIR");

    /* Embedded sources: an unknown family is named. */
    ctx = test_context();
    CHECK_STATUS(lip_kernel_get(ctx, "no_such_family", "x", NULL, &k), LIP_ERR_KERNEL_NOT_FOUND);
    CHECK_MESSAGE(ctx, "no_such_family");
    test_context_free(ctx);

    char path[512];
    snprintf(path, sizeof path, "%s/elementwise.cl", dir);
    remove(path);
    rmdir(dir);
    free(dir);
    return test_finish("test_runtime");
}
