/* lipcl tests — the golden reference cases shared by the programs that run them (see refcase.h):
 * loading, listing, key validation, normalizer settings and comparison with the reference tolerance. */
#define _POSIX_C_SOURCE 200809L
#include "refcase.h"

#include <ctype.h>
#include <dirent.h>
#include <string.h>

#include "check.h"

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

/* Keys that stand alone, and families a test does not read (README grammar). */
static const char *const ignored_keys[] = {"case", "category", "summary", "primary_reference", "set", "seed",
                                           "attempt", NULL};
static const char *const ignored_families[] = {"extra", "result", "tol", "check", "compare", "note", NULL};
static const char *const read_families[] = {"param", "variant", "input", "output", NULL};

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

const char *refcase_param(const case_file *c, const char *target, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "variant.%s.%s", target, name);
    const char *v = case_get(c, key);
    if (v) return v;
    snprintf(key, sizeof key, "param.%s", name);
    return case_get(c, key);
}

int refcase_validate(const case_file *c, const refcase_keys *keys) {
    for (size_t i = 0; i < c->count; i++) {
        const char *key = c->entries[i].key;
        char family[64];
        size_t fl = strcspn(key, ".");
        if (fl >= sizeof family) return refcase_fail(c->dir, "key too long", key);
        memcpy(family, key, fl);
        family[fl] = '\0';
        const char *rest = key[fl] ? key + fl + 1 : "";
        if (!key[fl] && refcase_in_list(ignored_keys, key)) continue;
        if (refcase_in_list(ignored_families, family)) continue;
        if (strcmp(family, "param") == 0) {
            if (!refcase_in_list(keys->params, rest)) return refcase_fail(c->dir, "unknown param", key);
        } else if (strcmp(family, "variant") == 0) {
            char target[64], out_key[128];
            size_t tl = strcspn(rest, ".");
            if (!rest[tl] || tl >= sizeof target) return refcase_fail(c->dir, "malformed variant", key);
            memcpy(target, rest, tl);
            target[tl] = '\0';
            snprintf(out_key, sizeof out_key, "output.%s", target);
            if (!case_get(c, out_key)) return refcase_fail(c->dir, "variant of an unknown target", key);
            if (!refcase_in_list(keys->params, rest + tl + 1))
                return refcase_fail(c->dir, "unknown variant param", key);
        } else if (strcmp(family, "input") == 0) {
            if (!refcase_in_list(keys->inputs, rest)) return refcase_fail(c->dir, "unknown input", key);
        } else if (strcmp(family, "output") == 0) {
            if (!refcase_in_list(keys->outputs, rest)) return refcase_fail(c->dir, "unknown output", key);
        } else {
            return refcase_fail(c->dir, "unknown key family", key);
        }
    }
    return 0;
}

float *refcase_array(const case_file *c, const char *family, const char *name, npy_array *arr) {
    char key[128], file[256], dtype[32], path[1536], err[512];
    size_t shape[8];
    int ndim;
    memset(arr, 0, sizeof *arr);
    snprintf(key, sizeof key, "%s.%s", family, name);
    const char *v = case_get(c, key);
    if (!v) return NULL;
    if (case_file_line(v, file, sizeof file, dtype, sizeof dtype, shape, &ndim) != 0) {
        refcase_fail(c->dir, "malformed file line", key);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    if (npy_load(path, arr, err, sizeof err) != 0 || arr->dtype != NPY_F32) {
        refcase_fail(c->dir, "cannot load float32 array", path);
        return NULL;
    }
    return arr->data;
}

double *refcase_doubles(const case_file *c, const char *key, size_t *count, size_t *shape, int *ndim) {
    const char *v = case_get(c, key);
    char file[256], dtype[32], path[1400], err[512];
    if (!v || case_file_line(v, file, sizeof file, dtype, sizeof dtype, shape, ndim) != 0) {
        fprintf(stderr, "%s: bad file line for %s\n", c->dir, key);
        test_failures++;
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    npy_array a;
    if (npy_load(path, &a, err, sizeof err) != 0 || a.dtype != NPY_F32) {
        fprintf(stderr, "%s: cannot load %s as float32: %s\n", c->dir, path, err);
        test_failures++;
        return NULL;
    }
    double *d = npy_to_double(&a);
    *count = a.count;
    npy_free(&a);
    return d;
}

int refcase_compare(const char *dir, const char *name, const float *got, const double *expected, size_t n) {
    char what[1400];
    snprintf(what, sizeof what, "%s: %s", dir, name);
    return test_compare(what, got, expected, n, REFCASE_ATOL, REFCASE_RTOL);
}

int refcase_check_output(const case_file *c, const char *target, const lip_tensor *src) {
    npy_array ae;
    float *expected = refcase_array(c, "output", target, &ae);
    int compared = 0;
    if (expected && src && ae.count == lip_tensor_count(src)) {
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

int refcase_norm_apply(refcase_norm *s, const char *name, const char *value, char *why, size_t why_size) {
    char *end;
    if (s->with_beta && strcmp(name, "beta") == 0) {
        s->beta = strtod(value, &end);
        if (end == value || *end) goto bad;
        s->have_beta = 1;
    } else if (strcmp(name, "eps") == 0) {
        s->eps = strtod(value, &end);
        if (end == value || *end) goto bad;
        s->have_eps = 1;
    } else if (strcmp(name, "maxiter") == 0) {
        long v = strtol(value, &end, 10);
        if (end == value || *end) goto bad;
        s->maxiter = (int)v;
        s->have_maxiter = 1;
    } else if (strcmp(name, "stopping") == 0) {
        if (strcmp(value, "eps") == 0)
            s->fixed = 0;
        else if (strcmp(value, "fixed") == 0)
            s->fixed = 1;
        else
            goto bad;
        s->have_stopping = 1;
    } else {
        snprintf(why, why_size, "unknown parameter '%s' for category %s", name, s->category);
        return -1;
    }
    return 0;
bad:
    snprintf(why, why_size, "bad value '%s' for parameter '%s'", value, name);
    return -1;
}

int refcase_norm_target(const case_file *c, const refcase_norm *base, const char *target, refcase_norm *out) {
    char why[256];
    *out = *base;
    size_t tl = strlen(target);
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key;
        if (strncmp(k, "variant.", 8) != 0) continue;
        if (strncmp(k + 8, target, tl) != 0 || k[8 + tl] != '.') continue;
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
    CHECK((base->have_beta || !base->with_beta) && base->have_eps && base->have_maxiter && base->have_stopping);
}
