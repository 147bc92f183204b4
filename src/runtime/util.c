/* lipcl — small host utilities: strings, hashing, whole-file reads and atomic writes.
 * Everything that touches the file system for the caches goes through here. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

char *lip_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *lip_asprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

uint64_t lip_fnv1a(uint64_t h, const void *data, size_t size) {
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

lip_status lip_read_file(lip_context *ctx, const char *path, char **data, size_t *size) {
    *data = NULL;
    if (size) *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lip_set_error(ctx, LIP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        cap *= 2;
        char *grown = realloc(buf, cap + 1);
        if (!grown) {
            free(buf);
            buf = NULL;
        }
        buf = grown;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "reading '%s': out of host memory", path);
    if (failed) {
        free(buf);
        return lip_set_error(ctx, LIP_ERR_IO, "error while reading '%s'", path);
    }
    buf[len] = '\0';
    *data = buf;
    if (size) *size = len;
    return LIP_OK;
}

lip_status lip_write_file_atomic(lip_context *ctx, const char *path, const void *data, size_t size) {
    char *tmp = lip_asprintf("%s.tmp.%ld", path, (long)getpid());
    if (!tmp) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        lip_status st = lip_set_error(ctx, LIP_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        lip_status st = lip_set_error(ctx, LIP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return LIP_OK;
}

int lip_mkdirs(const char *path) {
    char *p = lip_strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = (mkdir(p, 0755) != 0 && errno != EEXIST) ? -1 : 0;
    free(p);
    return rc;
}
