/* lipcl tests — the golden reference cases as the test programs read them: a case folder of a category,
 * its declared npy arrays by key, key validation per category, comparison with the reference tolerance. */
#ifndef LIPCL_TEST_REFCASE_H
#define LIPCL_TEST_REFCASE_H

#include <stddef.h>

#include "lipcl/lipcl.h"
#include "npy.h"

/* Tolerance of every device-vs-reference comparison (tests/reference/README.md):
 * |got − expected| ≤ REFCASE_ATOL + REFCASE_RTOL·|expected|. */
#define REFCASE_ATOL 1e-5
#define REFCASE_RTOL 1e-4

/** Whether `path` is one case folder (it holds a case.txt) rather than a folder of cases. */
int refcase_is_case_folder(const char *path);

/**
 * The case folders below `root`, sorted by name, as malloc'ed "root/name" paths (free with
 * refcase_list_free): the entries whose name starts with one of `prefixes` (NULL: any name not
 * starting with '.'), and with `case_folders_only` only those holding a case.txt. NULL, with a failure
 * counted, when root cannot be opened.
 */
char **refcase_list(const char *root, const char *const *prefixes, int case_folders_only, size_t *count);
void refcase_list_free(char **paths, size_t count);

/** The run of a program on the one case folder `dir` must have `passed` = 1; else a failure is counted. */
void refcase_expect_pass(const char *dir, int passed);
/** Run `run` on every case folder below `root` (as refcase_list lists them); the sum of its returns, or -1
 * when root cannot be opened (reported). */
int refcase_for_each(const char *root, const char *const *prefixes, int case_folders_only, int (*run)(const char *dir));

/** Load `dir`/case.txt into c when its category is `category`: 1 (free c with case_free), else 0; a
 * folder that cannot be read counts as a failure. */
int refcase_open(const char *dir, const char *category, case_file *c);

/** Report "dir: why 'what'", count a failure, return -1. */
int refcase_fail(const char *dir, const char *why, const char *what);
/** Whether s is in the NULL-terminated list. */
int refcase_in_list(const char *const *list, const char *s);
/** The key family (before the first '.') is one the README grammar knows. */
int refcase_known_family(const char *key);
/** `name` is `base` followed by one of `suffixes` (NULL-terminated, "" for the bare name) or by "_n" + digits. */
int refcase_name_is(const char *name, const char *base, const char *const *suffixes);
/** The value of param `name` for output `target`: its variant line if any, else param.name. */
const char *refcase_param(const case_file *c, const char *target, const char *name);

/* The params, inputs and outputs a category allows (NULL-terminated lists). */
typedef struct refcase_keys {
    const char *const *params, *const *inputs, *const *outputs;
} refcase_keys;

/** Every key of the case is known (README grammar) and allowed by `keys`; 0 when fine, else -1 (reported). */
int refcase_validate(const case_file *c, const refcase_keys *keys);

/** Load array `family`.`name` of the case as float32 into arr (zeroed first); NULL if absent or unreadable
 * (reported). */
float *refcase_array(const case_file *c, const char *family, const char *name, npy_array *arr);
/** The float32 array of the file line `key` as malloc'ed doubles, with its count and shape; NULL (reported)
 * on failure. */
double *refcase_doubles(const case_file *c, const char *key, size_t *count, size_t *shape, int *ndim);

/** Compare `got` with `expected` under the reference tolerance, reported as "dir: name". */
int refcase_compare(const char *dir, const char *name, const float *got, const double *expected, size_t n);
/**
 * Compare the device tensor `src` (may be NULL) with output.`target` of the case; 1 when compared,
 * else 0 with "cannot compare output" reported.
 */
int refcase_check_output(const case_file *c, const char *target, const lip_tensor *src);

/* Settings of a normalizer case (categories bjorck and spectral_normalization): the param lines,
 * overlaid with a target's variant lines. */
typedef struct refcase_norm {
    const char *category; /* for messages */
    int with_beta;        /* beta is a parameter of the category */
    double beta, eps;
    int maxiter, fixed;
    int have_beta, have_eps, have_maxiter, have_stopping;
} refcase_norm;

/** Apply param/variant `name` = `value`; 0, or -1 with a reason in why. */
int refcase_norm_apply(refcase_norm *s, const char *name, const char *value, char *why, size_t why_size);
/** The settings of output or result `target`: `base` overlaid with its variant lines; 0, or -1 (reported). */
int refcase_norm_target(const case_file *c, const refcase_norm *base, const char *target, refcase_norm *out);
/**
 * Check every key of a normalizer case (known family; params applied to base; inputs and outputs
 * allowed by the predicates; variants of an output or result with a valid param) and that every
 * setting of the category was given.
 */
void refcase_norm_validate(const case_file *c, refcase_norm *base, int (*input_ok)(const char *name),
                           int (*output_ok)(const char *name));

#endif
