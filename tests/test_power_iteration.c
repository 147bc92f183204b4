/* lipcl tests — spectral normalization by power iteration on the device: the golden reference cases,
 * double-precision host references on awkward shapes, finite-difference gradients, σ accuracy, bad input. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <time.h>

#include "check.h"
#include "hostref_lipschitz.h"
#include "lipschitz/normalizers.h"
#include "npy.h"

static uint64_t rng;

/* ---- device helpers ------------------------------------------------------------------------- */

static lip_tensor *dev_upload(lip_context *ctx, int ndim, const size_t *shape, const float *h) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_upload(t, h, lip_tensor_count(t) * sizeof *h));
    return t;
}

/* A tensor filled with a sentinel, so an element the op forgets to write shows up. */
static lip_tensor *dev_new(lip_context *ctx, lip_dtype dtype, int ndim, const size_t *shape) {
    lip_tensor *t = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, dtype, ndim, shape, &t));
    REQUIRE_OK(lip_tensor_fill(t, dtype == LIP_INT32 ? 777.0 : 12345.0));
    return t;
}

static void dev_read(const lip_tensor *t, float *h) {
    REQUIRE_OK(lip_tensor_download(t, h, lip_tensor_count(t) * sizeof *h));
}

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) exit(1);
    return p;
}

static double *to_double(const float *f, size_t n) {
    double *d = hr_alloc(n);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

static double max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

/* One device power iteration: forward on a rows×cols (or the given shape) matrix, outputs to host. */
typedef struct pi_dev {
    lip_tensor *w, *u, *sigma, *w_bar, *state, *ws;
    size_t rows, cols;
} pi_dev;

static void pi_dev_setup(lip_context *ctx, pi_dev *d, int ndim, const size_t *shape, const float *w, const float *u0) {
    d->w = dev_upload(ctx, ndim, shape, w);
    d->cols = shape[ndim - 1];
    d->rows = lip_tensor_count(d->w) / d->cols;
    size_t ushape[2] = {1, d->cols}, one = 1, two = LIP_NORMALIZER_STATE_INTS;
    d->u = dev_upload(ctx, 2, ushape, u0);
    d->sigma = dev_new(ctx, LIP_FLOAT32, 1, &one);
    d->w_bar = dev_new(ctx, LIP_FLOAT32, ndim, shape);
    d->state = dev_new(ctx, LIP_INT32, 1, &two);
    size_t wsn = lip_power_iteration_workspace_floats(d->rows, d->cols);
    d->ws = dev_new(ctx, LIP_FLOAT32, 1, &wsn);
}

static void pi_dev_free(pi_dev *d) {
    lip_tensor_free(d->w);
    lip_tensor_free(d->u);
    lip_tensor_free(d->sigma);
    lip_tensor_free(d->w_bar);
    lip_tensor_free(d->state);
    lip_tensor_free(d->ws);
}

/* Forward; u, σ, w_bar (each may be NULL) and the iteration count come back to the host. */
static void pi_dev_forward(lip_context *ctx, pi_dev *d, const lip_power_iteration_config *cfg, float *u, float *sigma,
                           float *w_bar, int *iters) {
    CHECK_OK(lip_power_iteration_forward(ctx, cfg, d->w, d->u, d->sigma, d->w_bar, d->state, d->ws));
    if (u) dev_read(d->u, u);
    if (sigma) dev_read(d->sigma, sigma);
    if (w_bar) dev_read(d->w_bar, w_bar);
    if (iters) CHECK_OK(lip_normalizer_iterations(ctx, d->state, iters));
}

/* ---- reference cases (category spectral_normalization) ---------------------------------------- */

typedef struct pi_settings {
    double eps;
    int maxiter, fixed;
    int have_eps, have_maxiter, have_stopping;
} pi_settings;

/* Apply param/variant `name` = `value`; 0, or -1 with a reason. */
static int pi_apply(pi_settings *s, const char *name, const char *value, char *why, size_t why_size) {
    char *end;
    if (strcmp(name, "eps") == 0) {
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
        snprintf(why, why_size, "unknown parameter '%s' for category spectral_normalization", name);
        return -1;
    }
    return 0;
bad:
    snprintf(why, why_size, "bad value '%s' for parameter '%s'", value, name);
    return -1;
}

/* name is `base` or `base` + "_n" + digits. */
static int base_or_n(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0) return 0;
    const char *s = name + n;
    if (!*s) return 1;
    if (strncmp(s, "_n", 2) != 0 || !s[2]) return 0;
    for (s += 2; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* The output or result `target` of the case: its param settings overlaid with its variant lines. */
static int target_settings(const case_file *c, const pi_settings *base, const char *target, pi_settings *out,
                           char *why, size_t why_size) {
    *out = *base;
    size_t tl = strlen(target);
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key;
        if (strncmp(k, "variant.", 8) != 0) continue;
        if (strncmp(k + 8, target, tl) != 0 || k[8 + tl] != '.') continue;
        if (pi_apply(out, k + 9 + tl, c->entries[i].value, why, why_size) != 0) return -1;
    }
    return 0;
}

static int known_family(const char *key) {
    static const char *families[] = {"case",  "category", "summary", "primary_reference", "set",   "seed",
                                     "attempt", "param",  "variant", "input",  "output", "extra",
                                     "result", "tol",     "check",   "compare", "note",  NULL};
    size_t n = strcspn(key, ".");
    for (int i = 0; families[i]; i++)
        if (strlen(families[i]) == n && strncmp(key, families[i], n) == 0) return 1;
    return 0;
}

/* Load `dir`/<file of the key's file line> as doubles, checking dtype float32; NULL on failure. */
static double *load_array(const case_file *c, const char *key, size_t *count, size_t *shape, int *ndim) {
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

/* Runs one case; returns 1 if it was of this category, 0 if skipped. */
static int run_case(lip_context *ctx, const char *dir) {
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        test_failures++;
        return 0;
    }
    const char *cat = case_get(&c, "category");
    if (!cat || strcmp(cat, "spectral_normalization") != 0) {
        case_free(&c);
        return 0;
    }
    int failures_before = test_failures;
    pi_settings base = {1e-3, 10, 0, 0, 0, 0};
    char why[256];
    /* Every key: known family; params, inputs, outputs, variants of this category. */
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key, *v = c.entries[i].value;
        CHECK(known_family(k));
        if (!known_family(k)) fprintf(stderr, "%s: unknown key family in '%s'\n", dir, k);
        if (strncmp(k, "param.", 6) == 0) {
            int ok = pi_apply(&base, k + 6, v, why, sizeof why) == 0;
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: %s\n", dir, why);
        } else if (strncmp(k, "input.", 6) == 0) {
            const char *n = k + 6;
            int ok = !strcmp(n, "w") || !strcmp(n, "u0") || !strcmp(n, "kernel4d");
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: unknown input '%s'\n", dir, n);
        } else if (strncmp(k, "output.", 7) == 0) {
            const char *n = k + 7;
            int ok = base_or_n(n, "sigma") || base_or_n(n, "u") || base_or_n(n, "w_bar") || base_or_n(n, "w_over_sigma");
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: unknown output '%s'\n", dir, n);
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
                ok = case_get(&c, ok_key) || case_get(&c, rk);
                if (!ok) fprintf(stderr, "%s: variant target '%s' is neither an output nor a result\n", dir, target);
                pi_settings tmp = base;
                if (ok && pi_apply(&tmp, dot + 1, v, why, sizeof why) != 0) {
                    fprintf(stderr, "%s: %s\n", dir, why);
                    ok = 0;
                }
            }
            CHECK(ok);
        }
    }
    CHECK(base.have_eps && base.have_maxiter && base.have_stopping);

    size_t wn = 0, un = 0, wshape[8], ushape[8];
    int wnd = 0, und = 0;
    double *w = load_array(&c, "input.w", &wn, wshape, &wnd);
    double *u0 = load_array(&c, "input.u0", &un, ushape, &und);
    if (!w || !u0) goto done;
    /* With a 4-D kernel, run on it directly: the op must view it as (kh·kw·cin, cout) itself. */
    size_t kshape[8], kn = 0;
    int knd = 0;
    double *k4 = case_get(&c, "input.kernel4d") ? load_array(&c, "input.kernel4d", &kn, kshape, &knd) : NULL;
    int ndim = wnd;
    size_t shape[4] = {wshape[0], wshape[1], 1, 1};
    if (k4) {
        CHECK(kn == wn && knd == 4);
        for (size_t i = 0; i < wn && kn == wn; i++) CHECK(k4[i] == w[i]);
        ndim = 4;
        for (int i = 0; i < 4; i++) shape[i] = kshape[i];
        free(k4);
    }
    size_t rows = wshape[0], cols = wshape[1];
    CHECK(wnd == 2 && un == cols);
    float *wf = falloc(wn), *u0f = falloc(un);
    for (size_t i = 0; i < wn; i++) wf[i] = (float)w[i];
    for (size_t i = 0; i < un; i++) u0f[i] = (float)u0[i];

    /* Outputs. */
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key;
        if (strncmp(k, "output.", 7) != 0) continue;
        const char *name = k + 7;
        pi_settings s;
        if (target_settings(&c, &base, name, &s, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", dir, why);
            test_failures++;
            continue;
        }
        lip_power_iteration_config cfg = {(float)s.eps, s.maxiter, s.fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
        pi_dev d;
        pi_dev_setup(ctx, &d, ndim, shape, wf, u0f);
        float *u = falloc(cols), sigma = 0.0f, *wb = falloc(wn);
        int iters = -1;
        pi_dev_forward(ctx, &d, &cfg, u, &sigma, wb, &iters);
        size_t en = 0, eshape[8];
        int end = 0;
        double *expected = load_array(&c, k, &en, eshape, &end);
        if (expected) {
            char what[1400];
            snprintf(what, sizeof what, "%s: %s", dir, name);
            const double atol = 1e-5, rtol = 1e-4;
            if (base_or_n(name, "sigma")) {
                CHECK(en == 1);
                test_compare(what, &sigma, expected, 1, atol, rtol);
            } else if (base_or_n(name, "u")) {
                CHECK(en == cols);
                if (en == cols) test_compare(what, u, expected, cols, atol, rtol);
            } else if (base_or_n(name, "w_bar")) {
                CHECK(en == wn);
                if (en == wn) test_compare(what, wb, expected, wn, atol, rtol);
            } else { /* w_over_sigma: W/σ from the device σ (the op itself returns deel-lip's W/(σ + eps)) */
                CHECK(en == wn);
                float *wos = falloc(wn);
                for (size_t e = 0; e < wn; e++) wos[e] = (float)(w[e] / (double)sigma);
                if (en == wn) test_compare(what, wos, expected, wn, atol, rtol);
                free(wos);
            }
            free(expected);
        }
        free(u);
        free(wb);
        pi_dev_free(&d);
    }
    /* Results: n_iter* exactly (device counter); stopping_rule_values* against the host reference. */
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key;
        if (strncmp(k, "result.", 7) != 0) continue;
        const char *name = k + 7;
        pi_settings s;
        if (target_settings(&c, &base, name, &s, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", dir, why);
            test_failures++;
            continue;
        }
        if (strncmp(name, "n_iter", 6) == 0) {
            lip_power_iteration_config cfg = {(float)s.eps, s.maxiter, s.fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
            pi_dev d;
            pi_dev_setup(ctx, &d, ndim, shape, wf, u0f);
            int iters = -1;
            pi_dev_forward(ctx, &d, &cfg, NULL, NULL, NULL, &iters);
            int expected = atoi(c.entries[i].value);
            test_checks++;
            if (iters != expected) {
                fprintf(stderr, "%s: %s: device ran %d iterations, expected %d\n", dir, name, iters, expected);
                test_failures++;
            }
            pi_dev_free(&d);
        } else if (base_or_n(name, "stopping_rule_values")) {
            double vals[1024], ref[1024];
            int nv = case_numbers(c.entries[i].value, vals, 1024);
            CHECK(nv >= 1 && s.maxiter < 1000);
            int it = hr_power_iteration(w, rows, cols, u0, s.eps, s.maxiter, s.fixed, NULL, NULL, NULL, ref);
            CHECK(nv == it + 1);
            for (int e = 0; e < nv && e <= it; e++) CHECK_NEAR(ref[e], vals[e], 1e-9 + 1e-7 * fabs(vals[e]));
        }
    }
    free(wf);
    free(u0f);
done:
    free(w);
    free(u0);
    printf("case %s: %s\n", dir, test_failures == failures_before ? "passed" : "FAILED");
    case_free(&c);
    return 1;
}

/* Whether `path` is one case folder (it holds a case.txt) rather than a folder of cases. */
static int is_case_folder(const char *path) {
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/case.txt", path);
    FILE *f = fopen(probe, "r");
    if (f) fclose(f);
    return f != NULL;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_reference_cases(lip_context *ctx, const char *root) {
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "cannot open reference folder %s\n", root);
        test_failures++;
        return;
    }
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512)
        if (strncmp(e->d_name, "spectral_", 9) == 0) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        ran += run_case(ctx, path);
        free(names[i]);
    }
    printf("%d spectral_normalization reference cases\n", ran);
    CHECK(ran >= 4);
}

/* ---- device vs host on awkward shapes ---------------------------------------------------------- */

static void random_matrix(float *w, size_t n) { test_fill_uniform(&rng, w, n, -1.0, 1.0); }

/* Forward (both stopping rules) and backward (with and without dL/dσ) against the host reference. */
static void test_shape(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *u0f = falloc(cols), *gf = falloc(mn);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    random_matrix(gf, mn);
    double *w = to_double(wf, mn), *u0 = to_double(u0f, cols), *g = to_double(gf, mn);
    char what[128];
    for (int fixed = 0; fixed <= 1; fixed++) {
        lip_power_iteration_config cfg = lip_power_iteration_config_default();
        if (fixed) {
            cfg.stopping = LIP_STOPPING_FIXED;
            cfg.maxiter = 4;
        }
        pi_dev d;
        pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
        float *u = falloc(cols), sigma = 0.0f, *wb = falloc(mn);
        int iters = -1;
        pi_dev_forward(ctx, &d, &cfg, u, &sigma, wb, &iters);
        /* Iteration count: the host's own under the same rule, unless a stopping value lies within
         * 2 % of eps (float and double may then disagree); the outputs with the device's count. */
        double stop[64];
        int host_iters = hr_power_iteration(w, rows, cols, u0, cfg.eps, cfg.maxiter, fixed, NULL, NULL, NULL, stop);
        int borderline = 0;
        for (int i = 0; i <= host_iters; i++)
            if (fabs(stop[i] / cfg.eps - 1.0) < 0.02) borderline = 1;
        if (!borderline) CHECK(iters == host_iters);
        if (iters != host_iters)
            fprintf(stderr, "%zux%zu: device %d vs host %d iterations%s\n", rows, cols, iters, host_iters,
                    borderline ? " (borderline, accepted)" : "");
        double *hu = hr_alloc(cols), hs = 0.0, *hwb = hr_alloc(mn);
        hr_power_iteration(w, rows, cols, u0, cfg.eps, iters, 1, hu, &hs, hwb, NULL);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: sigma", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, &sigma, &hs, 1, 1e-6, 1e-5);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: u", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, u, hu, cols, 1e-5, 1e-4);
        snprintf(what, sizeof what, "power iteration %zux%zu %s: w_bar", rows, cols, fixed ? "fixed" : "eps");
        test_compare(what, wb, hwb, mn, 1e-6, 1e-5);

        /* Backward, u frozen at the device's final u. */
        double *ud = to_double(u, cols), *dref = hr_alloc(mn);
        lip_tensor *gt = dev_upload(ctx, 2, shape, gf), *dw = dev_new(ctx, LIP_FLOAT32, 2, shape);
        size_t one = 1;
        float gsf = 0.75f;
        lip_tensor *gs = dev_upload(ctx, 1, &one, &gsf);
        float *dwf = falloc(mn);
        for (int with_gs = 0; with_gs <= 1; with_gs++) {
            CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, gt, with_gs ? gs : NULL, dw, d.ws));
            dev_read(dw, dwf);
            hr_power_iteration_backward(w, rows, cols, ud, cfg.eps, g, with_gs ? gsf : 0.0, dref);
            snprintf(what, sizeof what, "power iteration %zux%zu %s: grad%s", rows, cols, fixed ? "fixed" : "eps",
                     with_gs ? " with dL/dsigma" : "");
            test_compare(what, dwf, dref, mn, 1e-5 * max_abs(dref, mn) + 1e-6 * max_abs(g, mn), 1e-4);
        }
        lip_tensor_free(gt);
        lip_tensor_free(dw);
        lip_tensor_free(gs);
        free(dwf);
        free(ud);
        free(dref);
        free(hu);
        free(hwb);
        free(u);
        free(wb);
        pi_dev_free(&d);
    }
    free(wf);
    free(u0f);
    free(gf);
    free(w);
    free(u0);
    free(g);
}

/* Central differences in double of the host forward with u frozen, against the device gradient. */
static void test_gradcheck(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *u0f = falloc(cols), *gf = falloc(mn);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    random_matrix(gf, mn);
    lip_power_iteration_config cfg = lip_power_iteration_config_default();
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    float *u = falloc(cols);
    pi_dev_forward(ctx, &d, &cfg, u, NULL, NULL, NULL);
    const float gsf = -0.4f;
    size_t one = 1;
    lip_tensor *gt = dev_upload(ctx, 2, shape, gf), *dw = dev_new(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *gs = dev_upload(ctx, 1, &one, &gsf);
    CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, gt, gs, dw, NULL));
    float *dwf = falloc(mn);
    dev_read(dw, dwf);

    double *w = to_double(wf, mn), *ud = to_double(u, cols), *g = to_double(gf, mn), *fd = hr_alloc(mn);
    double *out = hr_alloc(mn), *href = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = w[e], l[2];
        for (int side = 0; side < 2; side++) {
            w[e] = keep + (side ? -h : h);
            double sg = hr_spectral_frozen(w, rows, cols, ud, cfg.eps, out);
            double s = gsf * sg;
            for (size_t i = 0; i < mn; i++) s += g[i] * out[i];
            l[side] = s;
        }
        w[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    double scale = max_abs(fd, mn);
    hr_power_iteration_backward(w, rows, cols, ud, cfg.eps, g, gsf, href);
    double worst_host = 0.0, worst_dev = 0.0;
    for (size_t e = 0; e < mn; e++) {
        if (fabs(href[e] - fd[e]) > worst_host) worst_host = fabs(href[e] - fd[e]);
        if (fabs(dwf[e] - fd[e]) > worst_dev) worst_dev = fabs(dwf[e] - fd[e]);
    }
    CHECK(worst_host <= 1e-6 * scale);
    CHECK(worst_dev <= 1e-3 * scale);
    printf("gradcheck %zux%zu: max|fd| %.3g, host err %.2g, device err %.2g (relative to max|fd|)\n", rows, cols, scale,
           worst_host / scale, worst_dev / scale);
    lip_tensor_free(gt);
    lip_tensor_free(dw);
    lip_tensor_free(gs);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
    free(gf);
    free(u);
    free(dwf);
    free(w);
    free(ud);
    free(g);
    free(fd);
    free(out);
    free(href);
}

/* ---- σ accuracy, warm start, determinism -------------------------------------------------------- */

/* A rows×cols matrix with singular values s (min(rows, cols) of them). */
static void matrix_with_sv(size_t rows, size_t cols, const double *s, float *wf) {
    size_t k = rows < cols ? rows : cols;
    double *uq = hr_alloc(rows * k), *vq = hr_alloc(cols * k), *w = hr_alloc(rows * cols);
    for (size_t i = 0; i < rows * k; i++) uq[i] = test_uniform(&rng, -1.0, 1.0);
    for (size_t i = 0; i < cols * k; i++) vq[i] = test_uniform(&rng, -1.0, 1.0);
    hr_orthonormalize_columns(uq, rows, k);
    hr_orthonormalize_columns(vq, cols, k);
    hr_compose_svd(uq, vq, s, rows, cols, w);
    for (size_t i = 0; i < rows * cols; i++) wf[i] = (float)w[i];
    free(uq);
    free(vq);
    free(w);
}

static void test_sigma_accuracy(lip_context *ctx) {
    const size_t rows = 40, cols = 12, k = 12, shape[2] = {rows, cols};
    double s[12];
    for (size_t i = 0; i < k; i++) s[i] = 1.0 - 0.05 * (double)i;
    s[0] = 2.0; /* gap 2 : 0.95 */
    float *wf = falloc(rows * cols), *u0f = falloc(cols);
    matrix_with_sv(rows, cols, s, wf);
    random_matrix(u0f, cols);
    double *w = to_double(wf, rows * cols), sv[12];
    hr_singular_values(w, rows, cols, sv);
    const double truth = sv[0];

    /* Converged (fixed, many iterations): σ to float precision. */
    lip_power_iteration_config cfg = {1e-3f, 200, LIP_STOPPING_FIXED};
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    float sigma = 0.0f;
    int iters = 0;
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, NULL, &iters);
    CHECK(iters == 200);
    CHECK_NEAR(sigma, truth, 4e-6 * truth);
    const float converged = sigma;

    /* deel-lip defaults from a random u: an under-estimate (‖W u‖ ≤ σ_max for unit u) within the
     * tolerance the stopping rule gives, and W/(σ + eps) has spectral norm ≤ 1 + eps-level slack. */
    cfg = lip_power_iteration_config_default();
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    float *wb = falloc(rows * cols);
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, wb, &iters);
    CHECK(sigma <= truth * (1.0 + 1e-6));
    CHECK(sigma >= truth * (1.0 - 1e-3));
    double *wbd = to_double(wb, rows * cols), svb[12];
    hr_singular_values(wbd, rows, cols, svb);
    CHECK(svb[0] <= 1.0 + 1e-3);
    printf("sigma: true %.7f, converged %.7f, default settings %.7f after %d iterations\n", truth,
           (double)converged, (double)sigma, iters);

    /* Warm start, as during training: the persisted u makes the next call stop after 1 iteration. */
    int warm = 0;
    pi_dev_forward(ctx, &d, &cfg, NULL, NULL, NULL, &warm);
    CHECK(warm == 1);

    /* Determinism: the same inputs give bit-identical outputs. */
    float *u1 = falloc(cols), *u2 = falloc(cols), s1 = 0.0f, s2 = 0.0f;
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    pi_dev_forward(ctx, &d, &cfg, u1, &s1, NULL, NULL);
    REQUIRE_OK(lip_tensor_upload(d.u, u0f, cols * sizeof *u0f));
    pi_dev_forward(ctx, &d, &cfg, u2, &s2, NULL, NULL);
    CHECK(memcmp(u1, u2, cols * sizeof *u1) == 0 && s1 == s2);

    /* u = 0: l2_normalize keeps 0, σ = 0, w_bar = W/eps, and the gradient has no σ term. */
    float *zero = falloc(cols);
    REQUIRE_OK(lip_tensor_upload(d.u, zero, cols * sizeof *zero));
    pi_dev_forward(ctx, &d, &cfg, NULL, &sigma, wb, NULL);
    CHECK(sigma == 0.0f);
    CHECK_NEAR(wb[3], wf[3] / 1e-3, 1e-3 * fabs(wf[3] / 1e-3));
    free(zero);
    free(u1);
    free(u2);
    free(wb);
    free(wbd);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
    free(w);
}

/* ---- bad arguments ------------------------------------------------------------------------------ */

static void test_bad_arguments(lip_context *ctx) {
    size_t shape[2] = {6, 4}, ushape[2] = {1, 4}, bad_ushape[2] = {1, 5}, one = 1, two = 2;
    float wf[24] = {0}, u0f[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 24; i++) wf[i] = (float)(i % 5) - 2.0f;
    lip_tensor *w = dev_upload(ctx, 2, shape, wf), *u = dev_upload(ctx, 2, ushape, u0f);
    lip_tensor *ubad = dev_upload(ctx, 2, bad_ushape, u0f), *sigma = dev_new(ctx, LIP_FLOAT32, 1, &one);
    lip_tensor *state = dev_new(ctx, LIP_INT32, 1, &two), *fstate = dev_new(ctx, LIP_FLOAT32, 1, &two);
    lip_tensor *small_state = dev_new(ctx, LIP_INT32, 1, &one), *wb = dev_new(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *wb_bad = dev_new(ctx, LIP_FLOAT32, 1, &two), *ws_small = dev_new(ctx, LIP_FLOAT32, 1, &two);
    lip_power_iteration_config cfg = lip_power_iteration_config_default(), bad;

    bad = cfg;
    bad.eps = 0.0f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps = 0");
    bad.eps = -1e-3f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "must be finite and > 0");
    bad.eps = NAN;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.maxiter = 0;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter = 0 outside 1..");
    bad.maxiter = LIP_NORMALIZER_MAX_ITER + 1;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.stopping = (lip_stopping)7;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "stopping rule");
    CHECK_STATUS(lip_power_iteration_forward(ctx, NULL, w, u, sigma, wb, state, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, ubad, sigma, wb, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "u (1, 5) must hold 4 elements");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, wb, wb, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "sigma");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb_bad, state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "w_bar");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, fstate, NULL), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "state");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, small_state, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "at least 2 int32");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, state, ws_small), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "workspace");
    CHECK_STATUS(lip_power_iteration_forward(ctx, &cfg, NULL, u, sigma, wb, state, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb_bad, NULL, wb, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_w_bar");
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb, wb, wb, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_sigma");
    CHECK_STATUS(lip_power_iteration_backward(ctx, &cfg, w, u, sigma, wb, NULL, wb_bad, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "grad_w");
    int it = 0;
    CHECK_STATUS(lip_normalizer_iterations(ctx, fstate, &it), LIP_ERR_DTYPE);
    /* With fixed stopping eps still enters σ + eps: it must be valid there too. */
    bad = cfg;
    bad.stopping = LIP_STOPPING_FIXED;
    bad.eps = 0.0f;
    CHECK_STATUS(lip_power_iteration_forward(ctx, &bad, w, u, sigma, wb, state, NULL), LIP_ERR_INVALID_ARGUMENT);
    /* A valid call still works after all that. */
    CHECK_OK(lip_power_iteration_forward(ctx, &cfg, w, u, sigma, wb, state, NULL));
    lip_tensor *ts[] = {w, u, ubad, sigma, state, fstate, small_state, wb, wb_bad, ws_small};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
}

/* ---- timing -------------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_shape(lip_context *ctx, size_t rows, size_t cols, int reps) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *u0f = falloc(cols);
    random_matrix(wf, mn);
    random_matrix(u0f, cols);
    pi_dev d;
    pi_dev_setup(ctx, &d, 2, shape, wf, u0f);
    lip_power_iteration_config cfg = {1e-3f, 10, LIP_STOPPING_FIXED};
    lip_tensor *g = dev_upload(ctx, 2, shape, wf), *dw = dev_new(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_power_iteration_forward(ctx, &cfg, d.w, d.u, d.sigma, d.w_bar, d.state, d.ws));
    CHECK_OK(lip_context_finish(ctx));
    double best_f = 1e9, best_b = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        CHECK_OK(lip_power_iteration_forward(ctx, &cfg, d.w, d.u, d.sigma, d.w_bar, d.state, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t1 = now_s();
        CHECK_OK(lip_power_iteration_backward(ctx, &cfg, d.w, d.u, d.sigma, g, NULL, dw, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t2 = now_s();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("timing: power iteration %zux%zu, 10 iterations: forward %.3f ms, backward %.3f ms (best of %d)\n", rows,
           cols, 1e3 * best_f, 1e3 * best_b, reps);
    lip_tensor_free(g);
    lip_tensor_free(dw);
    pi_dev_free(&d);
    free(wf);
    free(u0f);
}

int main(int argc, char **argv) {
    rng = test_seed(20240611);
    lip_context *ctx = test_context();
    if (argc > 1 && is_case_folder(argv[1])) { /* one reference case: its own CTest entry */
        CHECK(run_case(ctx, argv[1]) >= 1);
        test_context_free(ctx);
        return test_finish("test_power_iteration");
    }
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    test_reference_cases(ctx, root);

    const size_t shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {13, 13}, {129, 5}, {5, 129}, {257, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(ctx, shapes[i][0], shapes[i][1]);
    test_gradcheck(ctx, 7, 3);
    test_gradcheck(ctx, 3, 7);
    test_gradcheck(ctx, 1, 1);
    test_gradcheck(ctx, 9, 9);
    test_sigma_accuracy(ctx);
    test_bad_arguments(ctx);
    lip_device_info info;
    REQUIRE_OK(lip_context_device_info(ctx, &info));
    const char *dbg = getenv("LIPCL_DEBUG_BOUNDS");
    int reps = dbg && *dbg == '1' ? 1 : 5;
    time_shape(ctx, 784, 128, reps);
    time_shape(ctx, 576, 64, reps);
    test_context_free(ctx);
    return test_finish("test_power_iteration");
}
