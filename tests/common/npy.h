/* lipcl tests — reader of NumPy .npy files (format 1.0/2.0, little-endian float32/int32/float64,
 * C order) and of the reference cases' case.txt key = value files. */
#ifndef LIPCL_TEST_NPY_H
#define LIPCL_TEST_NPY_H

#include <stddef.h>
#include <stdint.h>

typedef enum { NPY_F32, NPY_I32, NPY_F64 } npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;             /* 0 for a scalar */
    size_t shape[8];
    size_t count;
    void *data;           /* count elements of dtype */
} npy_array;

/** Load `path`; returns 0 on success, else -1 with a reason in err. */
int npy_load(const char *path, npy_array *out, char *err, size_t err_size);
void npy_free(npy_array *a);
/** The data as doubles (malloc'ed, caller frees). */
double *npy_to_double(const npy_array *a);

/* A case.txt: ordered key/value pairs, split at the first " = ". */
typedef struct case_entry {
    char *key, *value;
} case_entry;
typedef struct case_file {
    char dir[1024];
    case_entry *entries;
    size_t count;
} case_file;

/** Parse `dir`/case.txt; 0 on success, -1 with a reason in err. */
int case_load(const char *dir, case_file *out, char *err, size_t err_size);
void case_free(case_file *c);
/** The value of `key`, or NULL. */
const char *case_get(const case_file *c, const char *key);
/** Parse a file line "<file> <dtype> <shape> : <description>" into its parts; 0 on success. */
int case_file_line(const char *value, char *file, size_t file_size, char *dtype, size_t dtype_size,
                   size_t *shape, int *ndim);
/** A list of numbers "1, 2.5, 3" into out (at most cap); returns the count or -1. */
int case_numbers(const char *value, double *out, int cap);

#endif
