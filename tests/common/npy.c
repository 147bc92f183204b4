/* lipcl tests — .npy and case.txt readers for the golden reference vectors in tests/reference.
 * Strict: anything unexpected in a header is an error, never a guess. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t size, const char *fmt, const char *a, const char *b) {
    snprintf(err, size, fmt, a, b);
    return -1;
}

/* Parse "(4, 12)" / "(5,)" / "()" starting at s. */
static int parse_shape(const char *s, size_t *shape, int *ndim) {
    while (*s == ' ') s++;
    if (*s++ != '(') return -1;
    *ndim = 0;
    for (;;) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') return 0;
        if (!isdigit((unsigned char)*s) || *ndim >= 8) return -1;
        char *end;
        shape[(*ndim)++] = (size_t)strtoull(s, &end, 10);
        s = end;
    }
}

int npy_load(const char *path, npy_array *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, err_size, "cannot open %s%s", path, "");
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fclose(f);
        return fail(err, err_size, "%s: not a .npy file%s", path, "");
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            fclose(f);
            return fail(err, err_size, "%s: truncated header%s", path, "");
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
    } else {
        fclose(f);
        return fail(err, err_size, "%s: unsupported .npy version%s", path, "");
    }
    char *h = calloc(1, hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        free(h);
        fclose(f);
        return fail(err, err_size, "%s: truncated header%s", path, "");
    }
    size_t esize = 0;
    if (strstr(h, "'descr': '<f4'")) {
        out->dtype = NPY_F32;
        esize = 4;
    } else if (strstr(h, "'descr': '<i4'")) {
        out->dtype = NPY_I32;
        esize = 4;
    } else if (strstr(h, "'descr': '<f8'")) {
        out->dtype = NPY_F64;
        esize = 8;
    } else {
        fclose(f);
        int rc = fail(err, err_size, "%s: unsupported dtype in header %s", path, h);
        free(h);
        return rc;
    }
    const char *shape = strstr(h, "'shape':");
    if (strstr(h, "'fortran_order': True") || !shape || parse_shape(shape + 8, out->shape, &out->ndim) != 0) {
        fclose(f);
        int rc = fail(err, err_size, "%s: unsupported header %s", path, h);
        free(h);
        return rc;
    }
    free(h);
    out->count = 1;
    for (int i = 0; i < out->ndim; i++) out->count *= out->shape[i];
    out->data = malloc(out->count * esize + 1);
    size_t got = out->data ? fread(out->data, esize, out->count, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != out->count || extra) {
        npy_free(out);
        return fail(err, err_size, "%s: %s", path, extra ? "trailing bytes after the data" : "truncated data");
    }
    return 0;
}

void npy_free(npy_array *a) {
    free(a->data);
    a->data = NULL;
}

double *npy_to_double(const npy_array *a) {
    double *d = malloc((a->count ? a->count : 1) * sizeof *d);
    if (!d) return NULL;
    for (size_t i = 0; i < a->count; i++) {
        if (a->dtype == NPY_F32) d[i] = ((const float *)a->data)[i];
        else if (a->dtype == NPY_I32) d[i] = ((const int32_t *)a->data)[i];
        else d[i] = ((const double *)a->data)[i];
    }
    return d;
}

int case_load(const char *dir, case_file *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/case.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, err_size, "cannot open %s%s", path, "");
    char line[8192];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = '\0';
        char *eq = strstr(line, " = ");
        if (!eq) {
            fclose(f);
            case_free(out);
            return fail(err, err_size, "%s: line without ' = ': %s", path, line);
        }
        *eq = '\0';
        if (out->count == cap) {
            cap = cap ? 2 * cap : 64;
            case_entry *e = realloc(out->entries, cap * sizeof *e);
            if (!e) {
                fclose(f);
                case_free(out);
                return fail(err, err_size, "%s: out of memory%s", path, "");
            }
            out->entries = e;
        }
        out->entries[out->count].key = strdup(line);
        out->entries[out->count].value = strdup(eq + 3);
        out->count++;
    }
    fclose(f);
    return 0;
}

void case_free(case_file *c) {
    for (size_t i = 0; i < c->count; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    c->entries = NULL;
    c->count = 0;
}

const char *case_get(const case_file *c, const char *key) {
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0) return c->entries[i].value;
    return NULL;
}

int case_file_line(const char *value, char *file, size_t file_size, char *dtype, size_t dtype_size,
                   size_t *shape, int *ndim) {
    const char *sp = strchr(value, ' ');
    if (!sp || (size_t)(sp - value) >= file_size) return -1;
    memcpy(file, value, (size_t)(sp - value));
    file[sp - value] = '\0';
    const char *t = sp + 1;
    const char *sp2 = strchr(t, ' ');
    if (!sp2 || (size_t)(sp2 - t) >= dtype_size) return -1;
    memcpy(dtype, t, (size_t)(sp2 - t));
    dtype[sp2 - t] = '\0';
    return parse_shape(sp2 + 1, shape, ndim);
}

int case_numbers(const char *value, double *out, int cap) {
    int n = 0;
    const char *s = value;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        char *end;
        double v = strtod(s, &end);
        if (end == s || n >= cap) return -1;
        out[n++] = v;
        s = end;
    }
    return n;
}
