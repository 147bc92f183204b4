/* lipcl tests — golden cases of category 'loss' (placeholder until the loss API lands: every case fails). */
#include <stdio.h>

#include "refrun.h"

int refrun_loss(lip_context *ctx, const char *dir, const case_file *c) {
    (void)ctx;
    (void)c;
    return refcase_fail(dir, "category not implemented yet:", "loss") == 0;
}
