/* lipcl — the IDX reader (MNIST's format: magic 00 00 type rank, big-endian u32 dimensions, data),
 * gzip or raw through zlib, validated against the file's length, and the MNIST folder loader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/data_internal.h"

#define IDX_MAX_RANK 4
#define IDX_CHUNK (1u << 30)

typedef struct idx_file {
    int type; /* 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64 */
    int rank;
    size_t dims[IDX_MAX_RANK];
    size_t count; /* elements */
    unsigned char *data;
} idx_file;

static size_t type_size(int type) {
    switch (type) {
    case 0x08:
    case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C:
    case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

static const char *type_name(int type) {
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
    }
}

/* Read up to `size` bytes; *got receives how many. Returns 0, or -1 on a read / gzip error. */
static int read_bytes(gzFile f, void *buf, size_t size, size_t *got) {
    *got = 0;
    unsigned char *p = buf;
    while (*got < size) {
        size_t want = size - *got < IDX_CHUNK ? size - *got : IDX_CHUNK;
        int r = gzread(f, p + *got, (unsigned)want);
        if (r < 0) return -1;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

/* The zlib error text of a failed read (zlib prefixes it with the path, which our messages already
 * give), and the status: LIP_ERR_IO for a system read error, LIP_ERR_FORMAT for corrupt gzip data. */
static const char *gz_message(gzFile f, const char *path, lip_status *st) {
    int code = 0;
    const char *m = gzerror(f, &code);
    *st = code == Z_ERRNO ? LIP_ERR_IO : LIP_ERR_FORMAT;
    if (code == Z_ERRNO) return strerror(errno);
    size_t plen = strlen(path);
    if (m && strncmp(m, path, plen) == 0 && m[plen] == ':' && m[plen + 1] == ' ') m += plen + 2;
    return m && *m ? m : "read error";
}

static lip_status idx_read(lip_context *ctx, const char *what, const char *path, idx_file *out) {
    memset(out, 0, sizeof *out);
    LIP_CHECK(ctx, path, LIP_ERR_NULL, "%s: the file path is NULL", what);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lip_set_error(ctx, LIP_ERR_IO, "%s '%s': cannot open: %s", what, path,
                             errno ? strerror(errno) : "out of memory");
    lip_status st = LIP_OK;
    unsigned char head[4 + 4 * IDX_MAX_RANK];
    size_t got = 0;
    if (read_bytes(f, head, 4, &got) != 0) {
        const char *m = gz_message(f, path, &st);
        st = lip_set_error(ctx, st, "%s '%s': cannot read%s: %s", what, path,
                           st == LIP_ERR_FORMAT ? " (corrupt gzip data)" : "", m);
        goto done;
    }
    if (got < 4) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "%s '%s': truncated: %zu bytes, shorter than the 4-byte IDX magic",
                           what, path, got);
        goto done;
    }
    if (head[0] != 0 || head[1] != 0 || type_size(head[2]) == 0) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT,
                           "%s '%s': not an IDX file: magic bytes %02x %02x %02x %02x (expected 00 00, a type in "
                           "08 09 0b 0c 0d 0e, and the rank)",
                           what, path, head[0], head[1], head[2], head[3]);
        goto done;
    }
    out->type = head[2];
    out->rank = head[3];
    if (out->rank < 1 || out->rank > IDX_MAX_RANK) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "%s '%s': IDX rank %d not supported (1 to %d)", what, path, out->rank,
                           IDX_MAX_RANK);
        goto done;
    }
    if (read_bytes(f, head + 4, 4 * (size_t)out->rank, &got) != 0) {
        const char *m = gz_message(f, path, &st);
        st = lip_set_error(ctx, st, "%s '%s': cannot read the header: %s", what, path, m);
        goto done;
    }
    if (got < 4 * (size_t)out->rank) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "%s '%s': truncated in the header (%d dimensions announced)", what,
                           path, out->rank);
        goto done;
    }
    size_t esize = type_size(out->type), count = 1;
    char dims_text[128] = "";
    for (int i = 0; i < out->rank; i++) {
        const unsigned char *d = head + 4 + 4 * i;
        size_t v = ((size_t)d[0] << 24) | ((size_t)d[1] << 16) | ((size_t)d[2] << 8) | (size_t)d[3];
        out->dims[i] = v;
        size_t len = strlen(dims_text);
        snprintf(dims_text + len, sizeof dims_text - len, "%s%zu", i ? " x " : "", v);
        if (v == 0) {
            st = lip_set_error(ctx, LIP_ERR_FORMAT, "%s '%s': dimension %d is 0 (%s)", what, path, i, dims_text);
            goto done;
        }
        if (count > ((size_t)1 << 40) / v) {
            st = lip_set_error(ctx, LIP_ERR_FORMAT, "%s '%s': dimensions %s too large", what, path, dims_text);
            goto done;
        }
        count *= v;
    }
    out->count = count;
    size_t bytes = count * esize;
    out->data = malloc(bytes);
    if (!out->data) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s '%s': out of host memory for %zu bytes", what, path,
                           bytes);
        goto done;
    }
    if (read_bytes(f, out->data, bytes, &got) != 0) {
        const char *m = gz_message(f, path, &st);
        st = lip_set_error(ctx, st, "%s '%s': truncated or corrupt after %zu of the %zu data bytes (%s %s): %s",
                           what, path, got, bytes, dims_text, type_name(out->type), m);
        goto done;
    }
    if (got < bytes) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT,
                           "%s '%s': truncated: the header announces %s %s values (%zu bytes) but only %zu follow",
                           what, path, dims_text, type_name(out->type), bytes, got);
        goto done;
    }
    /* Nothing may follow the data (this also makes zlib check the gzip trailer's CRC). */
    unsigned char extra[64];
    if (read_bytes(f, extra, sizeof extra, &got) != 0) {
        const char *m = gz_message(f, path, &st);
        st = lip_set_error(ctx, st, "%s '%s': corrupt gzip stream after the data: %s", what, path, m);
        goto done;
    }
    if (got > 0) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT,
                           "%s '%s': malformed: %s%zu bytes follow the %s %s values the header announces", what, path,
                           got == sizeof extra ? "at least " : "", got, dims_text, type_name(out->type));
        goto done;
    }
done:
    gzclose(f);
    if (st != LIP_OK) {
        free(out->data);
        out->data = NULL;
    }
    return st;
}

/* Element i as a double (big-endian data). */
static double idx_value(const idx_file *f, size_t i) {
    const unsigned char *p = f->data + i * type_size(f->type);
    switch (f->type) {
    case 0x08: return p[0];
    case 0x09: return (signed char)p[0];
    case 0x0B: return (int16_t)(uint16_t)((p[0] << 8) | p[1]);
    case 0x0C: return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
    case 0x0D: {
        uint32_t u = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        float v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    case 0x0E: {
        uint64_t u = 0;
        for (int k = 0; k < 8; k++) u = (u << 8) | p[k];
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    default: return 0;
    }
}

lip_status lip_dataset_load_idx(lip_context *ctx, const char *images_path, const char *labels_path,
                                lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_load_idx";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ctx, images_path && labels_path, LIP_ERR_NULL, "%s: images_path and labels_path must not be NULL", op);
    idx_file im, lb;
    LIP_TRY(idx_read(ctx, "IDX images", images_path, &im));
    lip_status st = idx_read(ctx, "IDX labels", labels_path, &lb);
    if (st != LIP_OK) {
        free(im.data);
        return st;
    }
    lip_dataset *d = NULL;
    if (im.rank < 2) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT,
                           "IDX images '%s': rank 1 (%zu values): an image file needs (n, ...) with at least 2 "
                           "dimensions",
                           images_path, im.dims[0]);
        goto fail;
    }
    if (lb.rank != 1) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "IDX labels '%s': rank %d: a label file is 1-D (n)", labels_path,
                           lb.rank);
        goto fail;
    }
    if (lb.type == 0x0D || lb.type == 0x0E) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "IDX labels '%s': %s labels: class labels must be integers",
                           labels_path, type_name(lb.type));
        goto fail;
    }
    if (lb.dims[0] != im.dims[0]) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "IDX labels '%s' hold %zu labels but IDX images '%s' hold %zu images",
                           labels_path, lb.dims[0], images_path, im.dims[0]);
        goto fail;
    }
    size_t shape[3];
    int ndim;
    if (im.rank == 2) {
        ndim = 1;
        shape[0] = im.dims[1];
    } else {
        ndim = 3;
        shape[0] = im.dims[1];
        shape[1] = im.dims[2];
        shape[2] = im.rank == 4 ? im.dims[3] : 1;
    }
    LIP_TRY_GOTO(st, lip_dataset_alloc(ctx, op, im.dims[0], ndim, shape, 1, 0, &d));
    for (size_t i = 0; i < im.count; i++) d->x[i] = (float)idx_value(&im, i);
    for (size_t i = 0; i < lb.count; i++) d->classes[i] = (int32_t)idx_value(&lb, i);
    *out = d;
fail:
    free(im.data);
    free(lb.data);
    return st;
}

/* The first existing file among dir/split + each suffix; NULL when none (names tried in `tried`). */
static char *find_file(const char *dir, const char *split, const char *const *suffixes, size_t n, char *tried,
                       size_t tried_size) {
    tried[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char *path = lip_asprintf("%s/%s%s", dir, split, suffixes[i]);
        if (!path) return NULL;
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return path;
        }
        size_t len = strlen(tried);
        snprintf(tried + len, tried_size - len, "%s%s%s", i ? ", " : "", split, suffixes[i]);
        free(path);
    }
    return NULL;
}

lip_status lip_dataset_load_mnist_dir(lip_context *ctx, const char *dir, const char *split, lip_dataset **out) {
    if (!ctx) return LIP_ERR_NULL;
    const char *op = "lip_dataset_load_mnist_dir";
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "%s: out is NULL", op);
    *out = NULL;
    LIP_CHECK(ctx, dir && split, LIP_ERR_NULL, "%s: dir and split must not be NULL", op);
    LIP_CHECK(ctx, strcmp(split, "train") == 0 || strcmp(split, "t10k") == 0, LIP_ERR_INVALID_ARGUMENT,
              "%s: split must be \"train\" or \"t10k\", got \"%s\"", op, split);
    static const char *const img_suffixes[] = {"-images-idx3-ubyte.gz", "-images-idx3-ubyte", "-images.idx3-ubyte"};
    static const char *const lab_suffixes[] = {"-labels-idx1-ubyte.gz", "-labels-idx1-ubyte", "-labels.idx1-ubyte"};
    char tried[512];
    char *images = find_file(dir, split, img_suffixes, 3, tried, sizeof tried);
    if (!images)
        return lip_set_error(ctx, LIP_ERR_IO, "%s: no MNIST '%s' images in '%s' (looked for %s)", op, split, dir, tried);
    char *labels = find_file(dir, split, lab_suffixes, 3, tried, sizeof tried);
    if (!labels) {
        free(images);
        return lip_set_error(ctx, LIP_ERR_IO, "%s: no MNIST '%s' labels in '%s' (looked for %s)", op, split, dir, tried);
    }
    lip_status st = lip_dataset_load_idx(ctx, images, labels, out);
    free(images);
    free(labels);
    return st;
}
