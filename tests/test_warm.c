/* lipcl tests — warm-up fixture: builds every kernel program once so later tests load binaries. */
#include "check.h"

int main(void) {
    lip_context *ctx = test_context();
    CHECK_OK(lip_context_warm(ctx));
    lip_cache_stats s;
    CHECK_OK(lip_context_cache_stats(ctx, &s));
    printf("warm: %lu built, %lu from disk, %.2f s\n", s.builds, s.disk_hits, s.build_seconds);
    test_context_free(ctx);
    return test_finish("test_warm");
}
