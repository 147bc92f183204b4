/* lipcl tests — the golden reference runner: a case folder's category picks its refrun_<category>, which
 * checks every output and iteration count; --self-test proves the runner fails on broken cases. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "refrun/refrun.h"

extern char **environ;

/* Every category of the README vocabulary and its runner. */
static const struct {
    const char *name;
    refrun_fn run;
} categories[] = {
    {"bjorck", refrun_bjorck},
    {"spectral_normalization", refrun_spectral_normalization},
    {"spectral_dense", refrun_spectral_dense},
    {"spectral_conv2d", refrun_spectral_conv2d},
    {"frobenius_dense", refrun_frobenius_dense},
    {"frobenius_conv2d", refrun_frobenius_conv2d},
    {"activation", refrun_activation},
    {"pooling", refrun_pooling},
    {"resampling", refrun_resampling},
    {"loss", refrun_loss},
    {"metric", refrun_metric},
};
enum { CATEGORIES = sizeof categories / sizeof categories[0] };

static int category_index(const char *name) {
    for (int i = 0; name && i < CATEGORIES; i++)
        if (strcmp(categories[i].name, name) == 0) return i;
    return -1;
}

/* Run the case folder `dir`: 1 when it passed, 0 (failures counted and reported) otherwise. */
static int run_case(lip_context *ctx, const char *dir) {
    int before = test_failures;
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        test_failures++;
        return 0;
    }
    const char *cat = case_get(&c, "category");
    int k = category_index(cat);
    int ok = 0;
    if (k < 0) {
        refcase_fail(dir, "unknown category", cat ? cat : "(no category line)");
    } else {
        refcase_track_begin(&c);
        ok = categories[k].run(ctx, dir, &c) == 1 && test_failures == before;
        /* a pass must have used every line that states something to run or compare (a param the
         * runner ignored, an output it did not compare, an input it did not load fail the case) */
        if (ok) ok = refcase_track_end(&c) == 0;
        refcase_track_discard();
    }
    if (!ok && test_failures == before) {
        fprintf(stderr, "%s: the %s runner reported a failure\n", dir, cat ? cat : "(no category)");
        test_failures++;
    }
    printf("%s: %s (%s)\n", dir, ok ? "passed" : "FAILED", cat ? cat : "no category");
    case_free(&c);
    return ok;
}

/* Every case folder below root, in name order. */
static int run_all(const char *root) {
    size_t n = 0;
    char **dirs = refcase_list(root, NULL, 1, &n);
    if (!dirs) return test_finish("test_reference");
    if (n == 0) {
        refcase_fail(root, "no case folder (a folder holding case.txt) in", root);
        refcase_list_free(dirs, n);
        return test_finish("test_reference");
    }
    lip_context *ctx = test_context();
    size_t passed = 0;
    char *ok = calloc(n, 1);
    if (!ok) exit(1);
    for (size_t i = 0; i < n; i++) passed += (size_t)(ok[i] = (char)run_case(ctx, dirs[i]));
    printf("%zu of %zu reference cases passed\n", passed, n);
    for (size_t i = 0; i < n; i++)
        if (!ok[i]) printf("  FAILED: %s\n", dirs[i]);
    free(ok);
    test_context_free(ctx);
    refcase_list_free(dirs, n);
    return test_finish("test_reference");
}

/* ---- self-test: the runner must fail on every kind of broken case --------------------------------- */

/* Whole file into a malloc'ed buffer (NUL-terminated); NULL if unreadable. */
static char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf) exit(1);
    buf[n] = '\0';
    if (size) *size = n;
    return buf;
}

static int spit(const char *path, const char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

typedef enum { M_NONE, M_ADD, M_REPLACE, M_DELETE, M_TRUNCATE, M_PERTURB, M_SHIFT, M_EMPTY } mutation_op;

/* One broken copy of a case: `base` copied, `op` applied, the runner's output must contain `expect`
 * and its exit status be 1 (M_NONE: the unbroken copy must pass, status 0). */
typedef struct mutation {
    const char *base;
    mutation_op op;
    const char *a, *b; /* ADD: line a; REPLACE: the line starting with a becomes b; DELETE: the line
                          starting with a; TRUNCATE, PERTURB (by 20 tolerances), SHIFT (by 0.5): file a */
    const char *expect;
} mutation;

static const mutation mutations[] = {
    /* a layer case: every kind of bad line, every output and the iteration counts must be checked */
    {"spectral_dense_k1", M_NONE, NULL, NULL, NULL},
    {"spectral_dense_k1", M_ADD, "param.bogus = 1", NULL, "unknown param 'param.bogus'"},
    {"spectral_dense_k1", M_ADD, "input.bogus = bogus.npy float32 (1,) : nothing", NULL, "unknown input 'input.bogus'"},
    {"spectral_dense_k1", M_ADD, "output.bogus = bogus.npy float32 (5, 10) : nothing", NULL,
     "unknown output 'output.bogus'"},
    {"spectral_dense_k1", M_ADD, "bogus.key = 1", NULL, "unknown key family 'bogus.key'"},
    {"spectral_dense_k1", M_ADD, "param.use_bias = true", NULL, "duplicate key 'param.use_bias'"},
    {"spectral_dense_k1", M_ADD, "variant.nothing.k_coef_lip = 2.0", NULL, "neither an output nor a result"},
    {"spectral_dense_k1", M_ADD, "variant.y.eps = 0.001", NULL, "unknown variant param 'variant.y.eps'"},
    {"spectral_dense_k1", M_REPLACE, "category = ", "category = nonsense", "unknown category 'nonsense'"},
    {"spectral_dense_k1", M_REPLACE, "param.use_bias = ", "param.use_bias = yes", "value 'yes' of 'use_bias'"},
    {"spectral_dense_k1", M_REPLACE, "param.maxiter_bjorck = ", "param.maxiter_bjorck = 15.0",
     "value '15.0' of 'maxiter_bjorck'"},
    {"spectral_dense_k1", M_REPLACE, "param.k_coef_lip = ", "param.k_coef_lip = 1.0.0", "value '1.0.0'"},
    {"spectral_dense_k1", M_DELETE, "param.k_coef_lip = ", NULL, "missing param 'k_coef_lip'"},
    {"spectral_dense_k1", M_DELETE, "input.g = ", NULL, "missing or unreadable input"},
    {"spectral_dense_k1", M_REPLACE, "result.n_iter_bjorck = ", "result.n_iter_bjorck = 9", "expected 9"},
    {"spectral_dense_k1", M_REPLACE, "result.n_iter_spectral = ", "result.n_iter_spectral = 9", "expected 9"},
    {"spectral_dense_k1", M_REPLACE, "output.y = ", "output.y = y.npy float32 (10, 5) : transposed",
     "not the float32 array of the declared shape"},
    {"spectral_dense_k1", M_TRUNCATE, "x.npy", NULL, "input.x"},
    {"spectral_dense_k1", M_TRUNCATE, "w_bar.npy", NULL, "output.w_bar"},
    {"spectral_dense_k1", M_SHIFT, "x.npy", NULL, "spectral_dense_k1: y: "},
    {"spectral_dense_k1", M_SHIFT, "u0.npy", NULL, "u: "},
    {"spectral_dense_k1", M_PERTURB, "y.npy", NULL, "spectral_dense_k1: y: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "w_bar.npy", NULL, "w_bar: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "u.npy", NULL, "u: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "sigma.npy", NULL, "sigma: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "grad_kernel.npy", NULL, "grad_kernel: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "grad_bias.npy", NULL, "grad_bias: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "grad_x.npy", NULL, "grad_x: 1 of"},
    {"spectral_dense_k1", M_PERTURB, "grad_w_bar.npy", NULL, "grad_w_bar: 1 of"},
    {"spectral_dense_k1", M_EMPTY, NULL, NULL, "no case folder"},
    /* variants and results of a normalizer case */
    {"bjorck_tall", M_NONE, NULL, NULL, NULL},
    {"bjorck_tall", M_REPLACE, "param.stopping = ", "param.stopping = sometimes", "value 'sometimes' of 'stopping'"},
    {"bjorck_tall", M_REPLACE, "variant.w_n3.maxiter = ", "variant.w_n3.maxiter = 4", "w_n3: "},
    {"bjorck_tall", M_REPLACE, "result.n_iter_eps = ", "result.n_iter_eps = 7", "expected 7"},
    {"bjorck_tall", M_REPLACE, "result.stopping_rule_values = ", "result.stopping_rule_values = 1.0",
     "tested its loop 9 times"},
    {"bjorck_tall", M_PERTURB, "w_n3.npy", NULL, "w_n3: 1 of"},
    {"bjorck_tall", M_PERTURB, "w_n15.npy", NULL, "w_n15: 1 of"},
    {"bjorck_tall", M_PERTURB, "w_eps.npy", NULL, "w_eps: 1 of"},
    {"bjorck_tall", M_PERTURB, "sv_n3.npy", NULL, "sv_n3: 1 of"},
    {"bjorck_tall", M_PERTURB, "sv_n15.npy", NULL, "sv_n15: 1 of"},
    {"bjorck_tall", M_PERTURB, "sv_eps.npy", NULL, "sv_eps: 1 of"},
    {"spectral_tall", M_REPLACE, "variant.n_iter_n3.maxiter = ", "variant.n_iter_n3.maxiter = 2",
     "ran 2 iterations, expected 3"},
    {"spectral_tall", M_PERTURB, "w_over_sigma_n3.npy", NULL, "w_over_sigma_n3: 1 of"},
    /* the other categories: a wrong token, a missing input, one output each */
    {"act_householder", M_DELETE, "input.theta = ", NULL, "missing input theta for"},
    {"act_householder", M_PERTURB, "grad_theta.npy", NULL, "grad_theta: 1 of"},
    {"act_groupsort2", M_REPLACE, "param.n = ", "param.n = 3", "act_groupsort2: y: "},
    {"pool_l2norm_2x2", M_REPLACE, "param.layer = ", "param.layer = MaxPooling2D", "value 'MaxPooling2D' of 'layer'"},
    {"pool_l2norm_2x2", M_REPLACE, "param.layer = ", "param.layer = InvertibleDownSampling",
     "not supported by this runner"},
    {"pool_l2norm_2x2", M_PERTURB, "grad_x.npy", NULL, "grad_x: 1 of"},
    {"invertible_upsampling_2_nonsquare", M_PERTURB, "y.npy", NULL, "y: 1 of"},
    {"frobenius_dense_disjoint", M_REPLACE, "param.disjoint_neurons = ", "param.disjoint_neurons = false",
     "frobenius_dense_disjoint: y: "},
    {"spectral_conv2d_s1_k2", M_REPLACE, "result.conv_lip_coef_tf = ", "result.conv_lip_coef_tf = 0.3333333333333333",
     "conv_lip_coef_tf"},
    {"spectral_conv2d_s1_k2", M_REPLACE, "param.conv_coef_mode = ", "param.conv_coef_mode = strict",
     "conv_lip_coef_tf"},
    {"spectral_conv2d_s1_k2", M_PERTURB, "grad_w_bar.npy", NULL, "grad_w_bar: 1 of"},
    {"frobenius_conv2d", M_REPLACE, "param.padding_rows_top_bottom = ", "param.padding_rows_top_bottom = 0, 2",
     "padding_rows_top_bottom"},
    {"frobenius_conv2d", M_PERTURB, "grad_kernel.npy", NULL, "grad_kernel: 1 of"},
    {"loss_hkr_pm1", M_PERTURB, "grad_y_pred.npy", NULL, "grad_y_pred: 1 of"},
    {"loss_hkr_pm1", M_REPLACE, "param.label_encoding = ", "param.label_encoding = pm2",
     "value 'pm2' of 'label_encoding'"},
    {"metric_categorical", M_PERTURB, "avg_robustness_not_disjoint.npy", NULL, "avg_robustness_not_disjoint: 1 of"},
};

/* Move the last float32 of an .npy file by `shift`, or 20 tolerances (README tolerance) when 0: an expected
 * value a compare must see, or an input that changes the results. */
static int perturb_last(char *data, size_t size, double shift) {
    if (size < 4) return -1;
    float v;
    memcpy(&v, data + size - 4, 4);
    v += (float)(shift != 0 ? shift : 20.0 * (REFCASE_ATOL + REFCASE_RTOL * fabs((double)v)));
    memcpy(data + size - 4, &v, 4);
    return 0;
}

/* The case.txt of `src` with the mutation applied; NULL when the line to change is not there. */
static char *mutate_case(const char *text, const mutation *m) {
    size_t n = strlen(text), extra = (m->a ? strlen(m->a) : 0) + (m->b ? strlen(m->b) : 0) + 2;
    char *out = malloc(n + extra + 1), *o = out;
    if (!out) exit(1);
    int applied = m->op != M_REPLACE && m->op != M_DELETE;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        int hit = (m->op == M_REPLACE || m->op == M_DELETE) && !applied && strncmp(line, m->a, strlen(m->a)) == 0;
        if (hit && m->op == M_REPLACE) o += sprintf(o, "%s\n", m->b);
        if (!hit) {
            memcpy(o, line, len);
            o += len;
        }
        applied |= hit;
        line += len;
    }
    if (m->op == M_ADD) o += sprintf(o, "%s\n", m->a);
    *o = '\0';
    if (!applied) {
        free(out);
        return NULL;
    }
    return out;
}

/* Copy case folder `src` into the new folder `dst` with the mutation; 0 on success. */
static int make_copy(const char *src, const char *dst, const mutation *m) {
    if (mkdir(dst, 0700) != 0) return -1;
    if (m->op == M_EMPTY) return 0;
    DIR *d = opendir(src);
    if (!d) return -1;
    int rc = 0, touched = m->op != M_TRUNCATE && m->op != M_PERTURB && m->op != M_SHIFT;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char from[2048], to[2048];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dst, e->d_name);
        size_t size = 0;
        char *data = slurp(from, &size);
        if (!data) continue; /* not a readable file */
        if (strcmp(e->d_name, "case.txt") == 0) {
            char *mutated = mutate_case(data, m);
            free(data);
            if (!mutated) {
                fprintf(stderr, "self-test: no line '%s' in %s\n", m->a, from);
                rc = -1;
                break;
            }
            data = mutated;
            size = strlen(mutated);
        } else if (m->a && strcmp(e->d_name, m->a) == 0) {
            if (m->op == M_TRUNCATE) size = size < 20 ? size / 2 : 20; /* magic and part of the header */
            if ((m->op == M_PERTURB || m->op == M_SHIFT) && perturb_last(data, size, m->op == M_SHIFT ? 0.5 : 0) != 0)
                rc = -1;
            touched = 1;
        }
        if (rc == 0 && spit(to, data, size) != 0) rc = -1;
        free(data);
    }
    closedir(d);
    if (!touched) fprintf(stderr, "self-test: no file %s in %s\n", m->a, src);
    return touched ? rc : -1;
}

/* Remove a folder made by make_copy (plain files only). */
static void remove_copy(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Run `exe arg` with stdout and stderr into `log`; its exit status, or -1 when it did not exit normally. */
static int run_child(const char *exe, const char *arg, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)exe, (char *)arg, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "self-test: cannot start %s: %s\n", exe, strerror(rc));
        return -1;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Table rows "| `a` | `b` |..." or "| `a` | b |...": the first two cells without backticks. */
static int table_row(const char *line, char *a, size_t an, char *b, size_t bn) {
    if (strncmp(line, "| `", 3) != 0) return 0;
    const char *p = line + 3, *q = strchr(p, '`');
    if (!q || (size_t)(q - p) >= an) return 0;
    memcpy(a, p, (size_t)(q - p));
    a[q - p] = '\0';
    p = strstr(q, "| ");
    if (!p) return 0;
    p += 2;
    q = strstr(p, " |");
    if (!q) return 0;
    if (*p == '`' && q > p + 1 && q[-1] == '`') p++, q--;
    if ((size_t)(q - p) >= bn) return 0;
    memcpy(b, p, (size_t)(q - p));
    b[q - p] = '\0';
    return 1;
}

/* The runner's tables agree with the README's: categories, param types and token vocabularies. */
static void check_readme(const char *root) {
    char path[1200];
    snprintf(path, sizeof path, "%s/README.md", root);
    char *text = slurp(path, NULL);
    if (!text) {
        printf("self-test: no %s, grammar tables not compared\n", path);
        return;
    }
    int in_params = 0, in_vocabulary = 0, categories_seen = 0, params_seen = 0, tokens_seen = 0;
    char a[128], b[128], why[256];
    static char pairs[256][300]; /* "param=token" of the README vocabulary */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') {
            in_params = strcmp(line, "### Parameters") == 0;
            in_vocabulary = strcmp(line, "### Vocabulary of the enumerated values") == 0;
        }
        if (!table_row(line, a, sizeof a, b, sizeof b)) continue;
        if (in_params) { /* | `name` | type | meaning | categories | */
            params_seen++;
            const char *want = refcase_param_type(a);
            const char *type = strstr(b, " token") ? "token" : b;
            if (!want || strcmp(want, type) != 0) {
                fprintf(stderr, "self-test: README param %s is a %s, the runner's table says %s\n", a, b,
                        want ? want : "nothing");
                test_failures++;
            }
        } else if (in_vocabulary && strcmp(a, "category") == 0) { /* | `category` | `bjorck` | ... | */
            categories_seen++;
            if (category_index(b) < 0) refcase_fail(path, "no runner for the README category", b);
        } else if (in_vocabulary && strncmp(a, "param.", 6) == 0 && tokens_seen < 256) { /* | `param.x` | `tok` | */
            snprintf(pairs[tokens_seen++], sizeof pairs[0], "%s=%s", a + 6, b);
            if (refcase_check_value(a + 6, b, why, sizeof why) != 0) refcase_fail(path, why, a);
        }
    }
    free(text);
    /* and the other way: every category, param and token of the runner's tables is in the README */
    CHECK(categories_seen == CATEGORIES);
    int names = 0;
    for (const char *const *n = refcase_param_names(); *n; n++, names++)
        for (const char *const *v = refcase_param_vocabulary(*n); v && *v; v++) {
            char pair[300];
            int found = 0;
            snprintf(pair, sizeof pair, "%s=%s", *n, *v);
            for (int i = 0; i < tokens_seen && !found; i++) found = strcmp(pairs[i], pair) == 0;
            if (!found) refcase_fail(path, "the README vocabulary lacks the runner's token", pair);
        }
    CHECK(params_seen == names);
    printf("self-test: README: %d categories, %d params, %d vocabulary tokens match the runner\n", categories_seen,
           params_seen, tokens_seen);
}

/* Every param and variant value of every case is of its README type (all categories, run or not). */
static void check_all_values(const char *root) {
    size_t n = 0;
    char **dirs = refcase_list(root, NULL, 1, &n);
    char why[256];
    for (size_t i = 0; dirs && i < n; i++) {
        case_file c;
        if (case_load(dirs[i], &c, why, sizeof why) != 0) {
            refcase_fail(dirs[i], "cannot load", why);
            continue;
        }
        for (size_t e = 0; e < c.count; e++) {
            const char *k = c.entries[e].key, *name = NULL;
            if (!strncmp(k, "param.", 6)) name = k + 6;
            if (!strncmp(k, "variant.", 8) && strchr(k + 8, '.')) name = strchr(k + 8, '.') + 1;
            if (name && refcase_check_value(name, c.entries[e].value, why, sizeof why) != 0)
                refcase_fail(dirs[i], why, k);
        }
        case_free(&c);
    }
    printf("self-test: the param values of %zu cases are of their README types\n", n);
    refcase_list_free(dirs, n);
}

/* refcase_track_end reports exactly the lines a runner did not use. */
static void check_tracking(const char *root) {
    char dir[1200], err[512];
    snprintf(dir, sizeof dir, "%s/spectral_dense_k1", root);
    case_file c;
    if (case_load(dir, &c, err, sizeof err) != 0) {
        printf("self-test: no %s, use tracking not checked\n", dir);
        return;
    }
    int needed = 0;
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key;
        needed += !strncmp(k, "param.", 6) || !strncmp(k, "input.", 6) || !strncmp(k, "output.", 7) ||
                  !strncmp(k, "variant.", 8) || !strncmp(k, "result.n_iter", 13);
    }
    int failures = test_failures;
    fflush(stderr);
    int saved = dup(2), quiet = open("/dev/null", O_WRONLY); /* the reports below are expected */
    if (saved >= 0 && quiet >= 0) dup2(quiet, 2);
    refcase_track_begin(&c);
    double k = 0;
    refcase_float(&c, NULL, "k_coef_lip", 1, &k);
    int unread = refcase_track_end(&c);
    fflush(stderr);
    if (saved >= 0 && quiet >= 0) dup2(saved, 2);
    if (saved >= 0) close(saved);
    if (quiet >= 0) close(quiet);
    test_failures = failures; /* they are not failures of the self-test */
    CHECK(unread == needed - 1);
    refcase_track_begin(&c);
    for (size_t i = 0; i < c.count; i++) refcase_mark(&c, c.entries[i].key);
    CHECK(refcase_track_end(&c) == 0);
    case_free(&c);
}

static int self_test(const char *argv0, const char *root) {
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) exe[len] = '\0';
    else snprintf(exe, sizeof exe, "%s", argv0);
    check_readme(root);
    check_all_values(root);
    check_tracking(root);
    const char *tmp = getenv("TMPDIR");
    char top[1100];
    snprintf(top, sizeof top, "%s/lipcl-refselftest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(top)) {
        fprintf(stderr, "self-test: cannot make a temporary folder %s\n", top);
        return 1;
    }
    size_t nm = sizeof mutations / sizeof mutations[0];
    const char *v = getenv("LIPCL_SELFTEST_VERBOSE"); /* 1: print every broken copy's output */
    int verbose = v && *v == '1';
    int ran = 0;
    for (size_t i = 0; i < nm; i++) {
        const mutation *m = &mutations[i];
        char src[1200], dst[1300], log[1400];
        snprintf(src, sizeof src, "%s/%s", root, m->base);
        if (!refcase_is_case_folder(src)) {
            printf("self-test: no case %s, mutation %zu skipped\n", m->base, i);
            continue;
        }
        snprintf(dst, sizeof dst, "%s/m%02zu_%s", top, i, m->base);
        snprintf(log, sizeof log, "%s/m%02zu.log", top, i);
        test_checks++;
        if (make_copy(src, dst, m) != 0) {
            fprintf(stderr, "self-test: cannot make mutation %zu of %s\n", i, m->base);
            test_failures++;
            remove_copy(dst);
            continue;
        }
        int status = run_child(exe, dst, log);
        char *out = slurp(log, NULL);
        if (status == 77) { /* no device: the whole self-test is skipped */
            free(out);
            remove_copy(dst);
            unlink(log);
            rmdir(top);
            printf("self-test: no OpenCL device: skipped\n");
            return 77;
        }
        int want = m->op == M_NONE ? 0 : 1;
        int seen = !m->expect || (out && strstr(out, m->expect));
        /* a sanitizer report also exits 1: a failure must be the runner's, not a crash */
        if (out && (strstr(out, "Sanitizer") || strstr(out, "runtime error:"))) status = -1;
        if (status != want || !seen) {
            fprintf(stderr, "self-test: mutation %zu of %s (op %d, '%s' / '%s'): exit status %d, expected %d%s%s%s\n",
                    i, m->base, (int)m->op, m->a ? m->a : "", m->b ? m->b : "", status, want,
                    seen ? "" : "; the output lacks '", seen ? "" : m->expect, seen ? "" : "'");
            fprintf(stderr, "---- its output:\n%s----\n", out ? out : "(none)");
            test_failures++;
        }
        if (verbose) printf("---- mutation %zu of %s: exit status %d, output:\n%s", i, m->base, status, out ? out : "");
        ran++;
        free(out);
        remove_copy(dst);
        unlink(log);
    }
    rmdir(top);
    printf("self-test: %d broken copies of cases run, each failed as it should (unbroken ones passed)\n", ran);
    CHECK(ran >= 30);
    return test_finish("test_reference --self-test");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--self-test") == 0)
        return self_test(argv[0], argc > 2 ? argv[2] : LIPCL_SOURCE_DIR "/tests/reference");
    const char *path = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    if (refcase_is_case_folder(path)) { /* one case: its own CTest entry */
        lip_context *ctx = test_context();
        run_case(ctx, path);
        test_context_free(ctx);
        return test_finish("test_reference");
    }
    return run_all(path);
}
