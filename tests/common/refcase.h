/* lipcl tests — the golden reference cases as the runner reads them: a case folder of a category, its
 * declared npy arrays by key, key and value validation (the README grammar), typed parameters, comparison. */
#ifndef LIPCL_TEST_REFCASE_H
#define LIPCL_TEST_REFCASE_H

#include <stddef.h>

#include "lipcl/lipcl.h"
#include "npy.h"

/* Tolerance of every device-vs-reference comparison (tests/reference/README.md):
 * |got − expected| ≤ REFCASE_ATOL + REFCASE_RTOL·|expected|. */
#define REFCASE_ATOL 1e-5
#define REFCASE_RTOL 1e-4

/* ---- case folders ------------------------------------------------------------------------------ */

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

/* ---- reporting and names ----------------------------------------------------------------------- */

/** Report "dir: why 'what'", count a failure, return -1. */
int refcase_fail(const char *dir, const char *why, const char *what);
/** Whether s is in the NULL-terminated list. */
int refcase_in_list(const char *const *list, const char *s);
/** The key family (before the first '.') is one the README grammar knows. */
int refcase_known_family(const char *key);
/** `name` is `base` followed by one of `suffixes` (NULL-terminated, "" for the bare name) or by "_n" + digits. */
int refcase_name_is(const char *name, const char *base, const char *const *suffixes);

/* ---- validation (README "case.txt grammar") ---------------------------------------------------- */

/* The params, inputs and outputs a category allows (NULL-terminated lists). */
typedef struct refcase_keys {
    const char *const *params, *const *inputs, *const *outputs;
} refcase_keys;

/**
 * Every line of the case against the grammar: key syntax and uniqueness, known family; param and
 * variant names allowed by `keys` and their values of the README type and vocabulary; variants of an
 * existing output or result; inputs and outputs allowed by `keys`, with a well-formed file line
 * (<name>.npy, float32 or int32, a shape); result values of their type (n_iter*: int). Returns 0 when
 * fine, else -1 after reporting the first problem.
 */
int refcase_validate(const case_file *c, const refcase_keys *keys);
/** refcase_validate where an output is also allowed when `output_ok` (may be NULL) accepts its name
 * (outputs named by a pattern, such as w_n3); keys->outputs may then be NULL. */
int refcase_validate_with(const case_file *c, const refcase_keys *keys, int (*output_ok)(const char *name));

/** The README type of param `name` ("float", "int", "bool", "ints", "floats", "int_or_none", "token"),
 * or NULL for a name the README does not list. */
const char *refcase_param_type(const char *name);
/** The README vocabulary of token param `name` (NULL-terminated), or NULL when it is not a token. */
const char *const *refcase_param_vocabulary(const char *name);
/** Every param name the README lists (NULL-terminated). */
const char *const *refcase_param_names(void);
/** `value` is a valid value of param `name` (type and vocabulary): 0, else -1 with the reason in why. */
int refcase_check_value(const char *name, const char *value, char *why, size_t why_size);

/* ---- reading what a case says (every read marks the line as used, see refcase_track_*) -------- */

/** The value of param `name` for output or result `target` (NULL: the case's params): its variant
 * line if any, else param.name; NULL when neither exists. */
const char *refcase_param(const case_file *c, const char *target, const char *name);

/*
 * Typed params for `target` (NULL: param.* only), read as refcase_param does and checked against the
 * README type: 1 when given (value stored), 0 when absent (out untouched) and not `required`, -1 when
 * malformed or required and absent (reported with the case and the key).
 */
int refcase_float(const case_file *c, const char *target, const char *name, int required, double *out);
int refcase_int(const case_file *c, const char *target, const char *name, int required, long *out);
int refcase_bool(const case_file *c, const char *target, const char *name, int required, int *out);
/** A list of exactly `count` ints. */
int refcase_ints(const case_file *c, const char *target, const char *name, int required, long *out, int count);
/** int_or_none: *is_none = 1 for "none". */
int refcase_int_or_none(const case_file *c, const char *target, const char *name, int required, long *out,
                        int *is_none);
/** A token of the README vocabulary; *index = its position in `choices` (NULL-terminated), and a token
 * of the vocabulary that is not among the choices fails as "not supported by this runner". */
int refcase_token(const case_file *c, const char *target, const char *name, int required,
                  const char *const *choices, int *index);

/** Load array `family`.`name` of the case as float32 into arr (zeroed first); NULL if absent or unreadable,
 * or when its dtype or shape differs from the file line (reported). */
float *refcase_array(const case_file *c, const char *family, const char *name, npy_array *arr);
/** The float32 array of the file line `key` as malloc'ed doubles, with its count and shape; NULL (reported)
 * on failure. */
double *refcase_doubles(const case_file *c, const char *key, size_t *count, size_t *shape, int *ndim);

/* ---- comparing -------------------------------------------------------------------------------- */

/** Compare `got` with `expected` under the reference tolerance, reported as "dir: name". */
int refcase_compare(const char *dir, const char *name, const float *got, const double *expected, size_t n);
/**
 * Compare the device tensor `src` (may be NULL) with output.`target` of the case; 1 when compared,
 * else 0 with the reason reported. `src` must be float32 of the expected shape once unit axes are
 * dropped (sigma is (1, 1) in the cases).
 */
int refcase_check_output(const case_file *c, const char *target, const lip_tensor *src);
/** result.`name` (an int) must equal `got` exactly; absent or different counts a failure (reported). */
int refcase_check_iterations(const case_file *c, const char *name, int got);
/** When result.`name` exists: |got − value| ≤ atol + rtol·|value| (reported); 1 when compared, 0 when
 * absent, -1 on mismatch. */
int refcase_check_result(const case_file *c, const char *name, double got, double atol, double rtol);

/* ---- use tracking: the runner must read every param, variant, input, output and n_iter -------- */

/** Start tracking the reads of case c (one case at a time). */
void refcase_track_begin(const case_file *c);
/** Mark line `key` of the tracked case as used (a runner that reads a line without the helpers). */
void refcase_mark(const case_file *c, const char *key);
/** Stop tracking; every param.*, variant.*, input.*, output.* and result.n_iter* line that was never
 * read is reported and counted as a failure. Returns the number of such lines. */
int refcase_track_end(const case_file *c);
/** Stop tracking without reporting (a case that failed already). */
void refcase_track_discard(void);

/* ---- normalizer settings (categories bjorck and spectral_normalization) ------------------------ */

/* Settings of a normalizer case: the param lines, overlaid with a target's variant lines. */
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
