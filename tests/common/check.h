/* lipcl tests — assertion macros that print file, line, both values and the status name,
 * plus helpers every test program shares (context from the environment, seeded random data). */
#ifndef LIPCL_TEST_CHECK_H
#define LIPCL_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lipcl/lipcl.h"

extern int test_failures;
extern int test_checks;
extern lip_context *test_ctx_for_messages;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                               \
    do {                                                                                           \
        lip_status got_ = (expr);                                                                  \
        test_checks++;                                                                             \
        if (got_ != (expected)) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n  last error: %s\n", __FILE__, __LINE__, #expr, \
                    lip_status_name(got_), lip_status_name(expected),                              \
                    lip_context_last_error(test_ctx_for_messages));                                \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, LIP_OK)

/* Fatal variant for set-up steps the rest of the test needs. */
#define REQUIRE_OK(expr)                                                                           \
    do {                                                                                           \
        lip_status got_ = (expr);                                                                  \
        if (got_ != LIP_OK) {                                                                      \
            fprintf(stderr, "%s:%d: %s returned %s\n  last error: %s\n", __FILE__, __LINE__, #expr,             \
                    lip_status_name(got_), lip_context_last_error(test_ctx_for_messages));         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(got, expected, tol)                                                             \
    do {                                                                                           \
        double g_ = (double)(got), e_ = (double)(expected);                                        \
        test_checks++;                                                                             \
        if (!(fabs(g_ - e_) <= (tol))) {                                                           \
            fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tolerance %.3g)\n", __FILE__, __LINE__, #got, g_, e_, \
                    (double)(tol));                                                                \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* The message of the last error contains `needle`. */
#define CHECK_MESSAGE(ctx, needle)                                                                 \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!strstr(lip_context_last_error(ctx), (needle))) {                                      \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__, \
                    lip_context_last_error(ctx), (needle));                                        \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/** A context on the device of $LIPCL_DEVICE (the CTest LIPCL_TEST_DEVICE), exit 77 when there is none. */
lip_context *test_context(void);
lip_context *test_context_with(lip_context_config *config);
/** Free the context, counting a failure if anything was still alive. */
void test_context_free(lip_context *ctx);
/** Seed from $LIPCL_TEST_SEED or the default; printed once. */
uint64_t test_seed(uint64_t fallback);
/** Uniform in [lo, hi), from a splitmix64 state. */
double test_uniform(uint64_t *state, double lo, double hi);
void test_fill_uniform(uint64_t *state, float *x, size_t n, double lo, double hi);
/* Device and host buffers for the tests; each exits on failure. */
/** A float32 tensor of `shape` holding h. */
lip_tensor *test_upload(lip_context *ctx, int ndim, const size_t *shape, const float *h);
/** A tensor filled with a sentinel (777 for int32, else 12345), so an element an op forgets to write shows up. */
lip_tensor *test_sentinel(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape);
/** Download the whole float32 tensor into h. */
void test_read(const lip_tensor *t, float *h);
/** The whole float32 tensor, downloaded into a malloc'ed array. */
float *test_download(const lip_tensor *t);
/** n zeroed floats (at least one). */
float *test_falloc(size_t n);
/** The n floats as malloc'ed doubles. */
double *test_to_double(const float *f, size_t n);
/** max |x[i]|, 0 for n = 0. */
double test_max_abs(const double *x, size_t n);
/** Print "N passed, M failed" for the program's checks and return the exit code. */
int test_finish(const char *name);

/** Elementwise mixed tolerance: |got − ref| ≤ atol + rtol·|ref| for all i; reports the worst. */
int test_compare(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol);

#endif
