/* lipcl tests — golden cases of category 'metric' (placeholder until the metric API lands: every case fails). */
#include <stdio.h>

#include "refrun.h"

int refrun_metric(lip_context *ctx, const char *dir, const case_file *c) {
    (void)ctx;
    (void)c;
    return refcase_fail(dir, "category not implemented yet:", "metric") == 0;
}
