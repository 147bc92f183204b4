/* lipcl tests — the golden-case runner's categories: test_reference.c reads a case folder's category and
 * calls the matching refrun_<category>, which validates every key, runs the computation and compares. */
#ifndef LIPCL_TEST_REFRUN_H
#define LIPCL_TEST_REFRUN_H

#include "check.h"
#include "refcase.h"

/*
 * Contract of every refrun_<category>(ctx, dir, c):
 *  - c is the loaded case.txt of `dir` (its category is this one); fail on any param/variant/input/output
 *    key the category does not know or a value outside its vocabulary (refcase_validate and friends);
 *  - compare every output.* (tolerance of refcase.h) and every result.n_iter* exactly;
 *  - return 1 when everything matched, 0 otherwise (each failure reported with the case and the key).
 */
typedef int (*refrun_fn)(lip_context *ctx, const char *dir, const case_file *c);

int refrun_activation(lip_context *ctx, const char *dir, const case_file *c);
int refrun_pooling(lip_context *ctx, const char *dir, const case_file *c);
int refrun_resampling(lip_context *ctx, const char *dir, const case_file *c);
int refrun_bjorck(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_normalization(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_dense(lip_context *ctx, const char *dir, const case_file *c);
int refrun_frobenius_dense(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_conv2d(lip_context *ctx, const char *dir, const case_file *c);
int refrun_frobenius_conv2d(lip_context *ctx, const char *dir, const case_file *c);
int refrun_loss(lip_context *ctx, const char *dir, const case_file *c);
int refrun_metric(lip_context *ctx, const char *dir, const case_file *c);

#endif
