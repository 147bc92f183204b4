/* lipcl tests — the on-disk program cache: miss then hit across contexts, memory hits, a corrupt
 * or truncated entry rebuilt and overwritten, an unwritable directory, the disable switch, and a
 * device without a compiler (served from the cache, or LIP_ERR_NO_COMPILER naming the key). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static const char *source =
    "__kernel void lip_cachetest_add(__global float *x, const uint off, const float a) { x[off + get_global_id(0)] += a; }\n";

static lip_context *context_in(const char *dir, int disable) {
    lip_context_config c = lip_context_config_default();
    c.cache_dir = dir;
    c.cache_disable = disable;
    return test_context_with(&c);
}

/* The single .bin file in dir (its path into out); returns the number of .bin files. */
static int find_bin(const char *dir, char *out, size_t size) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
            snprintf(out, size, "%s/%s", dir, e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static lip_cache_stats build_once(lip_context *ctx, const char *defines) {
    cl_kernel k = NULL;
    CHECK_OK(lip_kernel_get_source(ctx, "cachetest", source, "lip_cachetest_add", defines, &k));
    CHECK(k != NULL);
    lip_cache_stats s;
    lip_context_cache_stats(ctx, &s);
    return s;
}

/* The program really works, wherever it came from. */
static void run_once(lip_context *ctx) {
    cl_kernel k = NULL;
    CHECK_OK(lip_kernel_get_source(ctx, "cachetest", source, "lip_cachetest_add", NULL, &k));
    size_t shape[1] = {3};
    lip_tensor *t = NULL;
    float v[3] = {1, 2, 3};
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, shape, &t));
    CHECK_OK(lip_tensor_upload(t, v, sizeof v));
    cl_mem m;
    size_t off = 0;
    lip_tensor_cl(t, &m, &off);
    cl_uint offu = (cl_uint)off;
    float a = 0.5f;
    size_t g[1] = {3}, l[1] = {1};
    CHECK_OK(lip_launch(ctx, k, "cachetest", 1, g, l, LIP_KARGS(LIP_KARG(m), LIP_KARG(offu), LIP_KARG(a))));
    CHECK_OK(lip_tensor_download(t, v, sizeof v));
    CHECK(v[0] == 1.5f && v[2] == 3.5f);
    lip_tensor_free(t);
}

int main(void) {
    char tmpl[] = "/tmp/lipcl-cache-XXXXXX";
    char *dir = mkdtemp(tmpl);
    REQUIRE_OK(dir ? LIP_OK : LIP_ERR_IO);
    char bin[1024];

    /* Miss: built from source and written. */
    lip_context *ctx = context_in(dir, 0);
    CHECK(lip_context_cache_dir(ctx) && strcmp(lip_context_cache_dir(ctx), dir) == 0);
    lip_cache_stats s = build_once(ctx, NULL);
    CHECK(s.builds == 1 && s.disk_hits == 0 && s.disk_writes == 1);
    CHECK(find_bin(dir, bin, sizeof bin) == 1);
    s = build_once(ctx, NULL); /* memory hit */
    CHECK(s.builds == 1 && s.memory_hits == 1);
    run_once(ctx);
    test_context_free(ctx);

    /* Hit: a new context loads the binary. */
    ctx = context_in(dir, 0);
    s = build_once(ctx, NULL);
    CHECK(s.builds == 0 && s.disk_hits == 1 && s.disk_rejected == 0);
    run_once(ctx);
    /* Other build options are another key, another file. */
    s = build_once(ctx, "-DEXTRA=1");
    CHECK(s.builds == 1);
    CHECK(find_bin(dir, bin, sizeof bin) == 2);
    CHECK_OK(lip_context_cache_clear(ctx));
    CHECK(find_bin(dir, bin, sizeof bin) == 0);
    test_context_free(ctx);

    /* Corrupt entry (a flipped byte in the payload): detected, rebuilt, overwritten. */
    ctx = context_in(dir, 0);
    build_once(ctx, NULL);
    test_context_free(ctx);
    CHECK(find_bin(dir, bin, sizeof bin) == 1);
    FILE *f = fopen(bin, "r+b");
    REQUIRE_OK(f ? LIP_OK : LIP_ERR_IO);
    fseek(f, 40, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 40, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    ctx = context_in(dir, 0);
    s = build_once(ctx, NULL);
    CHECK(s.disk_rejected == 1 && s.builds == 1 && s.disk_writes == 1);
    CHECK(strcmp(lip_context_last_error(ctx), "") == 0); /* a bad cache entry is not an error */
    run_once(ctx);
    test_context_free(ctx);
    ctx = context_in(dir, 0); /* the rewritten entry is good */
    s = build_once(ctx, NULL);
    CHECK(s.disk_hits == 1 && s.builds == 0);
    test_context_free(ctx);

    /* Truncated entry. */
    REQUIRE_OK(truncate(bin, 20) == 0 ? LIP_OK : LIP_ERR_IO);
    ctx = context_in(dir, 0);
    s = build_once(ctx, NULL);
    CHECK(s.disk_rejected == 1 && s.builds == 1);
    test_context_free(ctx);
    /* A foreign file with the right name (valid header, garbage binary) is refused by the driver. */
    {
        unsigned char junk[64] = {'L', 'I', 'P', 'C', 'L', 'B', 'I', 'N', 1};
        for (int i = 32; i < 64; i++) junk[i] = (unsigned char)(i * 7);
        uint64_t size = 32, h = lip_fnv1a(LIP_FNV_INIT, junk + 32, 32);
        for (int i = 0; i < 8; i++) {
            junk[16 + i] = (unsigned char)(size >> (8 * i));
            junk[24 + i] = (unsigned char)(h >> (8 * i));
        }
        f = fopen(bin, "wb");
        REQUIRE_OK(f ? LIP_OK : LIP_ERR_IO);
        fwrite(junk, 1, sizeof junk, f);
        fclose(f);
        ctx = context_in(dir, 0);
        s = build_once(ctx, NULL);
        CHECK(s.disk_rejected == 1 && s.builds == 1);
        run_once(ctx);
        test_context_free(ctx);
    }

    /* A device without a compiler: served from the cache; without an entry, a clear error. */
    ctx = context_in(dir, 0);
    ctx->info.compiler_available = 0;
    s = build_once(ctx, NULL);
    CHECK(s.disk_hits == 1 && s.builds == 0);
    cl_kernel k = NULL;
    CHECK_STATUS(lip_kernel_get_source(ctx, "cachetest", source, "lip_cachetest_add", "-DNEVER_BUILT=1", &k),
                 LIP_ERR_NO_COMPILER);
    CHECK_MESSAGE(ctx, "no OpenCL compiler");
    CHECK_MESSAGE(ctx, "cachetest-");
    test_context_free(ctx);

    /* An unwritable cache directory (a file is in the way): still builds, with a warning. */
    char blocked[1100];
    snprintf(blocked, sizeof blocked, "%s/file", dir);
    f = fopen(blocked, "w");
    REQUIRE_OK(f ? LIP_OK : LIP_ERR_IO);
    fclose(f);
    char under[1200];
    snprintf(under, sizeof under, "%s/sub", blocked);
    ctx = context_in(under, 0);
    CHECK(lip_context_cache_dir(ctx) == NULL);
    s = build_once(ctx, NULL);
    CHECK(s.builds == 1 && s.disk_writes == 0);
    run_once(ctx);
    test_context_free(ctx);
    remove(blocked);

    /* LIPCL_CACHE_DISABLE turns the disk cache off; the config's explicit 0 wins over it. */
    ctx = context_in(dir, 0);
    CHECK_OK(lip_context_cache_clear(ctx));
    test_context_free(ctx);
    setenv("LIPCL_CACHE_DISABLE", "1", 1);
    ctx = context_in(dir, -1);
    CHECK(lip_context_cache_dir(ctx) == NULL);
    s = build_once(ctx, NULL);
    CHECK(s.disk_writes == 0);
    test_context_free(ctx);
    ctx = context_in(dir, 0);
    CHECK(lip_context_cache_dir(ctx) != NULL);
    test_context_free(ctx);
    unsetenv("LIPCL_CACHE_DISABLE");

    /* LIPCL_CACHE_DIR is used when the config names no directory. */
    setenv("LIPCL_CACHE_DIR", dir, 1);
    ctx = context_in(NULL, 0);
    CHECK(lip_context_cache_dir(ctx) && strcmp(lip_context_cache_dir(ctx), dir) == 0);
    CHECK_OK(lip_context_cache_clear(ctx));
    test_context_free(ctx);

    rmdir(dir);
    return test_finish("test_cache");
}
