/* lipcl tests — the golden reference cases as the runner reads them (see refcase.h): listing, the README
 * grammar (keys, value types, vocabulary), typed reads with use tracking, normalizer settings, comparison. */
#define _POSIX_C_SOURCE 200809L
#include "refcase.h"

#include <ctype.h>
#include <dirent.h>
#include <string.h>

#include "check.h"

/* ---- case folders ------------------------------------------------------------------------------ */

int refcase_is_case_folder(const char *path) {
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/case.txt", path);
    FILE *f = fopen(probe, "r");
    if (f) fclose(f);
    return f != NULL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_prefix(const char *name, const char *const *prefixes) {
    if (!prefixes) return name[0] != '.';
    for (; *prefixes; prefixes++)
        if (strncmp(name, *prefixes, strlen(*prefixes)) == 0) return 1;
    return 0;
}

char **refcase_list(const char *root, const char *const *prefixes, int case_folders_only, size_t *count) {
    *count = 0;
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "cannot open the reference folder %s\n", root);
        test_failures++;
        return NULL;
    }
    enum { MAX_CASES = 512 };
    char **paths = calloc(MAX_CASES, sizeof *paths);
    if (!paths) exit(1);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_CASES) {
        if (!has_prefix(e->d_name, prefixes)) continue;
        size_t size = strlen(root) + strlen(e->d_name) + 2;
        char *path = malloc(size);
        if (!path) exit(1);
        snprintf(path, size, "%s/%s", root, e->d_name);
        if (case_folders_only && !refcase_is_case_folder(path)) {
            free(path);
            continue;
        }
        paths[n++] = path;
    }
    closedir(d);
    qsort(paths, n, sizeof *paths, by_name);
    *count = n;
    return paths;
}

void refcase_list_free(char **paths, size_t count) {
    for (size_t i = 0; i < count; i++) free(paths[i]);
    free(paths);
}

void refcase_expect_pass(const char *dir, int passed) {
    if (passed != 1) {
        fprintf(stderr, "%s: not a passing case of this test's category\n", dir);
        test_failures++;
    }
}

int refcase_for_each(const char *root, const char *const *prefixes, int case_folders_only,
                     int (*run)(const char *dir)) {
    size_t count = 0;
    char **dirs = refcase_list(root, prefixes, case_folders_only, &count);
    if (!dirs) return -1;
    int sum = 0;
    for (size_t i = 0; i < count; i++) sum += run(dirs[i]);
    refcase_list_free(dirs, count);
    return sum;
}

int refcase_open(const char *dir, const char *category, case_file *c) {
    char err[512];
    if (case_load(dir, c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        test_failures++;
        return 0;
    }
    const char *cat = case_get(c, "category");
    if (!cat || strcmp(cat, category) != 0) {
        case_free(c);
        return 0;
    }
    return 1;
}

/* ---- reporting and names ----------------------------------------------------------------------- */

int refcase_fail(const char *dir, const char *why, const char *what) {
    fprintf(stderr, "%s: %s '%s'\n", dir, why, what);
    test_failures++;
    return -1;
}

int refcase_in_list(const char *const *list, const char *s) {
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

/* Keys that stand alone, families a runner ignores, families it reads (README grammar). */
static const char *const ignored_keys[] = {"case", "category", "summary", "primary_reference", "set", "seed",
                                           "attempt", NULL};
static const char *const ignored_families[] = {"extra", "tol", "check", "compare", "note", NULL};
static const char *const read_families[] = {"param", "variant", "input", "output", "result", NULL};

int refcase_known_family(const char *key) {
    char family[64];
    size_t n = strcspn(key, ".");
    if (n >= sizeof family) return 0;
    memcpy(family, key, n);
    family[n] = '\0';
    return refcase_in_list(ignored_keys, family) || refcase_in_list(ignored_families, family) ||
           refcase_in_list(read_families, family);
}

int refcase_name_is(const char *name, const char *base, const char *const *suffixes) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0) return 0;
    const char *s = name + n;
    if (refcase_in_list(suffixes, s)) return 1;
    if (strncmp(s, "_n", 2) != 0 || !s[2]) return 0;
    for (s += 2; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* ---- use tracking ------------------------------------------------------------------------------ */

static const case_file *tracked;
static unsigned char *used;

void refcase_track_begin(const case_file *c) {
    free(used);
    used = calloc(c->count ? c->count : 1, 1);
    if (!used) exit(1);
    tracked = c;
}

void refcase_mark(const case_file *c, const char *key) {
    if (c != tracked || !used) return;
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0) used[i] = 1;
}

void refcase_track_discard(void) {
    free(used);
    used = NULL;
    tracked = NULL;
}

int refcase_track_end(const case_file *c) {
    int unread = 0;
    for (size_t i = 0; c == tracked && used && i < c->count; i++) {
        const char *k = c->entries[i].key;
        int needed = !strncmp(k, "param.", 6) || !strncmp(k, "variant.", 8) || !strncmp(k, "input.", 6) ||
                     !strncmp(k, "output.", 7) || !strncmp(k, "result.n_iter", 13);
        if (needed && !used[i]) {
            refcase_fail(c->dir, "the runner never used the line", k);
            unread++;
        }
    }
    refcase_track_discard();
    return unread;
}

/* ---- the README's parameters: type and vocabulary --------------------------------------------- */

static const char *const v_stopping[] = {"eps", "fixed", NULL};
static const char *const v_padding[] = {"same", "valid", NULL};
static const char *const v_data_format[] = {"channels_last", NULL};
static const char *const v_conv_coef_mode[] = {"deel_lip", "strict", NULL};
static const char *const v_activation[] = {"GroupSort", "MaxMin", "Householder", NULL};
static const char *const v_layer[] = {"ScaledL2NormPooling2D",        "ScaledAveragePooling2D",
                                      "ScaledGlobalL2NormPooling2D",  "ScaledGlobalAveragePooling2D",
                                      "InvertibleDownSampling",       "InvertibleUpSampling",
                                      NULL};
static const char *const v_loss[] = {"KR",
                                     "HingeMargin",
                                     "HKR",
                                     "TauBinaryCrossentropy",
                                     "MulticlassKR",
                                     "MulticlassHinge",
                                     "MulticlassHKR",
                                     "MulticlassSoftHKR",
                                     "MultiMargin",
                                     "CategoricalHinge",
                                     "TauCategoricalCrossentropy",
                                     "TauSparseCategoricalCrossentropy",
                                     NULL};
static const char *const v_reduction[] = {"mean", NULL};
static const char *const v_label_encoding[] = {"pm1", "01", "onehot", "onehot_pm1", "sparse", NULL};
static const char *const v_task[] = {"binary", "categorical", NULL};

typedef struct param_def {
    const char *name, *type;
    const char *const *vocabulary; /* token params */
} param_def;

/* The "Parameters" table of the README, in its order (the self-test compares the two). */
static const param_def param_defs[] = {
    {"beta", "float", NULL},
    {"eps", "float", NULL},
    {"maxiter", "int", NULL},
    {"stopping", "token", v_stopping},
    {"k_coef_lip", "float", NULL},
    {"use_bias", "bool", NULL},
    {"eps_spectral", "float", NULL},
    {"maxiter_spectral", "int", NULL},
    {"eps_bjorck", "float", NULL},
    {"beta_bjorck", "float", NULL},
    {"maxiter_bjorck", "int", NULL},
    {"kernel_size", "ints", NULL},
    {"strides", "ints", NULL},
    {"padding", "token", v_padding},
    {"padding_rows_top_bottom", "ints", NULL},
    {"padding_cols_left_right", "ints", NULL},
    {"data_format", "token", v_data_format},
    {"conv_coef_mode", "token", v_conv_coef_mode},
    {"disjoint_neurons", "bool", NULL},
    {"activation", "token", v_activation},
    {"n", "int_or_none", NULL},
    {"inputs_tie_free", "bool", NULL},
    {"layer", "token", v_layer},
    {"pool_size", "ints", NULL},
    {"eps_grad_sqrt", "float", NULL},
    {"loss", "token", v_loss},
    {"alpha", "float", NULL},
    {"min_margin", "float", NULL},
    {"tau", "float", NULL},
    {"alpha_mean", "float", NULL},
    {"temperature", "float", NULL},
    {"reduction", "token", v_reduction},
    {"label_encoding", "token", v_label_encoding},
    {"task", "token", v_task},
    {"lip_const", "float", NULL},
    {"epsilons", "floats", NULL},
    {"negative_robustness", "bool", NULL},
};
enum { PARAM_DEFS = sizeof param_defs / sizeof param_defs[0] };

static const param_def *param_def_of(const char *name) {
    for (size_t i = 0; i < PARAM_DEFS; i++)
        if (strcmp(param_defs[i].name, name) == 0) return &param_defs[i];
    return NULL;
}

const char *refcase_param_type(const char *name) {
    const param_def *d = param_def_of(name);
    return d ? d->type : NULL;
}

const char *const *refcase_param_vocabulary(const char *name) {
    const param_def *d = param_def_of(name);
    return d ? d->vocabulary : NULL;
}

const char *const *refcase_param_names(void) {
    static const char *names[PARAM_DEFS + 1];
    for (size_t i = 0; i < PARAM_DEFS; i++) names[i] = param_defs[i].name;
    names[PARAM_DEFS] = NULL;
    return names;
}

/* Value syntax (README "Line syntax"): decimal integers, strtod numbers, ", "-separated lists. */
static int is_int(const char *s) {
    if (*s == '-') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
    return *s == '\0';
}

static int is_float(const char *s) {
    if (!(*s == '-' || *s == '.' || isdigit((unsigned char)*s))) return 0;
    char *end;
    double v = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(v);
}

static int is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

/* A ", "-separated list of items each accepted by `item`. */
static int is_list(const char *s, int (*item)(const char *)) {
    char buf[64];
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == 0 || n >= sizeof buf) return 0;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (!item(buf)) return 0;
        if (!comma) return 1;
        if (comma[1] != ' ') return 0;
        s = comma + 2;
    }
}

int refcase_check_value(const char *name, const char *value, char *why, size_t why_size) {
    const param_def *d = param_def_of(name);
    if (!d) {
        snprintf(why, why_size, "param '%s' is not in the README", name);
        return -1;
    }
    int ok;
    if (!strcmp(d->type, "float"))
        ok = is_float(value);
    else if (!strcmp(d->type, "int"))
        ok = is_int(value);
    else if (!strcmp(d->type, "bool"))
        ok = !strcmp(value, "true") || !strcmp(value, "false");
    else if (!strcmp(d->type, "ints"))
        ok = is_list(value, is_int);
    else if (!strcmp(d->type, "floats"))
        ok = is_list(value, is_float);
    else if (!strcmp(d->type, "int_or_none"))
        ok = !strcmp(value, "none") || is_int(value);
    else
        ok = is_token(value) && refcase_in_list(d->vocabulary, value);
    if (!ok) {
        snprintf(why, why_size, "value '%s' of '%s' is not of type %s%s", value, name, d->type,
                 d->vocabulary ? " (outside its vocabulary)" : "");
        return -1;
    }
    return 0;
}

/* ---- validation -------------------------------------------------------------------------------- */

static int key_syntax_ok(const char *k) {
    /* [a-z0-9_]+(\.[a-z0-9_]+)* */
    int seg = 0;
    for (; *k; k++) {
        if (*k == '.') {
            if (!seg) return 0;
            seg = 0;
        } else if (islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_') {
            seg++;
        } else {
            return 0;
        }
    }
    return seg > 0;
}

/* A file line of key family.name: "<name>.npy float32|int32 (shape) : description". */
static int file_line_ok(const case_file *c, const char *key, const char *name, const char *value) {
    char file[256], dtype[32], expect[256];
    size_t shape[8];
    int ndim;
    if (case_file_line(value, file, sizeof file, dtype, sizeof dtype, shape, &ndim) != 0)
        return refcase_fail(c->dir, "malformed file line", key);
    snprintf(expect, sizeof expect, "%s.npy", name);
    if (strcmp(file, expect) != 0) return refcase_fail(c->dir, "file line names another file than <name>.npy", key);
    if (strcmp(dtype, "float32") != 0 && strcmp(dtype, "int32") != 0)
        return refcase_fail(c->dir, "dtype is neither float32 nor int32 in", key);
    return 0;
}

int refcase_validate(const case_file *c, const refcase_keys *keys) { return refcase_validate_with(c, keys, NULL); }

int refcase_validate_with(const case_file *c, const refcase_keys *keys, int (*output_ok)(const char *name)) {
    char why[256];
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key, *value = c->entries[i].value;
        if (!key_syntax_ok(key)) return refcase_fail(c->dir, "malformed key", key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->entries[j].key, key) == 0) return refcase_fail(c->dir, "duplicate key", key);
        char family[64];
        size_t fl = strcspn(key, ".");
        if (fl >= sizeof family) return refcase_fail(c->dir, "key too long", key);
        memcpy(family, key, fl);
        family[fl] = '\0';
        const char *rest = key[fl] ? key + fl + 1 : "";
        if (!key[fl]) {
            if (!refcase_in_list(ignored_keys, key)) return refcase_fail(c->dir, "unknown key", key);
            continue;
        }
        if (refcase_in_list(ignored_families, family)) continue;
        if (strcmp(family, "param") == 0) {
            if (!refcase_in_list(keys->params, rest)) return refcase_fail(c->dir, "unknown param", key);
            if (refcase_check_value(rest, value, why, sizeof why) != 0) return refcase_fail(c->dir, why, key);
        } else if (strcmp(family, "variant") == 0) {
            char target[64], out_key[128], res_key[128];
            size_t tl = strcspn(rest, ".");
            if (!rest[tl] || tl >= sizeof target) return refcase_fail(c->dir, "malformed variant", key);
            memcpy(target, rest, tl);
            target[tl] = '\0';
            snprintf(out_key, sizeof out_key, "output.%s", target);
            snprintf(res_key, sizeof res_key, "result.%s", target);
            if (!case_get(c, out_key) && !case_get(c, res_key))
                return refcase_fail(c->dir, "variant of a target that is neither an output nor a result", key);
            const char *name = rest + tl + 1;
            if (!refcase_in_list(keys->params, name)) return refcase_fail(c->dir, "unknown variant param", key);
            if (refcase_check_value(name, value, why, sizeof why) != 0) return refcase_fail(c->dir, why, key);
        } else if (strcmp(family, "input") == 0) {
            if (!refcase_in_list(keys->inputs, rest)) return refcase_fail(c->dir, "unknown input", key);
            if (file_line_ok(c, key, rest, value) != 0) return -1;
        } else if (strcmp(family, "output") == 0) {
            int known = (keys->outputs && refcase_in_list(keys->outputs, rest)) ||
                        (output_ok && output_ok(rest));
            if (!known) return refcase_fail(c->dir, "unknown output", key);
            if (file_line_ok(c, key, rest, value) != 0) return -1;
        } else if (strcmp(family, "result") == 0) {
            /* unknown results are ignored, but the ones the README types must have their type */
            if (strncmp(rest, "n_iter", 6) == 0 && !is_int(value))
                return refcase_fail(c->dir, "iteration count is not an int", key);
            if (strncmp(rest, "stopping_rule_values", 20) == 0 && !is_list(value, is_float))
                return refcase_fail(c->dir, "stopping values are not a list of numbers", key);
        } else {
            return refcase_fail(c->dir, "unknown key family", key);
        }
    }
    return 0;
}

/* ---- typed reads ------------------------------------------------------------------------------- */

const char *refcase_param(const case_file *c, const char *target, const char *name) {
    char key[256];
    const char *v = NULL;
    if (target) {
        snprintf(key, sizeof key, "variant.%s.%s", target, name);
        v = case_get(c, key);
        if (v) refcase_mark(c, key);
    }
    snprintf(key, sizeof key, "param.%s", name);
    const char *p = case_get(c, key);
    if (p) refcase_mark(c, key); /* consulted either way: the variant overlays it */
    return v ? v : p;
}

/* The raw value of `name` for `target`, checked against the README type; see refcase_float. */
static int typed(const case_file *c, const char *target, const char *name, int required, const char *type,
                 const char **value) {
    const char *want = refcase_param_type(name);
    if (!want || strcmp(want, type) != 0) { /* a runner asking for the wrong type is a bug of the runner */
        fprintf(stderr, "%s: runner reads param '%s' as %s, the README says %s\n", c->dir, name, type,
                want ? want : "(not listed)");
        test_failures++;
        return -1;
    }
    *value = refcase_param(c, target, name);
    if (!*value) return required ? refcase_fail(c->dir, "missing param", name) : 0;
    char why[256];
    if (refcase_check_value(name, *value, why, sizeof why) != 0) return refcase_fail(c->dir, why, name);
    return 1;
}

int refcase_float(const case_file *c, const char *target, const char *name, int required, double *out) {
    const char *v;
    int rc = typed(c, target, name, required, "float", &v);
    if (rc == 1) *out = strtod(v, NULL);
    return rc;
}

int refcase_int(const case_file *c, const char *target, const char *name, int required, long *out) {
    const char *v;
    int rc = typed(c, target, name, required, "int", &v);
    if (rc == 1) *out = strtol(v, NULL, 10);
    return rc;
}

int refcase_bool(const case_file *c, const char *target, const char *name, int required, int *out) {
    const char *v;
    int rc = typed(c, target, name, required, "bool", &v);
    if (rc == 1) *out = strcmp(v, "true") == 0;
    return rc;
}

int refcase_ints(const case_file *c, const char *target, const char *name, int required, long *out, int count) {
    const char *v;
    int rc = typed(c, target, name, required, "ints", &v);
    if (rc != 1) return rc;
    double d[16];
    int n = case_numbers(v, d, 16);
    if (n != count) {
        char why[128];
        snprintf(why, sizeof why, "param has %d numbers where the runner needs %d:", n, count);
        return refcase_fail(c->dir, why, name);
    }
    for (int i = 0; i < n; i++) out[i] = (long)d[i];
    return 1;
}

int refcase_int_or_none(const case_file *c, const char *target, const char *name, int required, long *out,
                        int *is_none) {
    const char *v;
    int rc = typed(c, target, name, required, "int_or_none", &v);
    if (rc != 1) return rc;
    *is_none = strcmp(v, "none") == 0;
    if (!*is_none) *out = strtol(v, NULL, 10);
    return 1;
}

int refcase_token(const case_file *c, const char *target, const char *name, int required,
                  const char *const *choices, int *index) {
    const char *v;
    int rc = typed(c, target, name, required, "token", &v);
    if (rc != 1) return rc;
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v) == 0) {
            *index = i;
            return 1;
        }
    char why[160];
    snprintf(why, sizeof why, "value '%s' of param '%s' is not supported by this runner:", v, name);
    return refcase_fail(c->dir, why, name);
}

float *refcase_array(const case_file *c, const char *family, const char *name, npy_array *arr) {
    char key[128], file[256], dtype[32], path[1536], err[512];
    size_t shape[8];
    int ndim;
    memset(arr, 0, sizeof *arr);
    snprintf(key, sizeof key, "%s.%s", family, name);
    const char *v = case_get(c, key);
    if (!v) return NULL;
    refcase_mark(c, key);
    if (case_file_line(v, file, sizeof file, dtype, sizeof dtype, shape, &ndim) != 0) {
        refcase_fail(c->dir, "malformed file line", key);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    if (npy_load(path, arr, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s: %s\n", c->dir, key, err);
        test_failures++;
        return NULL;
    }
    int same = arr->dtype == NPY_F32 && strcmp(dtype, "float32") == 0 && arr->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = arr->shape[d] == shape[d];
    if (!same) {
        refcase_fail(c->dir, "array is not the float32 array of the declared shape:", path);
        npy_free(arr);
        return NULL;
    }
    return arr->data;
}

double *refcase_doubles(const case_file *c, const char *key, size_t *count, size_t *shape, int *ndim) {
    char family[64];
    size_t fl = strcspn(key, ".");
    if (!key[fl] || fl >= sizeof family) {
        refcase_fail(c->dir, "not a file key", key);
        return NULL;
    }
    memcpy(family, key, fl);
    family[fl] = '\0';
    npy_array a;
    if (!refcase_array(c, family, key + fl + 1, &a)) {
        if (!case_get(c, key)) refcase_fail(c->dir, "missing", key);
        return NULL;
    }
    double *d = npy_to_double(&a);
    if (!d) exit(1);
    *count = a.count;
    *ndim = a.ndim;
    for (int i = 0; i < a.ndim; i++) shape[i] = a.shape[i];
    npy_free(&a);
    return d;
}

/* ---- comparing -------------------------------------------------------------------------------- */

int refcase_compare(const char *dir, const char *name, const float *got, const double *expected, size_t n) {
    char what[1400];
    snprintf(what, sizeof what, "%s: %s", dir, name);
    return test_compare(what, got, expected, n, REFCASE_ATOL, REFCASE_RTOL);
}

/* The shapes agree once their unit axes are dropped (sigma is (1, 1) in the cases, (1,) on the device). */
static int same_squeezed_shape(const npy_array *a, const lip_tensor *t) {
    size_t sa[8], st[LIP_MAX_DIMS];
    int na = 0, nt = 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != 1) sa[na++] = a->shape[d];
    for (int d = 0; d < lip_tensor_ndim(t); d++)
        if (lip_tensor_dim(t, d) != 1) st[nt++] = lip_tensor_dim(t, d);
    if (na != nt) return 0;
    for (int d = 0; d < na; d++)
        if (sa[d] != st[d]) return 0;
    return 1;
}

int refcase_check_output(const case_file *c, const char *target, const lip_tensor *src) {
    npy_array ae;
    float *expected = refcase_array(c, "output", target, &ae);
    int compared = 0;
    if (expected && src && (lip_tensor_dtype(src) != LIP_FLOAT32 || !same_squeezed_shape(&ae, src))) {
        char want[96] = "", got[96] = "";
        for (int d = 0; d < ae.ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), " %zu", ae.shape[d]);
        for (int d = 0; d < lip_tensor_ndim(src); d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), " %zu", lip_tensor_dim(src, d));
        fprintf(stderr, "%s: output %s: the device result (float32? %s, shape%s) is not float32 of shape%s\n",
                c->dir, target, lip_tensor_dtype(src) == LIP_FLOAT32 ? "yes" : "no", got, want);
        test_failures++;
    } else if (expected && src) {
        float *got = test_download(src);
        double *ref = test_to_double(expected, ae.count);
        refcase_compare(c->dir, target, got, ref, ae.count);
        compared = 1;
        free(got);
        free(ref);
    } else {
        refcase_fail(c->dir, "cannot compare output", target);
    }
    npy_free(&ae);
    return compared;
}

int refcase_check_iterations(const case_file *c, const char *name, int got) {
    char key[160];
    snprintf(key, sizeof key, "result.%s", name);
    const char *v = case_get(c, key);
    refcase_mark(c, key);
    test_checks++;
    if (!v || !is_int(v)) return refcase_fail(c->dir, "missing or malformed", key) == 0;
    long expected = strtol(v, NULL, 10);
    if (got != expected) {
        fprintf(stderr, "%s: %s: the device ran %d iterations, expected %ld\n", c->dir, key, got, expected);
        test_failures++;
        return 0;
    }
    return 1;
}

int refcase_check_result(const case_file *c, const char *name, double got, double atol, double rtol) {
    char key[160];
    snprintf(key, sizeof key, "result.%s", name);
    const char *v = case_get(c, key);
    if (!v) return 0;
    refcase_mark(c, key);
    test_checks++;
    if (!is_float(v)) return refcase_fail(c->dir, "malformed", key);
    double expected = strtod(v, NULL);
    if (!(fabs(got - expected) <= atol + rtol * fabs(expected))) {
        fprintf(stderr, "%s: %s: got %.12g, expected %.12g (tolerance %.2g + %.2g relative)\n", c->dir, key, got,
                expected, atol, rtol);
        test_failures++;
        return -1;
    }
    return 1;
}

/* ---- normalizer settings ----------------------------------------------------------------------- */

int refcase_norm_apply(refcase_norm *s, const char *name, const char *value, char *why, size_t why_size) {
    if ((s->with_beta && strcmp(name, "beta") == 0) || strcmp(name, "eps") == 0 || strcmp(name, "maxiter") == 0 ||
        strcmp(name, "stopping") == 0) {
        if (refcase_check_value(name, value, why, why_size) != 0) return -1;
    }
    if (s->with_beta && strcmp(name, "beta") == 0) {
        s->beta = strtod(value, NULL);
        s->have_beta = 1;
    } else if (strcmp(name, "eps") == 0) {
        s->eps = strtod(value, NULL);
        s->have_eps = 1;
    } else if (strcmp(name, "maxiter") == 0) {
        s->maxiter = (int)strtol(value, NULL, 10);
        s->have_maxiter = 1;
    } else if (strcmp(name, "stopping") == 0) {
        s->fixed = strcmp(value, "fixed") == 0;
        s->have_stopping = 1;
    } else {
        snprintf(why, why_size, "unknown parameter '%s' for category %s", name, s->category);
        return -1;
    }
    return 0;
}

int refcase_norm_target(const case_file *c, const refcase_norm *base, const char *target, refcase_norm *out) {
    char why[256];
    *out = *base;
    size_t tl = strlen(target);
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key;
        if (strncmp(k, "variant.", 8) != 0) continue;
        if (strncmp(k + 8, target, tl) != 0 || k[8 + tl] != '.') continue;
        refcase_mark(c, k);
        if (refcase_norm_apply(out, k + 9 + tl, c->entries[i].value, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", c->dir, why);
            test_failures++;
            return -1;
        }
    }
    return 0;
}

void refcase_norm_validate(const case_file *c, refcase_norm *base, int (*input_ok)(const char *name),
                           int (*output_ok)(const char *name)) {
    const char *dir = c->dir;
    char why[256];
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key, *v = c->entries[i].value;
        CHECK(refcase_known_family(k));
        if (!refcase_known_family(k)) fprintf(stderr, "%s: unknown key family in '%s'\n", dir, k);
        if (strncmp(k, "param.", 6) == 0) {
            refcase_mark(c, k);
            int ok = refcase_norm_apply(base, k + 6, v, why, sizeof why) == 0;
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: %s\n", dir, why);
        } else if (strncmp(k, "input.", 6) == 0) {
            int ok = input_ok(k + 6);
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: unknown input '%s'\n", dir, k + 6);
        } else if (strncmp(k, "output.", 7) == 0) {
            int ok = output_ok(k + 7);
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: unknown output '%s'\n", dir, k + 7);
        } else if (strncmp(k, "variant.", 8) == 0) {
            char target[128];
            const char *dot = strchr(k + 8, '.');
            int ok = dot && (size_t)(dot - (k + 8)) < sizeof target;
            if (ok) {
                memcpy(target, k + 8, (size_t)(dot - (k + 8)));
                target[dot - (k + 8)] = '\0';
                char ok_key[160], rk[160];
                snprintf(ok_key, sizeof ok_key, "output.%s", target);
                snprintf(rk, sizeof rk, "result.%s", target);
                ok = case_get(c, ok_key) || case_get(c, rk);
                if (!ok) fprintf(stderr, "%s: variant target '%s' is neither an output nor a result\n", dir, target);
                refcase_norm tmp = *base;
                if (ok && refcase_norm_apply(&tmp, dot + 1, v, why, sizeof why) != 0) {
                    fprintf(stderr, "%s: %s\n", dir, why);
                    ok = 0;
                }
            }
            CHECK(ok);
        }
    }
    int complete = (base->have_beta || !base->with_beta) && base->have_eps && base->have_maxiter && base->have_stopping;
    CHECK(complete);
    if (!complete) fprintf(stderr, "%s: a setting of category %s is missing (beta, eps, maxiter, stopping)\n", dir,
                           base->category);
}
