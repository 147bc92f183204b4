/* lipcl tests — every kernels/NAME.cl builds on its own with its defaults (no -D given), and
 * the embedded copies match the files in the source tree (the embedding is up to date). */
#include <string.h>

#include "check.h"
#include "internal.h"

int main(void) {
    lip_context_config cfg = lip_context_config_default();
    cfg.cache_disable = 1; /* really compile */
    lip_context *ctx = test_context_with(&cfg);
    CHECK(lip_embedded_source_count >= 1);
    for (size_t i = 0; i < lip_embedded_source_count; i++) {
        const char *family = lip_embedded_sources[i].family;
        char label[128];
        snprintf(label, sizeof label, "%s_alone", family);
        cl_kernel k = NULL;
        lip_status st = lip_kernel_get_source(ctx, label, lip_embedded_sources[i].source, "no_such_entry", NULL, &k);
        /* The build must succeed; only the (deliberately wrong) entry point is missing. */
        CHECK_STATUS(st, LIP_ERR_KERNEL_NOT_FOUND);
        if (st == LIP_ERR_BUILD) fprintf(stderr, "%s\n", lip_context_last_build_log(ctx));
        char path[1024];
        snprintf(path, sizeof path, "%s/kernels/%s.cl", LIPCL_SOURCE_DIR, family);
        char *disk = NULL;
        if (lip_read_file(ctx, path, &disk, NULL) == LIP_OK) {
            CHECK(strcmp(disk, lip_embedded_sources[i].source) == 0);
            free(disk);
        }
        printf("%s.cl builds alone\n", family);
    }
    test_context_free(ctx);
    return test_finish("test_kernels_compile");
}
