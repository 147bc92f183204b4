/* lipcl tests — the golden reference cases load: every case.txt parses, every input/output/extra
 * file line names an .npy file whose dtype and shape match the line. (The runner that checks the
 * values against lipcl's layers is tests/test_reference.c, per case.) */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <string.h>

#include "check.h"
#include "npy.h"

static void check_case(const char *dir) {
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        test_failures++;
        return;
    }
    CHECK(case_get(&c, "category") != NULL);
    CHECK(case_get(&c, "case") != NULL && strstr(dir, case_get(&c, "case")) != NULL);
    int files = 0;
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key;
        if (strncmp(k, "input.", 6) && strncmp(k, "output.", 7) && strncmp(k, "extra.", 6)) continue;
        char file[256], dtype[32], path[1400];
        size_t shape[8];
        int ndim = 0;
        if (case_file_line(c.entries[i].value, file, sizeof file, dtype, sizeof dtype, shape, &ndim) != 0) {
            fprintf(stderr, "%s: bad file line %s = %s\n", dir, k, c.entries[i].value);
            test_failures++;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, file);
        npy_array a;
        if (npy_load(path, &a, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            test_failures++;
            continue;
        }
        files++;
        CHECK((strcmp(dtype, "float32") == 0 && a.dtype == NPY_F32) || (strcmp(dtype, "int32") == 0 && a.dtype == NPY_I32));
        CHECK(a.ndim == ndim);
        for (int d = 0; d < ndim && d < a.ndim; d++) CHECK(a.shape[d] == shape[d]);
        npy_free(&a);
    }
    CHECK(files >= 2);
    case_free(&c);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "no reference folder %s: skipped\n", root);
        return 77;
    }
    int cases = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        char probe[1100];
        snprintf(probe, sizeof probe, "%s/case.txt", dir);
        FILE *f = fopen(probe, "r");
        if (!f) continue;
        fclose(f);
        check_case(dir);
        cases++;
    }
    closedir(d);
    printf("%d reference cases read\n", cases);
    CHECK(cases >= 40);
    return test_finish("test_reference_data");
}
