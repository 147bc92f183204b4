/* lipcl tests — Björck orthonormalization on the device, forward and backward: the golden reference
 * cases, host references on awkward shapes, finite-difference gradients, orthogonality, bad input. */
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

/* Device Björck with everything the backward needs. */
typedef struct bj_dev {
    lip_tensor *w, *out, *state, *ws;
    size_t rows, cols;
    lip_bjorck_config cfg;
} bj_dev;

static void bj_dev_forward(lip_context *ctx, bj_dev *d, int ndim, const size_t *shape, const float *w,
                           const lip_bjorck_config *cfg, float *out, int *iters) {
    d->cfg = *cfg;
    d->w = dev_upload(ctx, ndim, shape, w);
    d->cols = shape[ndim - 1];
    d->rows = lip_tensor_count(d->w) / d->cols;
    size_t two = LIP_NORMALIZER_STATE_INTS, wsn = lip_bjorck_workspace_floats(d->rows, d->cols, cfg->maxiter);
    d->out = dev_new(ctx, LIP_FLOAT32, ndim, shape);
    d->state = dev_new(ctx, LIP_INT32, 1, &two);
    d->ws = dev_new(ctx, LIP_FLOAT32, 1, &wsn);
    CHECK_OK(lip_bjorck_forward(ctx, cfg, d->w, d->out, d->state, d->ws));
    if (out) dev_read(d->out, out);
    if (iters) CHECK_OK(lip_normalizer_iterations(ctx, d->state, iters));
}

static void bj_dev_backward(lip_context *ctx, bj_dev *d, const float *g, float *dw) {
    size_t shape[2] = {d->rows, d->cols};
    lip_tensor *gt = dev_upload(ctx, 2, shape, g), *dt = dev_new(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_bjorck_backward(ctx, &d->cfg, d->state, d->ws, gt, dt));
    dev_read(dt, dw);
    lip_tensor_free(gt);
    lip_tensor_free(dt);
}

static void bj_dev_free(bj_dev *d) {
    lip_tensor_free(d->w);
    lip_tensor_free(d->out);
    lip_tensor_free(d->state);
    lip_tensor_free(d->ws);
}

/* ---- reference cases (category bjorck) --------------------------------------------------------- */

typedef struct bj_settings {
    double beta, eps;
    int maxiter, fixed;
    int have_beta, have_eps, have_maxiter, have_stopping;
} bj_settings;

static int bj_apply(bj_settings *s, const char *name, const char *value, char *why, size_t why_size) {
    char *end;
    if (strcmp(name, "beta") == 0) {
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
        snprintf(why, why_size, "unknown parameter '%s' for category bjorck", name);
        return -1;
    }
    return 0;
bad:
    snprintf(why, why_size, "bad value '%s' for parameter '%s'", value, name);
    return -1;
}

/* name is `base` + "_eps" or `base` + "_n" + digits. */
static int eps_or_n(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0) return 0;
    const char *s = name + n;
    if (strcmp(s, "_eps") == 0) return 1;
    if (strncmp(s, "_n", 2) != 0 || !s[2]) return 0;
    for (s += 2; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int target_settings(const case_file *c, const bj_settings *base, const char *target, bj_settings *out,
                           char *why, size_t why_size) {
    *out = *base;
    size_t tl = strlen(target);
    for (size_t i = 0; i < c->count; i++) {
        const char *k = c->entries[i].key;
        if (strncmp(k, "variant.", 8) != 0) continue;
        if (strncmp(k + 8, target, tl) != 0 || k[8 + tl] != '.') continue;
        if (bj_apply(out, k + 9 + tl, c->entries[i].value, why, why_size) != 0) return -1;
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

static lip_bjorck_config config_of(const bj_settings *s) {
    lip_bjorck_config cfg = {(float)s->beta, (float)s->eps, s->maxiter, s->fixed ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS};
    return cfg;
}

static int run_case(lip_context *ctx, const char *dir) {
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        test_failures++;
        return 0;
    }
    const char *cat = case_get(&c, "category");
    if (!cat || strcmp(cat, "bjorck") != 0) {
        case_free(&c);
        return 0;
    }
    int failures_before = test_failures;
    bj_settings base = {0.5, 1e-3, 15, 0, 0, 0, 0, 0};
    char why[256];
    for (size_t i = 0; i < c.count; i++) {
        const char *k = c.entries[i].key, *v = c.entries[i].value;
        CHECK(known_family(k));
        if (!known_family(k)) fprintf(stderr, "%s: unknown key family in '%s'\n", dir, k);
        if (strncmp(k, "param.", 6) == 0) {
            int ok = bj_apply(&base, k + 6, v, why, sizeof why) == 0;
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: %s\n", dir, why);
        } else if (strncmp(k, "input.", 6) == 0) {
            CHECK(strcmp(k + 6, "w") == 0);
            if (strcmp(k + 6, "w") != 0) fprintf(stderr, "%s: unknown input '%s'\n", dir, k + 6);
        } else if (strncmp(k, "output.", 7) == 0) {
            int ok = eps_or_n(k + 7, "w") || eps_or_n(k + 7, "sv");
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
                ok = case_get(&c, ok_key) || case_get(&c, rk);
                if (!ok) fprintf(stderr, "%s: variant target '%s' is neither an output nor a result\n", dir, target);
                bj_settings tmp = base;
                if (ok && bj_apply(&tmp, dot + 1, v, why, sizeof why) != 0) {
                    fprintf(stderr, "%s: %s\n", dir, why);
                    ok = 0;
                }
            }
            CHECK(ok);
        }
    }
    CHECK(base.have_beta && base.have_eps && base.have_maxiter && base.have_stopping);

    size_t wn = 0, wshape[8];
    int wnd = 0;
    double *w = load_array(&c, "input.w", &wn, wshape, &wnd);
    if (!w) goto done;
    CHECK(wnd == 2);
    size_t rows = wshape[0], cols = wshape[1], k = rows < cols ? rows : cols;
    float *wf = falloc(wn);
    for (size_t i = 0; i < wn; i++) wf[i] = (float)w[i];

    for (size_t i = 0; i < c.count; i++) {
        const char *key = c.entries[i].key;
        if (strncmp(key, "output.", 7) != 0) continue;
        const char *name = key + 7;
        bj_settings s;
        if (target_settings(&c, &base, name, &s, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", dir, why);
            test_failures++;
            continue;
        }
        lip_bjorck_config cfg = config_of(&s);
        bj_dev d;
        float *out = falloc(wn);
        bj_dev_forward(ctx, &d, 2, wshape, wf, &cfg, out, NULL);
        size_t en = 0, eshape[8];
        int end = 0;
        double *expected = load_array(&c, key, &en, eshape, &end);
        if (expected) {
            char what[1400];
            snprintf(what, sizeof what, "%s: %s", dir, name);
            if (name[0] == 'w') {
                CHECK(en == wn);
                if (en == wn) test_compare(what, out, expected, wn, 1e-5, 1e-4);
            } else { /* singular values of the device result, in double on the host */
                double *od = to_double(out, wn), *sv = hr_alloc(k);
                hr_singular_values(od, rows, cols, sv);
                float *svf = falloc(k);
                for (size_t e = 0; e < k; e++) svf[e] = (float)sv[e];
                CHECK(en == k);
                if (en == k) test_compare(what, svf, expected, k, 1e-5, 1e-4);
                free(od);
                free(sv);
                free(svf);
            }
            free(expected);
        }
        free(out);
        bj_dev_free(&d);
    }
    for (size_t i = 0; i < c.count; i++) {
        const char *key = c.entries[i].key;
        if (strncmp(key, "result.", 7) != 0) continue;
        const char *name = key + 7;
        bj_settings s;
        if (target_settings(&c, &base, name, &s, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", dir, why);
            test_failures++;
            continue;
        }
        if (strncmp(name, "n_iter", 6) == 0) {
            lip_bjorck_config cfg = config_of(&s);
            bj_dev d;
            int iters = -1;
            bj_dev_forward(ctx, &d, 2, wshape, wf, &cfg, NULL, &iters);
            int expected = atoi(c.entries[i].value);
            test_checks++;
            if (iters != expected) {
                fprintf(stderr, "%s: %s: device ran %d iterations, expected %d\n", dir, name, iters, expected);
                test_failures++;
            }
            bj_dev_free(&d);
        } else if (strncmp(name, "stopping_rule_values", 20) == 0) {
            double vals[1024], ref[1024];
            int nv = case_numbers(c.entries[i].value, vals, 1024);
            double *tmp = hr_alloc(wn);
            int it = hr_bjorck(w, rows, cols, s.beta, s.eps, s.maxiter, s.fixed, tmp, ref);
            CHECK(nv == it + 1);
            for (int e = 0; e < nv && e <= it; e++) CHECK_NEAR(ref[e], vals[e], 1e-9 + 1e-7 * fabs(vals[e]));
            free(tmp);
        }
    }
    free(wf);
done:
    free(w);
    printf("case %s: %s\n", dir, test_failures == failures_before ? "passed" : "FAILED");
    case_free(&c);
    return 1;
}

/*
 * The reparametrization chain of the spectral_dense / spectral_conv2d cases (not this module's
 * category; only their reparametrization parts): kernel, u0 → power iteration → Björck → × coef·k
 * must give w_bar, u and sigma, and grad_w_bar back through the chain must give grad_kernel.
 */
static int run_chain_case(lip_context *ctx, const char *dir) {
    case_file c;
    char err[512];
    if (case_load(dir, &c, err, sizeof err) != 0) return 0;
    const char *cat = case_get(&c, "category");
    if (!cat || (strcmp(cat, "spectral_dense") != 0 && strcmp(cat, "spectral_conv2d") != 0)) {
        case_free(&c);
        return 0;
    }
    int failures_before = test_failures;
    const char *need[] = {"param.k_coef_lip", "param.eps_spectral", "param.maxiter_spectral", "param.eps_bjorck",
                          "param.beta_bjorck", "param.maxiter_bjorck", "result.n_iter_spectral",
                          "result.n_iter_bjorck"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!case_get(&c, need[i])) {
            fprintf(stderr, "%s: missing %s\n", dir, need[i]);
            test_failures++;
            case_free(&c);
            return 1;
        }
    double coef = atof(case_get(&c, "param.k_coef_lip"));
    if (strcmp(cat, "spectral_conv2d") == 0) {
        const char *a = case_get(&c, "result.adjustment_coef_tf");
        CHECK(a != NULL);
        coef = a ? atof(a) : coef;
    }
    lip_power_iteration_config pcfg = {(float)atof(case_get(&c, "param.eps_spectral")),
                                       atoi(case_get(&c, "param.maxiter_spectral")), LIP_STOPPING_EPS};
    lip_bjorck_config bcfg = {(float)atof(case_get(&c, "param.beta_bjorck")),
                              (float)atof(case_get(&c, "param.eps_bjorck")), atoi(case_get(&c, "param.maxiter_bjorck")),
                              LIP_STOPPING_EPS};
    size_t kn = 0, un = 0, n1 = 0, kshape[8], ushape[8], s1[8];
    int knd = 0, und = 0, d1 = 0;
    double *kernel = load_array(&c, "input.kernel", &kn, kshape, &knd);
    double *u0 = load_array(&c, "input.u0", &un, ushape, &und);
    double *e_wbar = load_array(&c, "output.w_bar", &n1, s1, &d1);
    double *e_u = load_array(&c, "output.u", &n1, s1, &d1);
    double *e_sigma = load_array(&c, "output.sigma", &n1, s1, &d1);
    double *e_gk = load_array(&c, "output.grad_kernel", &n1, s1, &d1);
    double *gwb = load_array(&c, "output.grad_w_bar", &n1, s1, &d1);
    if (kernel && u0 && e_wbar && e_u && e_sigma && e_gk && gwb) {
        size_t cols = kshape[knd - 1], rows = kn / cols, one = 1, two = 2, shape2[2] = {rows, cols};
        float *kf = falloc(kn), *uf = falloc(un), *gf = falloc(kn);
        for (size_t i = 0; i < kn; i++) kf[i] = (float)kernel[i];
        for (size_t i = 0; i < un; i++) uf[i] = (float)u0[i];
        for (size_t i = 0; i < kn; i++) gf[i] = (float)(gwb[i] * coef); /* d(coef·B)/dB */
        lip_tensor *k = dev_upload(ctx, knd, kshape, kf), *u = dev_upload(ctx, 2, ushape, uf);
        lip_tensor *sigma = dev_new(ctx, LIP_FLOAT32, 1, &one), *ws_ = dev_new(ctx, LIP_FLOAT32, 2, shape2);
        lip_tensor *wb = dev_new(ctx, LIP_FLOAT32, 2, shape2), *pst = dev_new(ctx, LIP_INT32, 1, &two);
        lip_tensor *bst = dev_new(ctx, LIP_INT32, 1, &two), *g = dev_upload(ctx, 2, shape2, gf);
        size_t bwn = lip_bjorck_workspace_floats(rows, cols, bcfg.maxiter);
        lip_tensor *bws = dev_new(ctx, LIP_FLOAT32, 1, &bwn), *gs = dev_new(ctx, LIP_FLOAT32, 2, shape2);
        lip_tensor *gk = dev_new(ctx, LIP_FLOAT32, knd, kshape);
        CHECK_OK(lip_power_iteration_forward(ctx, &pcfg, k, u, sigma, ws_, pst, NULL));
        CHECK_OK(lip_bjorck_forward(ctx, &bcfg, ws_, wb, bst, bws));
        CHECK_OK(lip_bjorck_backward(ctx, &bcfg, bst, bws, g, gs));
        CHECK_OK(lip_power_iteration_backward(ctx, &pcfg, k, u, sigma, gs, NULL, gk, NULL));
        float *h_wb = falloc(kn), *h_u = falloc(un), h_s = 0.0f, *h_gk = falloc(kn);
        dev_read(wb, h_wb);
        for (size_t i = 0; i < kn; i++) h_wb[i] = (float)(h_wb[i] * coef);
        dev_read(u, h_u);
        dev_read(sigma, &h_s);
        dev_read(gk, h_gk);
        int pi = 0, bi = 0;
        CHECK_OK(lip_normalizer_iterations(ctx, pst, &pi));
        CHECK_OK(lip_normalizer_iterations(ctx, bst, &bi));
        CHECK(pi == atoi(case_get(&c, "result.n_iter_spectral")));
        CHECK(bi == atoi(case_get(&c, "result.n_iter_bjorck")));
        char what[1400];
        snprintf(what, sizeof what, "%s (chain): w_bar", dir);
        test_compare(what, h_wb, e_wbar, kn, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s (chain): u", dir);
        test_compare(what, h_u, e_u, un, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s (chain): sigma", dir);
        test_compare(what, &h_s, e_sigma, 1, 1e-5, 1e-4);
        /* README: gradients through 15 Björck iterations: 5e-5 relative to max|expected|. */
        snprintf(what, sizeof what, "%s (chain): grad_kernel", dir);
        test_compare(what, h_gk, e_gk, kn, 5e-5 * max_abs(e_gk, kn), 1e-4);
        lip_tensor *ts[] = {k, u, sigma, ws_, wb, pst, bst, g, bws, gs, gk};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
        free(kf);
        free(uf);
        free(gf);
        free(h_wb);
        free(h_u);
        free(h_gk);
    }
    free(kernel);
    free(u0);
    free(e_wbar);
    free(e_u);
    free(e_sigma);
    free(e_gk);
    free(gwb);
    printf("chain %s: %s\n", dir, test_failures == failures_before ? "passed" : "FAILED");
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
        if (strncmp(e->d_name, "bjorck_", 7) == 0 || strncmp(e->d_name, "spectral_", 9) == 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int ran = 0, chains = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        ran += run_case(ctx, path);
        chains += run_chain_case(ctx, path);
        free(names[i]);
    }
    printf("%d bjorck reference cases, %d reparametrization chains\n", ran, chains);
    CHECK(ran >= 5);
}

/* ---- device vs host on awkward shapes ------------------------------------------------------------ */

/* Uniform random rows×cols matrix scaled to spectral norm `top` (as after the spectral step). */
static void random_normalized(float *wf, size_t rows, size_t cols, double top) {
    size_t mn = rows * cols, k = rows < cols ? rows : cols;
    double *w = hr_alloc(mn), *sv = hr_alloc(k);
    for (size_t i = 0; i < mn; i++) w[i] = test_uniform(&rng, -1.0, 1.0);
    hr_singular_values(w, rows, cols, sv);
    for (size_t i = 0; i < mn; i++) wf[i] = (float)(w[i] * top / sv[0]);
    free(w);
    free(sv);
}

static void test_shape(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *gf = falloc(mn);
    random_normalized(wf, rows, cols, 0.98);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    double *w = to_double(wf, mn), *g = to_double(gf, mn);
    char what[160];
    for (int variant = 0; variant < 2; variant++) {
        lip_bjorck_config cfg = lip_bjorck_config_default();
        if (variant == 1) {
            cfg.stopping = LIP_STOPPING_FIXED;
            cfg.maxiter = 3;
            cfg.beta = 0.3f;
        }
        const char *vname = variant ? "fixed 3, beta 0.3" : "deel-lip defaults";
        bj_dev d;
        float *out = falloc(mn), *dw = falloc(mn);
        int iters = -1;
        bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
        double stop[64], *ref = hr_alloc(mn), *dref = hr_alloc(mn);
        int host_iters = hr_bjorck(w, rows, cols, cfg.beta, cfg.eps, cfg.maxiter, variant == 1, ref, stop);
        int borderline = 0;
        for (int i = 0; i <= host_iters && variant == 0; i++)
            if (fabs(stop[i] / cfg.eps - 1.0) < 0.02) borderline = 1;
        if (!borderline) CHECK(iters == host_iters);
        if (iters != host_iters)
            fprintf(stderr, "%zux%zu: device %d vs host %d iterations%s\n", rows, cols, iters, host_iters,
                    borderline ? " (borderline, accepted)" : "");
        hr_bjorck(w, rows, cols, cfg.beta, cfg.eps, iters, 1, ref, NULL);
        snprintf(what, sizeof what, "bjorck %zux%zu %s: forward", rows, cols, vname);
        test_compare(what, out, ref, mn, 1e-5, 1e-4);
        bj_dev_backward(ctx, &d, gf, dw);
        hr_bjorck_backward(w, rows, cols, cfg.beta, iters, g, dref);
        snprintf(what, sizeof what, "bjorck %zux%zu %s: backward (%d iterations)", rows, cols, vname, iters);
        /* Scale: the result, or float rounding of the incoming gradient where cancellation makes the
         * result tiny (a converged 1×1 has a vanishing derivative). */
        test_compare(what, dw, dref, mn, 2e-5 * max_abs(dref, mn) + 1e-6 * max_abs(g, mn), 1e-4);
        free(out);
        free(dw);
        free(ref);
        free(dref);
        bj_dev_free(&d);
    }
    free(wf);
    free(gf);
    free(w);
    free(g);
}

/* Central differences in double of the host forward with the device's iteration count frozen; input
 * of spectral norm `top`, deel-lip's default rule, or `fixed` iterations when > 0. */
static void test_gradcheck(lip_context *ctx, size_t rows, size_t cols, double top, int fixed) {
    size_t mn = rows * cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *gf = falloc(mn), *dwf = falloc(mn);
    random_normalized(wf, rows, cols, top);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    lip_bjorck_config cfg = lip_bjorck_config_default();
    if (fixed > 0) {
        cfg.stopping = LIP_STOPPING_FIXED;
        cfg.maxiter = fixed;
    }
    bj_dev d;
    int iters = 0;
    bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, NULL, &iters);
    bj_dev_backward(ctx, &d, gf, dwf);
    double *w = to_double(wf, mn), *g = to_double(gf, mn), *fd = hr_alloc(mn), *out = hr_alloc(mn);
    double *href = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = w[e], l[2];
        for (int side = 0; side < 2; side++) {
            w[e] = keep + (side ? -h : h);
            hr_bjorck(w, rows, cols, cfg.beta, 0.0, iters, 1, out, NULL);
            double s = 0.0;
            for (size_t i = 0; i < mn; i++) s += g[i] * out[i];
            l[side] = s;
        }
        w[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    hr_bjorck_backward(w, rows, cols, cfg.beta, iters, g, href);
    double scale = max_abs(fd, mn), worst_host = 0.0, worst_dev = 0.0;
    for (size_t e = 0; e < mn; e++) {
        if (fabs(href[e] - fd[e]) > worst_host) worst_host = fabs(href[e] - fd[e]);
        if (fabs(dwf[e] - fd[e]) > worst_dev) worst_dev = fabs(dwf[e] - fd[e]);
    }
    CHECK(worst_host <= 1e-6 * scale);
    CHECK(worst_dev <= 1e-3 * scale);
    printf("gradcheck %zux%zu (%d iterations): max|fd| %.3g, host err %.2g, device err %.2g (relative to max|fd|)\n",
           rows, cols, iters, scale, worst_host / scale, worst_dev / scale);
    bj_dev_free(&d);
    free(wf);
    free(gf);
    free(dwf);
    free(w);
    free(g);
    free(fd);
    free(out);
    free(href);
}

/*
 * The whole reparametrization (power iteration, then Björck) on the device, against central
 * differences of the host chain with u and both iteration counts frozen.
 */
static void test_chain_gradcheck(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, shape[2] = {rows, cols}, ushape[2] = {1, cols}, one = 1, two = 2;
    float *wf = falloc(mn), *uf = falloc(cols), *gf = falloc(mn), *dwf = falloc(mn);
    test_fill_uniform(&rng, wf, mn, -1.0, 1.0);
    test_fill_uniform(&rng, uf, cols, -1.0, 1.0);
    test_fill_uniform(&rng, gf, mn, -1.0, 1.0);
    lip_power_iteration_config pcfg = lip_power_iteration_config_default();
    lip_bjorck_config bcfg = lip_bjorck_config_default();
    lip_tensor *w = dev_upload(ctx, 2, shape, wf), *u = dev_upload(ctx, 2, ushape, uf);
    lip_tensor *sigma = dev_new(ctx, LIP_FLOAT32, 1, &one), *wsn = dev_new(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *wb = dev_new(ctx, LIP_FLOAT32, 2, shape), *pst = dev_new(ctx, LIP_INT32, 1, &two);
    lip_tensor *bst = dev_new(ctx, LIP_INT32, 1, &two), *g = dev_upload(ctx, 2, shape, gf);
    size_t bwn = lip_bjorck_workspace_floats(rows, cols, bcfg.maxiter);
    lip_tensor *bws = dev_new(ctx, LIP_FLOAT32, 1, &bwn), *gs = dev_new(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *dw = dev_new(ctx, LIP_FLOAT32, 2, shape);
    CHECK_OK(lip_power_iteration_forward(ctx, &pcfg, w, u, sigma, wsn, pst, NULL));
    CHECK_OK(lip_bjorck_forward(ctx, &bcfg, wsn, wb, bst, bws));
    CHECK_OK(lip_bjorck_backward(ctx, &bcfg, bst, bws, g, gs));
    CHECK_OK(lip_power_iteration_backward(ctx, &pcfg, w, u, sigma, gs, NULL, dw, NULL));
    dev_read(dw, dwf);
    float *uf2 = falloc(cols);
    dev_read(u, uf2);
    int bi = 0;
    CHECK_OK(lip_normalizer_iterations(ctx, bst, &bi));
    double *wd = to_double(wf, mn), *ud = to_double(uf2, cols), *gd = to_double(gf, mn), *fd = hr_alloc(mn);
    double *t1 = hr_alloc(mn), *t2 = hr_alloc(mn);
    const double h = 1e-6;
    for (size_t e = 0; e < mn; e++) {
        double keep = wd[e], l[2];
        for (int side = 0; side < 2; side++) {
            wd[e] = keep + (side ? -h : h);
            hr_spectral_frozen(wd, rows, cols, ud, pcfg.eps, t1);
            hr_bjorck(t1, rows, cols, bcfg.beta, 0.0, bi, 1, t2, NULL);
            double s = 0.0;
            for (size_t i = 0; i < mn; i++) s += gd[i] * t2[i];
            l[side] = s;
        }
        wd[e] = keep;
        fd[e] = (l[0] - l[1]) / (2.0 * h);
    }
    double scale = max_abs(fd, mn), worst = 0.0;
    for (size_t e = 0; e < mn; e++)
        if (fabs(dwf[e] - fd[e]) > worst) worst = fabs(dwf[e] - fd[e]);
    CHECK(worst <= 1e-3 * scale);
    printf("chain gradcheck %zux%zu (%d Björck iterations): device err %.2g relative to max|fd| %.3g\n", rows, cols, bi,
           worst / scale, scale);
    lip_tensor *ts[] = {w, u, sigma, wsn, wb, pst, bst, g, bws, gs, dw};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
    free(wf);
    free(uf);
    free(uf2);
    free(gf);
    free(dwf);
    free(wd);
    free(ud);
    free(gd);
    free(fd);
    free(t1);
    free(t2);
}

/* ---- orthogonality, special inputs, determinism -------------------------------------------------- */

/* A rows×cols matrix with singular values s. */
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

static void test_orthogonality(lip_context *ctx, size_t rows, size_t cols) {
    size_t mn = rows * cols, k = rows < cols ? rows : cols, shape[2] = {rows, cols};
    float *wf = falloc(mn), *out = falloc(mn);
    double *sv = hr_alloc(k), *s = hr_alloc(k);
    /* β = 0.5 never pushes a singular value above 1 (1.5s − 0.5s³ ≤ 1): σ_max ≤ 1 + 1e-5 after 1, 3
     * and the default iterations, from σ_max = 1 exactly (in double) and from a wide spread. */
    const int iterations[] = {1, 3, 15};
    for (int trial = 0; trial < 2; trial++) {
        if (trial == 0)
            random_normalized(wf, rows, cols, 1.0);
        else {
            for (size_t i = 0; i < k; i++) s[i] = i == 0 ? 1.0 : test_uniform(&rng, 1e-3, 1.0);
            matrix_with_sv(rows, cols, s, wf);
        }
        for (int v = 0; v < 3; v++) {
            lip_bjorck_config cfg = lip_bjorck_config_default();
            cfg.maxiter = iterations[v];
            cfg.stopping = v == 2 ? LIP_STOPPING_EPS : LIP_STOPPING_FIXED;
            bj_dev d;
            bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, NULL);
            double *od = to_double(out, mn);
            hr_singular_values(od, rows, cols, sv);
            CHECK(sv[0] <= 1.0 + 1e-5);
            if (!(sv[0] <= 1.0 + 1e-5))
                fprintf(stderr, "%zux%zu trial %d, %d iterations: sigma_max %.9f\n", rows, cols, trial, iterations[v],
                        sv[0]);
            free(od);
            bj_dev_free(&d);
        }
    }
    /* Convergence: condition number ≤ 10, enough iterations → every σ within 1e-4 of 1, both rules. */
    for (size_t i = 0; i < k; i++) s[i] = k == 1 ? 1.0 : 0.1 + 0.9 * (double)i / (double)(k - 1);
    matrix_with_sv(rows, cols, s, wf);
    for (int rule = 0; rule < 2; rule++) {
        lip_bjorck_config cfg = lip_bjorck_config_default();
        cfg.maxiter = rule ? 25 : 50;
        cfg.stopping = rule ? LIP_STOPPING_FIXED : LIP_STOPPING_EPS;
        cfg.eps = 1e-4f;
        bj_dev d;
        int iters = 0;
        bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
        double *od = to_double(out, mn);
        hr_singular_values(od, rows, cols, sv);
        double worst = 0.0;
        for (size_t i = 0; i < k; i++)
            if (fabs(sv[i] - 1.0) > worst) worst = fabs(sv[i] - 1.0);
        CHECK(worst <= 1e-4);
        printf("orthogonality %zux%zu (%s, %d iterations): max |sigma - 1| = %.2g\n", rows, cols,
               rule ? "fixed" : "eps 1e-4", iters, worst);
        free(od);
        bj_dev_free(&d);
    }
    free(wf);
    free(out);
    free(sv);
    free(s);
}

static void test_special(lip_context *ctx) {
    /* 9‖W‖_F < eps: deel-lip's loop runs no iteration; the output is W and the gradient is G. */
    size_t shape[2] = {4, 3}, mn = 12;
    float wf[12], gf[12], out[12], dw[12];
    for (size_t i = 0; i < mn; i++) {
        wf[i] = (float)(1e-6 * ((double)i - 5.5)); /* 9‖W‖_F ≈ 1.1e-4 < 1e-3 */
        gf[i] = (float)i - 3.0f;
    }
    lip_bjorck_config cfg = lip_bjorck_config_default();
    bj_dev d;
    int iters = -1;
    bj_dev_forward(ctx, &d, 2, shape, wf, &cfg, out, &iters);
    CHECK(iters == 0);
    CHECK(memcmp(out, wf, sizeof out) == 0);
    bj_dev_backward(ctx, &d, gf, dw);
    CHECK(memcmp(dw, gf, sizeof dw) == 0);
    bj_dev_free(&d);

    /* A 4-D tensor is viewed as (kh·kw·cin, cout), and w_out may alias w_in; NULL workspace works. */
    size_t k4[4] = {3, 3, 2, 4}, n4 = 72, two = 2;
    float *kf = falloc(n4), *ref_out = falloc(n4), *got = falloc(n4);
    random_normalized(kf, 18, 4, 0.95);
    size_t shape2[2] = {18, 4};
    bj_dev_forward(ctx, &d, 2, shape2, kf, &cfg, ref_out, NULL);
    bj_dev_free(&d);
    lip_tensor *t = dev_upload(ctx, 4, k4, kf), *st = dev_new(ctx, LIP_INT32, 1, &two);
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, t, t, st, NULL));
    dev_read(t, got);
    CHECK(memcmp(got, ref_out, n4 * sizeof *got) == 0);
    lip_tensor_free(t);
    lip_tensor_free(st);

    /* Determinism: bit-identical forward and backward on a repeat. */
    size_t sh[2] = {129, 33}, n = 129 * 33;
    float *w = falloc(n), *g = falloc(n), *o1 = falloc(n), *o2 = falloc(n), *g1 = falloc(n), *g2 = falloc(n);
    random_normalized(w, 129, 33, 0.99);
    test_fill_uniform(&rng, g, n, -1.0, 1.0);
    bj_dev d1, d2;
    bj_dev_forward(ctx, &d1, 2, sh, w, &cfg, o1, NULL);
    bj_dev_backward(ctx, &d1, g, g1);
    bj_dev_forward(ctx, &d2, 2, sh, w, &cfg, o2, NULL);
    bj_dev_backward(ctx, &d2, g, g2);
    CHECK(memcmp(o1, o2, n * sizeof *o1) == 0);
    CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
    /* The backward may run twice on one forward (same result), and grad_in may alias grad_out. */
    lip_tensor *gt = dev_upload(ctx, 2, sh, g);
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, d1.state, d1.ws, gt, gt));
    dev_read(gt, g2);
    CHECK(memcmp(g1, g2, n * sizeof *g1) == 0);
    lip_tensor_free(gt);
    bj_dev_free(&d1);
    bj_dev_free(&d2);
    free(w);
    free(g);
    free(o1);
    free(o2);
    free(g1);
    free(g2);
    free(kf);
    free(ref_out);
    free(got);
}

/* ---- bad arguments -------------------------------------------------------------------------------- */

static void test_bad_arguments(lip_context *ctx) {
    size_t shape[2] = {6, 4}, other[2] = {4, 6}, bad_shape[2] = {5, 4}, one = 1, two = 2;
    float wf[24];
    for (int i = 0; i < 24; i++) wf[i] = 0.05f * (float)(i % 7);
    lip_tensor *w = dev_upload(ctx, 2, shape, wf), *out = dev_new(ctx, LIP_FLOAT32, 2, shape);
    lip_tensor *out_t = dev_new(ctx, LIP_FLOAT32, 2, other), *out_bad = dev_new(ctx, LIP_FLOAT32, 2, bad_shape);
    lip_tensor *state = dev_new(ctx, LIP_INT32, 1, &two), *fstate = dev_new(ctx, LIP_FLOAT32, 1, &two);
    lip_tensor *small_state = dev_new(ctx, LIP_INT32, 1, &one);
    lip_bjorck_config cfg = lip_bjorck_config_default(), bad;
    size_t wsn = lip_bjorck_workspace_floats(6, 4, cfg.maxiter), small = wsn - 1;
    lip_tensor *ws = dev_new(ctx, LIP_FLOAT32, 1, &wsn), *ws_small = dev_new(ctx, LIP_FLOAT32, 1, &small);
    lip_tensor *ws_int = dev_new(ctx, LIP_INT32, 1, &wsn);

    const float betas[] = {0.0f, -0.1f, 0.5000001f, 0.75f, NAN};
    for (size_t i = 0; i < sizeof betas / sizeof betas[0]; i++) {
        bad = cfg;
        bad.beta = betas[i];
        CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE(ctx, "outside (0, 0.5]");
        CHECK_STATUS(lip_bjorck_backward(ctx, &bad, state, ws, out, out), LIP_ERR_INVALID_ARGUMENT);
    }
    bad = cfg;
    bad.beta = 0.5f; /* the bound itself is allowed */
    CHECK_OK(lip_bjorck_forward(ctx, &bad, w, out, state, ws));
    bad.eps = 0.0f;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "eps = 0 must be finite and > 0");
    bad.eps = -1.0f;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad.eps = INFINITY;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad.stopping = LIP_STOPPING_FIXED; /* eps is not used by the fixed rule */
    bad.eps = 0.0f;
    CHECK_OK(lip_bjorck_forward(ctx, &bad, w, out, state, ws));
    bad = cfg;
    bad.maxiter = 0;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "maxiter = 0 outside 1..");
    bad.maxiter = -3;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    bad = cfg;
    bad.stopping = (lip_stopping)5;
    CHECK_STATUS(lip_bjorck_forward(ctx, &bad, w, out, state, ws), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "stopping rule");
    CHECK_STATUS(lip_bjorck_forward(ctx, NULL, w, out, state, ws), LIP_ERR_NULL);
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out_bad, state, ws), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "w_out (5, 4)");
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, w, out_t, state, ws)); /* same count: a reshape is fine */
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, fstate, ws), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "state");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, small_state, ws), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "at least 2 int32");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, state, ws_small), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "lip_bjorck_workspace_floats");
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, w, out, state, ws_int), LIP_ERR_DTYPE);
    CHECK_STATUS(lip_bjorck_forward(ctx, &cfg, NULL, out, state, ws), LIP_ERR_NULL);
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, NULL, w, out), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "workspace is NULL");
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, ws, w, out_bad), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_bjorck_backward(ctx, &cfg, state, ws_small, w, out), LIP_ERR_SHAPE);
    bad = cfg;
    bad.maxiter = 30; /* the workspace was sized for 15 */
    CHECK_STATUS(lip_bjorck_backward(ctx, &bad, state, ws, w, out), LIP_ERR_SHAPE);
    CHECK_OK(lip_bjorck_forward(ctx, &cfg, w, out, state, ws));
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, state, ws, w, out));
    lip_tensor *ts[] = {w, out, out_t, out_bad, state, fstate, small_state, ws, ws_small, ws_int};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) lip_tensor_free(ts[i]);
}

/* ---- timing --------------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void time_shape(lip_context *ctx, int ndim, const size_t *shape, int reps) {
    size_t cols = shape[ndim - 1], n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t rows = n / cols;
    float *wf = falloc(n);
    random_normalized(wf, rows, cols, 0.99);
    lip_bjorck_config cfg = lip_bjorck_config_default();
    cfg.stopping = LIP_STOPPING_FIXED; /* all 15 iterations: the worst case */
    bj_dev d;
    bj_dev_forward(ctx, &d, ndim, shape, wf, &cfg, NULL, NULL);
    lip_tensor *g = dev_upload(ctx, ndim, shape, wf), *dw = dev_new(ctx, LIP_FLOAT32, ndim, shape);
    CHECK_OK(lip_bjorck_backward(ctx, &cfg, d.state, d.ws, g, dw));
    CHECK_OK(lip_context_finish(ctx));
    double best_f = 1e9, best_b = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        CHECK_OK(lip_bjorck_forward(ctx, &cfg, d.w, d.out, d.state, d.ws));
        CHECK_OK(lip_context_finish(ctx));
        double t1 = now_s();
        CHECK_OK(lip_bjorck_backward(ctx, &cfg, d.state, d.ws, g, dw));
        CHECK_OK(lip_context_finish(ctx));
        double t2 = now_s();
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t1 < best_b) best_b = t2 - t1;
    }
    printf("timing: bjorck %zux%zu (%d-D tensor), 15 iterations: forward %.2f ms, backward %.2f ms (best of %d)\n",
           rows, cols, ndim, 1e3 * best_f, 1e3 * best_b, reps);
    lip_tensor_free(g);
    lip_tensor_free(dw);
    bj_dev_free(&d);
    free(wf);
}

int main(int argc, char **argv) {
    rng = test_seed(20240612);
    lip_context *ctx = test_context();
    if (argc > 1 && is_case_folder(argv[1])) { /* one reference case: its own CTest entry */
        CHECK(run_case(ctx, argv[1]) + run_chain_case(ctx, argv[1]) >= 1);
        test_context_free(ctx);
        return test_finish("test_bjorck");
    }
    const char *root = argc > 1 ? argv[1] : LIPCL_SOURCE_DIR "/tests/reference";
    test_reference_cases(ctx, root);

    const size_t shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {13, 13}, {129, 5}, {5, 129}, {257, 64}, {64, 257}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(ctx, shapes[i][0], shapes[i][1]);
    test_gradcheck(ctx, 7, 3, 0.9, 0);
    test_gradcheck(ctx, 3, 7, 0.9, 0);
    test_gradcheck(ctx, 5, 5, 0.9, 0);
    test_gradcheck(ctx, 11, 2, 0.9, 0);
    test_gradcheck(ctx, 1, 1, 0.4, 2); /* converged scalars have a vanishing gradient: stop early */
    test_gradcheck(ctx, 6, 4, 0.7, 15);
    test_chain_gradcheck(ctx, 8, 5);
    test_chain_gradcheck(ctx, 4, 9);
    test_orthogonality(ctx, 40, 12);
    test_orthogonality(ctx, 12, 40);
    test_orthogonality(ctx, 16, 16);
    test_special(ctx);
    test_bad_arguments(ctx);
    const char *dbg = getenv("LIPCL_DEBUG_BOUNDS");
    int reps = dbg && *dbg == '1' ? 1 : 3;
    const size_t dense[2] = {784, 128}, conv[4] = {3, 3, 64, 64};
    time_shape(ctx, 2, dense, reps);
    time_shape(ctx, 4, conv, reps);
    test_context_free(ctx);
    return test_finish("test_bjorck");
}
