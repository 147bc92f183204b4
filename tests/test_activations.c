/* lipcl tests — Lipschitz activations (GroupSort(n), GroupSort2, FullSort, MaxMin, Householder, PReLUlip,
 * ReLU): double host references, finite differences, Lipschitz bounds, bad input (golden cases: refrun/). */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"
#include "layers/activations.h"
#include "refcase.h"

static lip_context *ctx;
static uint64_t rng;

/* Tolerance of every device-vs-reference comparison (tests/reference/README.md). */
#define ATOL REFCASE_ATOL
#define RTOL REFCASE_RTOL
/* Finite differences: step, distance to a kink below which a point is skipped, elements sampled. */
#define FD_H 1e-6
#define FD_KINK 1e-3
#define FD_SAMPLES 24

static const double PI = 3.14159265358979323846;

/* ---- tensors ---------------------------------------------------------------------------------- */

/* Float32 tensors on the test context; new ones hold a sentinel, so unwritten outputs show. */
static lip_tensor *tensor_new(lip_dtype dtype, int ndim, const size_t *shape) {
    return test_sentinel(ctx, dtype, ndim, shape);
}
static lip_tensor *tensor_up(int ndim, const size_t *shape, const float *h) { return test_upload(ctx, ndim, shape, h); }

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) exit(1);
    return p;
}

static size_t shape_count(int ndim, const size_t *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static const char *shape_str(int ndim, const size_t *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++) used += (size_t)snprintf(buf + used, size - used, i ? ", %zu" : "%zu", shape[i]);
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

/* ---- host references in double ---------------------------------------------------------------- */

/* The sort order of the kernels: numbers ascending, NaNs last, ties by channel (stable). */
static int before(double a, double b) { return a < b || (isnan(b) && !isnan(a)); }

static size_t ref_rank(const double *x, size_t e, size_t group) {
    size_t i = e % group, base = e - i, r = 0;
    for (size_t j = 0; j < group; j++) r += before(x[base + j], x[e]) || (j < i && !before(x[e], x[base + j]));
    return r;
}

static void ref_groupsort(const double *x, size_t count, size_t group, double k, double *y) {
    for (size_t e = 0; e < count; e++) y[e - e % group + ref_rank(x, e, group)] = k * x[e];
}

static void ref_groupsort_backward(const double *x, const double *g, size_t count, size_t group, double k, double *dx) {
    for (size_t e = 0; e < count; e++) dx[e] = k * g[e - e % group + ref_rank(x, e, group)];
}

static void ref_maxmin(const double *x, size_t rows, size_t c, double k, double *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            double v = x[r * c + j];
            y[r * 2 * c + j] = k * (v > 0 ? v : 0.0);
            y[r * 2 * c + c + j] = k * (v < 0 ? -v : 0.0);
        }
}

static void ref_maxmin_backward(const double *x, const double *g, size_t rows, size_t c, double k, double *dx) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            double v = x[r * c + j];
            dx[r * c + j] = k * (v > 0 ? g[r * 2 * c + j] : (v < 0 ? -g[r * 2 * c + c + j] : 0.0));
        }
}

static int householder_reflects(double z1, double z2, double t) { return !(z1 * sin(t / 2) - z2 * cos(t / 2) <= 0); }

static void ref_householder(const double *x, const double *theta, size_t rows, size_t c, double *y) {
    size_t h = c / 2;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < h; j++) {
            double z1 = x[r * c + j], z2 = x[r * c + h + j], t = theta[j];
            int refl = householder_reflects(z1, z2, t);
            y[r * c + j] = refl ? z1 * cos(t) + z2 * sin(t) : z1;
            y[r * c + h + j] = refl ? z1 * sin(t) - z2 * cos(t) : z2;
        }
}

static void ref_householder_backward(const double *x, const double *theta, const double *g, size_t rows, size_t c,
                                     double *dx, double *dtheta) {
    size_t h = c / 2;
    for (size_t j = 0; j < h; j++) dtheta[j] = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < h; j++) {
            double z1 = x[r * c + j], z2 = x[r * c + h + j], t = theta[j];
            double g1 = g[r * c + j], g2 = g[r * c + h + j];
            if (householder_reflects(z1, z2, t)) {
                dx[r * c + j] = g1 * cos(t) + g2 * sin(t);
                dx[r * c + h + j] = g1 * sin(t) - g2 * cos(t);
                dtheta[j] += g1 * (z2 * cos(t) - z1 * sin(t)) + g2 * (z1 * cos(t) + z2 * sin(t));
            } else {
                dx[r * c + j] = g1;
                dx[r * c + h + j] = g2;
            }
        }
}

static void ref_prelu(const double *x, const double *alpha, size_t count, size_t a, double *y) {
    for (size_t e = 0; e < count; e++) y[e] = x[e] < 0 ? alpha[e % a] * x[e] : x[e];
}

static void ref_prelu_backward(const double *x, const double *alpha, const double *g, size_t count, size_t a, double *dx,
                               double *dalpha) {
    for (size_t j = 0; j < a; j++) dalpha[j] = 0;
    for (size_t e = 0; e < count; e++) {
        dx[e] = x[e] > 0 ? g[e] : (x[e] < 0 ? alpha[e % a] * g[e] : 0.0);
        if (x[e] < 0) dalpha[e % a] += g[e] * x[e];
    }
}

static void ref_relu(const double *x, size_t count, double *y) {
    for (size_t e = 0; e < count; e++) y[e] = x[e] > 0 ? x[e] : 0.0;
}

static void ref_relu_backward(const double *x, const double *g, size_t count, double *dx) {
    for (size_t e = 0; e < count; e++) dx[e] = x[e] > 0 ? g[e] : 0.0;
}

/* ---- one op: host reference and device calls behind one interface ---------------------------- */

typedef enum { OP_GROUPSORT, OP_MAXMIN, OP_HOUSEHOLDER, OP_PRELU, OP_RELU } op_kind;

typedef struct op_t {
    op_kind kind;
    size_t n;          /* GroupSort n (0: FullSort) */
    double k;          /* k_coef_lip (GroupSort, MaxMin) */
    int ndim;
    size_t shape[4];   /* input shape */
    size_t pcount;     /* θ or α elements (0: none) */
    int pndim;
    size_t pshape[4];
} op_t;

static size_t op_channels(const op_t *op) { return op->shape[op->ndim - 1]; }
static size_t op_in_count(const op_t *op) { return shape_count(op->ndim, op->shape); }
static size_t op_out_count(const op_t *op) { return op_in_count(op) * (op->kind == OP_MAXMIN ? 2 : 1); }

static size_t op_group(const op_t *op) {
    size_t c = op_channels(op);
    return (op->n == 0 || op->n > c) ? c : op->n;
}

static void op_name(const op_t *op, char *buf, size_t size) {
    char s[64];
    shape_str(op->ndim, op->shape, s, sizeof s);
    switch (op->kind) {
    case OP_GROUPSORT: snprintf(buf, size, "GroupSort(n=%zu, k=%g) x%s", op->n, op->k, s); break;
    case OP_MAXMIN: snprintf(buf, size, "MaxMin(k=%g) x%s", op->k, s); break;
    case OP_HOUSEHOLDER: snprintf(buf, size, "Householder x%s", s); break;
    case OP_PRELU: snprintf(buf, size, "PReLU(alpha %zu) x%s", op->pcount, s); break;
    case OP_RELU: snprintf(buf, size, "ReLU x%s", s); break;
    }
}

static void host_forward(const op_t *op, const double *x, const double *p, double *y) {
    size_t n = op_in_count(op), c = op_channels(op);
    switch (op->kind) {
    case OP_GROUPSORT: ref_groupsort(x, n, op_group(op), op->k, y); break;
    case OP_MAXMIN: ref_maxmin(x, n / c, c, op->k, y); break;
    case OP_HOUSEHOLDER: ref_householder(x, p, n / c, c, y); break;
    case OP_PRELU: ref_prelu(x, p, n, op->pcount, y); break;
    case OP_RELU: ref_relu(x, n, y); break;
    }
}

static void host_backward(const op_t *op, const double *x, const double *p, const double *g, double *dx, double *dp) {
    size_t n = op_in_count(op), c = op_channels(op);
    switch (op->kind) {
    case OP_GROUPSORT: ref_groupsort_backward(x, g, n, op_group(op), op->k, dx); break;
    case OP_MAXMIN: ref_maxmin_backward(x, g, n / c, c, op->k, dx); break;
    case OP_HOUSEHOLDER: ref_householder_backward(x, p, g, n / c, c, dx, dp); break;
    case OP_PRELU: ref_prelu_backward(x, p, g, n, op->pcount, dx, dp); break;
    case OP_RELU: ref_relu_backward(x, g, n, dx); break;
    }
}

static lip_status dev_forward(const op_t *op, const lip_tensor *p, const lip_tensor *x, lip_tensor *y) {
    switch (op->kind) {
    case OP_GROUPSORT: return lip_groupsort_forward(ctx, op->n, (float)op->k, x, y, NULL);
    case OP_MAXMIN: return lip_maxmin_forward(ctx, (float)op->k, x, y);
    case OP_HOUSEHOLDER: return lip_householder_forward(ctx, p, x, y);
    case OP_PRELU: return lip_prelu_forward(ctx, p, x, y);
    case OP_RELU: return lip_relu_forward(ctx, x, y);
    }
    return LIP_ERR_INTERNAL;
}

static lip_status dev_backward(const op_t *op, const lip_tensor *p, const lip_tensor *x, const lip_tensor *g,
                               lip_tensor *dx, lip_tensor *dp) {
    switch (op->kind) {
    case OP_GROUPSORT: return lip_groupsort_backward(ctx, op->n, (float)op->k, x, NULL, g, dx);
    case OP_MAXMIN: return lip_maxmin_backward(ctx, (float)op->k, x, g, dx);
    case OP_HOUSEHOLDER: return lip_householder_backward(ctx, p, x, g, dx, dp, 0);
    case OP_PRELU: return lip_prelu_backward(ctx, p, x, g, dx, dp, 0);
    case OP_RELU: return lip_relu_backward(ctx, x, g, dx);
    }
    return LIP_ERR_INTERNAL;
}

/* Whether input e sits within FD_KINK of a point where the op is not differentiable. */
static int near_kink(const op_t *op, const double *x, const double *p, size_t e) {
    size_t c = op_channels(op);
    switch (op->kind) {
    case OP_GROUPSORT: {
        size_t g = op_group(op), base = e - e % g;
        for (size_t j = base; j < base + g; j++)
            if (j != e && fabs(x[j] - x[e]) < FD_KINK) return 1;
        return 0;
    }
    case OP_MAXMIN:
    case OP_PRELU:
    case OP_RELU: return fabs(x[e]) < FD_KINK;
    case OP_HOUSEHOLDER: {
        size_t h = c / 2, j = e % c, r = e / c, jj = j % h;
        double z1 = x[r * c + jj], z2 = x[r * c + h + jj], t = p[jj];
        return fabs(z1 * sin(t / 2) - z2 * cos(t / 2)) < FD_KINK;
    }
    }
    return 1;
}

/* L = Σ y·g on the host. */
static double host_loss(const op_t *op, const double *x, const double *p, const double *g, double *ybuf) {
    host_forward(op, x, p, ybuf);
    double s = 0;
    for (size_t i = 0; i < op_out_count(op); i++) s += ybuf[i] * g[i];
    return s;
}

/* Lipschitz constant the op claims (L2), given its parameters. */
static double op_bound(const op_t *op, const double *p) {
    switch (op->kind) {
    case OP_GROUPSORT:
    case OP_MAXMIN: return op->k;
    case OP_HOUSEHOLDER:
    case OP_RELU: return 1.0;
    case OP_PRELU: {
        double m = 1.0;
        for (size_t j = 0; j < op->pcount; j++) m = fmax(m, fabs(p[j]));
        return m;
    }
    }
    return 0;
}

/*
 * The whole check of one op on one shape: device forward and backward against the host reference,
 * finite differences of the host forward against the device backward (inputs and parameters),
 * the GroupSort ranks path, determinism, and the Lipschitz bound on random pairs.
 * `param` (pcount values) is θ or α; NULL for ops without one.
 */
static void check_op(const op_t *op, const float *param) {
    char name[160];
    op_name(op, name, sizeof name);
    size_t n = op_in_count(op), m = op_out_count(op);
    size_t oshape[4];
    memcpy(oshape, op->shape, sizeof oshape);
    if (op->kind == OP_MAXMIN) oshape[op->ndim - 1] *= 2;

    float *xf = test_falloc(n), *gf = test_falloc(m);
    test_fill_uniform(&rng, xf, n, -2.0, 2.0);
    test_fill_uniform(&rng, gf, m, -1.0, 1.0);
    double *x = test_to_double(xf, n), *g = test_to_double(gf, m), *p = NULL;
    lip_tensor *xt = tensor_up(op->ndim, op->shape, xf), *gt = tensor_up(op->ndim, oshape, gf);
    lip_tensor *yt = tensor_new(LIP_FLOAT32, op->ndim, oshape), *dxt = tensor_new(LIP_FLOAT32, op->ndim, op->shape);
    lip_tensor *pt = NULL, *dpt = NULL;
    if (op->pcount) {
        p = test_to_double(param, op->pcount);
        pt = tensor_up(op->pndim, op->pshape, param);
        dpt = tensor_new(LIP_FLOAT32, op->pndim, op->pshape);
    }
    double *y = dalloc(m), *dx = dalloc(n), *dp = dalloc(op->pcount), *ybuf = dalloc(m);
    char what[256];

    /* forward and backward against the host reference */
    CHECK_OK(dev_forward(op, pt, xt, yt));
    float *got = test_download(yt);
    host_forward(op, x, p, y);
    snprintf(what, sizeof what, "%s: forward", name);
    test_compare(what, got, y, m, ATOL, RTOL);
    free(got);
    CHECK_OK(dev_backward(op, pt, xt, gt, dxt, dpt));
    float *gdx = test_download(dxt);
    host_backward(op, x, p, g, dx, dp);
    snprintf(what, sizeof what, "%s: dx", name);
    test_compare(what, gdx, dx, n, ATOL, RTOL);
    float *gdp = NULL;
    if (op->pcount) {
        gdp = test_download(dpt);
        double scale = 0;
        for (size_t j = 0; j < op->pcount; j++) scale = fmax(scale, fabs(dp[j]));
        snprintf(what, sizeof what, "%s: dparam", name);
        /* a sum over every row: absolute error relative to the largest value */
        test_compare(what, gdp, dp, op->pcount, ATOL + 1e-5 * scale, RTOL);
    }

    /* finite differences of the host forward vs the device backward */
    size_t checked = 0, skipped = 0;
    double worst = 0;
    for (size_t s = 0; s < FD_SAMPLES && s < n; s++) {
        size_t e = n <= FD_SAMPLES ? s : (size_t)test_uniform(&rng, 0, (double)n);
        if (near_kink(op, x, p, e)) {
            skipped++;
            continue;
        }
        double keep = x[e];
        x[e] = keep + FD_H;
        double lp = host_loss(op, x, p, g, ybuf);
        x[e] = keep - FD_H;
        double lm = host_loss(op, x, p, g, ybuf);
        x[e] = keep;
        double fd = (lp - lm) / (2 * FD_H), err = fabs(gdx[e] - fd) - (ATOL + RTOL * fabs(fd));
        checked++;
        if (err > worst) worst = err;
        if (!(err <= 0)) {
            fprintf(stderr, "%s: dx[%zu] = %.9g, finite difference %.9g\n", name, e, (double)gdx[e], fd);
            test_failures++;
        }
    }
    for (size_t j = 0; j < op->pcount && j < 8; j++) {
        int kink = 0;
        for (size_t e = 0; e < n && !kink; e++) kink = near_kink(op, x, p, e) && (e % op->pcount == j || op->kind == OP_HOUSEHOLDER);
        double keep = p[j];
        p[j] = keep + FD_H;
        double lp = host_loss(op, x, p, g, ybuf);
        p[j] = keep - FD_H;
        double lm = host_loss(op, x, p, g, ybuf);
        p[j] = keep;
        double fd = (lp - lm) / (2 * FD_H), scale = 0;
        for (size_t i = 0; i < op->pcount; i++) scale = fmax(scale, fabs(dp[i]));
        if (kink && fabs(fd - dp[j]) > 1e-6 * (1 + scale)) { /* a reflection test flipped: skip */
            skipped++;
            continue;
        }
        checked++;
        if (!(fabs(gdp[j] - fd) <= ATOL + 1e-5 * scale + RTOL * fabs(fd))) {
            fprintf(stderr, "%s: dparam[%zu] = %.9g, finite difference %.9g\n", name, j, (double)gdp[j], fd);
            test_failures++;
        }
    }
    test_checks++;
    if (checked == 0 && n > 4) {
        fprintf(stderr, "%s: every finite-difference point was skipped\n", name);
        test_failures++;
    }

    /* GroupSort: the ranks path gives the same bits as the recomputing path. */
    if (op->kind == OP_GROUPSORT) {
        lip_tensor *rt = tensor_new(LIP_INT32, op->ndim, op->shape), *y2 = tensor_new(LIP_FLOAT32, op->ndim, op->shape);
        lip_tensor *dx2 = tensor_new(LIP_FLOAT32, op->ndim, op->shape);
        CHECK_OK(lip_groupsort_forward(ctx, op->n, (float)op->k, xt, y2, rt));
        CHECK_OK(lip_groupsort_backward(ctx, op->n, (float)op->k, NULL, rt, gt, dx2));
        float *a = test_download(yt), *b = test_download(y2), *c = test_download(dx2);
        CHECK(memcmp(a, b, n * sizeof *a) == 0);
        CHECK(memcmp(c, gdx, n * sizeof *c) == 0);
        int32_t *r = malloc(n * sizeof *r);
        if (!r) exit(1);
        REQUIRE_OK(lip_tensor_download(rt, r, n * sizeof *r));
        size_t bad = 0;
        for (size_t e = 0; e < n; e++) bad += (size_t)r[e] != ref_rank(x, e, op_group(op));
        CHECK(bad == 0);
        free(r);
        free(a);
        free(b);
        free(c);
        lip_tensor_free(rt);
        lip_tensor_free(y2);
        lip_tensor_free(dx2);
    }

    /* determinism: the backward again gives the same bits */
    if (op->pcount) {
        CHECK_OK(dev_backward(op, pt, xt, gt, dxt, dpt));
        float *again = test_download(dpt), *again_dx = test_download(dxt);
        CHECK(memcmp(again, gdp, op->pcount * sizeof *again) == 0);
        CHECK(memcmp(again_dx, gdx, n * sizeof *again_dx) == 0);
        free(again);
        free(again_dx);
    }

    /* Lipschitz: ‖f(a) − f(b)‖ ≤ K‖a − b‖ on random pairs, far apart and close. */
    double bound = op_bound(op, p), worst_ratio = 0;
    float *af = test_falloc(n), *bf = test_falloc(n);
    lip_tensor *at = tensor_new(LIP_FLOAT32, op->ndim, op->shape), *bt = tensor_new(LIP_FLOAT32, op->ndim, op->shape);
    lip_tensor *fa = tensor_new(LIP_FLOAT32, op->ndim, oshape), *fb = tensor_new(LIP_FLOAT32, op->ndim, oshape);
    for (int pair = 0; pair < 6; pair++) {
        double spread = pair < 3 ? 2.0 : 1e-2;
        test_fill_uniform(&rng, af, n, -2.0, 2.0);
        for (size_t i = 0; i < n; i++) bf[i] = af[i] + (float)test_uniform(&rng, -spread, spread);
        REQUIRE_OK(lip_tensor_upload(at, af, n * sizeof *af));
        REQUIRE_OK(lip_tensor_upload(bt, bf, n * sizeof *bf));
        CHECK_OK(dev_forward(op, pt, at, fa));
        CHECK_OK(dev_forward(op, pt, bt, fb));
        float *ya = test_download(fa), *yb = test_download(fb);
        double num = 0, den = 0;
        for (size_t i = 0; i < m; i++) num += ((double)ya[i] - yb[i]) * ((double)ya[i] - yb[i]);
        for (size_t i = 0; i < n; i++) den += ((double)af[i] - bf[i]) * ((double)af[i] - bf[i]);
        double ratio = den > 0 ? sqrt(num / den) : 0;
        if (ratio > worst_ratio) worst_ratio = ratio;
        free(ya);
        free(yb);
    }
    test_checks++;
    if (!(worst_ratio <= bound * (1 + 1e-4))) {
        fprintf(stderr, "%s: Lipschitz ratio %.9g exceeds the bound %.9g\n", name, worst_ratio, bound);
        test_failures++;
    }
    free(af);
    free(bf);
    lip_tensor_free(at);
    lip_tensor_free(bt);
    lip_tensor_free(fa);
    lip_tensor_free(fb);

    free(gdx);
    free(gdp);
    free(xf);
    free(gf);
    free(x);
    free(g);
    free(p);
    free(y);
    free(dx);
    free(dp);
    free(ybuf);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(yt);
    lip_tensor_free(dxt);
    lip_tensor_free(pt);
    lip_tensor_free(dpt);
    (void)skipped;
    (void)worst;
}

/* ---- awkward shapes --------------------------------------------------------------------------- */

static op_t make_op(op_kind kind, int ndim, const size_t *shape) {
    op_t op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.k = 1.0;
    op.ndim = ndim;
    memcpy(op.shape, shape, (size_t)ndim * sizeof *shape);
    return op;
}

static void test_shapes(void) {
    static const size_t channels[] = {2, 6, 12, 14};
    static const size_t spatial[][3] = {{1, 1, 1}, {3, 7, 5}, {1, 13, 13}, {3, 1, 1}};
    for (size_t ci = 0; ci < sizeof channels / sizeof channels[0]; ci++)
        for (size_t si = 0; si < sizeof spatial / sizeof spatial[0]; si++) {
            size_t c = channels[ci];
            size_t s4[4] = {spatial[si][0], spatial[si][1], spatial[si][2], c}, s2[2] = {spatial[si][0], c};
            /* 4-D NHWC for the first three, 2-D (batch, C) for the last */
            int ndim = si == 3 ? 2 : 4;
            const size_t *shape = ndim == 4 ? s4 : s2;

            static const size_t ns[] = {0, 2, 3, 4, 7, 20};
            static const double ks[] = {1.0, 2.5, 0.5};
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
                size_t nn = ns[ni];
                if (nn && nn <= c && c % nn) continue;
                op_t op = make_op(OP_GROUPSORT, ndim, shape);
                op.n = nn;
                op.k = ks[(ni + ci) % 3];
                check_op(&op, NULL);
            }
            op_t mm = make_op(OP_MAXMIN, ndim, shape);
            mm.k = ks[(si + ci) % 3];
            check_op(&mm, NULL);
            op_t rl = make_op(OP_RELU, ndim, shape);
            check_op(&rl, NULL);

            /* Householder: θ random, π/2 (GroupSort2 on the half-split pairs), 0 */
            op_t hh = make_op(OP_HOUSEHOLDER, ndim, shape);
            hh.pcount = c / 2;
            hh.pndim = 1;
            hh.pshape[0] = c / 2;
            float *theta = test_falloc(c / 2);
            test_fill_uniform(&rng, theta, c / 2, -3.2, 3.2);
            if (si == 1) theta[0] = (float)(PI / 2);
            check_op(&hh, theta);
            free(theta);

            /* PReLU: one slope, one per channel, one per position (Keras' default) */
            for (int mode = 0; mode < 3; mode++) {
                op_t pr = make_op(OP_PRELU, ndim, shape);
                if (mode == 0) {
                    pr.pcount = 1;
                    pr.pndim = 1;
                    pr.pshape[0] = 1;
                } else if (mode == 1 || ndim == 2) {
                    pr.pcount = c;
                    pr.pndim = 1;
                    pr.pshape[0] = c;
                } else {
                    pr.pndim = 3;
                    pr.pshape[0] = shape[1];
                    pr.pshape[1] = shape[2];
                    pr.pshape[2] = c;
                    pr.pcount = shape[1] * shape[2] * c;
                }
                float *alpha = test_falloc(pr.pcount);
                test_fill_uniform(&rng, alpha, pr.pcount, -0.9, 0.9);
                check_op(&pr, alpha);
                free(alpha);
            }
        }
    /* a wide FullSort and GroupSort(16) */
    size_t wide[2] = {5, 64};
    op_t fs = make_op(OP_GROUPSORT, 2, wide);
    check_op(&fs, NULL);
    fs.n = 16;
    check_op(&fs, NULL);
}

/* GroupSort with ties (values on a coarse grid): still a permutation, the stable order of the host. */
static void test_ties(void) {
    size_t shape[2] = {7, 12}, n = 84;
    float *xf = test_falloc(n), *gf = test_falloc(n);
    for (size_t i = 0; i < n; i++) xf[i] = (float)(0.5 * floor(test_uniform(&rng, -3, 3)));
    test_fill_uniform(&rng, gf, n, -1, 1);
    double *x = test_to_double(xf, n), *g = test_to_double(gf, n), *y = dalloc(n), *dx = dalloc(n);
    lip_tensor *xt = tensor_up(2, shape, xf), *gt = tensor_up(2, shape, gf);
    lip_tensor *yt = tensor_new(LIP_FLOAT32, 2, shape), *dxt = tensor_new(LIP_FLOAT32, 2, shape);
    static const size_t ns[] = {2, 3, 4, 0};
    for (size_t i = 0; i < 4; i++) {
        size_t group = ns[i] ? ns[i] : 12;
        CHECK_OK(lip_groupsort_forward(ctx, ns[i], 1.0f, xt, yt, NULL));
        CHECK_OK(lip_groupsort_backward(ctx, ns[i], 1.0f, xt, NULL, gt, dxt));
        ref_groupsort(x, n, group, 1.0, y);
        ref_groupsort_backward(x, g, n, group, 1.0, dx);
        float *gy = test_download(yt), *gdx = test_download(dxt);
        char what[64];
        snprintf(what, sizeof what, "GroupSort(%zu) with ties: forward", ns[i]);
        test_compare(what, gy, y, n, 0, 0);
        snprintf(what, sizeof what, "GroupSort(%zu) with ties: dx", ns[i]);
        test_compare(what, gdx, dx, n, 0, 0);
        /* the gradient is a permutation of g: same sum */
        double sg = 0, sd = 0;
        for (size_t e = 0; e < n; e++) {
            sg += gf[e];
            sd += gdx[e];
        }
        CHECK_NEAR(sd, sg, 1e-9);
        free(gy);
        free(gdx);
    }
    free(xf);
    free(gf);
    free(x);
    free(g);
    free(y);
    free(dx);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(yt);
    lip_tensor_free(dxt);
}

/* PReLUlip's constraint: Keras MinMaxNorm(−k, k) on α's axis 0, then the layer is max(1, k)-Lipschitz. */
static void test_prelu_constrain(void) {
    static const size_t shapes[][3] = {{6, 0, 0}, {1, 1, 6}, {3, 2, 4}};
    static const int ndims[] = {1, 3, 3};
    static const double ks[] = {1.0, 0.5, 2.0};
    for (int si = 0; si < 3; si++)
        for (int ki = 0; ki < 3; ki++) {
            size_t a = shape_count(ndims[si], shapes[si]), rows = shapes[si][0], cols = a / rows;
            float *af = test_falloc(a);
            test_fill_uniform(&rng, af, a, -3.0, 3.0);
            af[0] = 0.01f; /* a column with a small norm is scaled by norm/(1e-7 + norm) */
            lip_tensor *at = tensor_up(ndims[si], shapes[si], af);
            CHECK_OK(lip_prelu_constrain(ctx, (float)ks[ki], at));
            float *got = test_download(at);
            double *ref = test_to_double(af, a);
            for (size_t j = 0; j < cols; j++) {
                double sq = 0;
                for (size_t r = 0; r < rows; r++) sq += (double)af[r * cols + j] * af[r * cols + j];
                double norm = sqrt(sq), f = fmin(norm, ks[ki]) / (1e-7 + norm);
                for (size_t r = 0; r < rows; r++) ref[r * cols + j] *= f;
            }
            char what[96];
            snprintf(what, sizeof what, "PReLUlip constrain alpha %zu elements k=%g", a, ks[ki]);
            test_compare(what, got, ref, a, 1e-7, 1e-6);
            size_t bad = 0;
            for (size_t i = 0; i < a; i++) bad += !(fabs(got[i]) <= ks[ki] * (1 + 1e-6));
            CHECK(bad == 0);
            /* the constrained layer on an input whose trailing axes match α */
            if (ndims[si] == 3) {
                size_t xs[4] = {2, shapes[si][0], shapes[si][1], shapes[si][2]};
                op_t pr = make_op(OP_PRELU, 4, xs);
                pr.pcount = a;
                pr.pndim = 3;
                memcpy(pr.pshape, shapes[si], 3 * sizeof(size_t));
                check_op(&pr, got);
            }
            free(af);
            free(got);
            free(ref);
            lip_tensor_free(at);
        }
}

/* Accumulating parameter gradients adds to what is there; dx may be omitted. */
static void test_accumulate(void) {
    size_t shape[2] = {300, 6}, n = 1800, hs[1] = {3}, cs[1] = {6};
    float *xf = test_falloc(n), *gf = test_falloc(n);
    float th[3] = {0.3f, -1.2f, 2.0f}, al[6] = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f};
    test_fill_uniform(&rng, xf, n, -2, 2);
    test_fill_uniform(&rng, gf, n, -1, 1);
    lip_tensor *xt = tensor_up(2, shape, xf), *gt = tensor_up(2, shape, gf);
    lip_tensor *tt = tensor_up(1, hs, th), *at = tensor_up(1, cs, al);
    lip_tensor *d1 = tensor_new(LIP_FLOAT32, 1, hs), *d2 = tensor_new(LIP_FLOAT32, 1, hs);
    lip_tensor *e1 = tensor_new(LIP_FLOAT32, 1, cs), *e2 = tensor_new(LIP_FLOAT32, 1, cs);
    CHECK_OK(lip_householder_backward(ctx, tt, xt, gt, NULL, d1, 0));
    REQUIRE_OK(lip_tensor_fill(d2, 0.25));
    CHECK_OK(lip_householder_backward(ctx, tt, xt, gt, NULL, d2, 1));
    CHECK_OK(lip_prelu_backward(ctx, at, xt, gt, NULL, e1, 0));
    REQUIRE_OK(lip_tensor_fill(e2, -1.0));
    CHECK_OK(lip_prelu_backward(ctx, at, xt, gt, NULL, e2, 1));
    float *a = test_download(d1), *b = test_download(d2), *c = test_download(e1), *d = test_download(e2);
    for (int j = 0; j < 3; j++) CHECK_NEAR(b[j], a[j] + 0.25, 1e-5 * (1 + fabs(a[j])));
    for (int j = 0; j < 6; j++) CHECK_NEAR(d[j], c[j] - 1.0, 1e-5 * (1 + fabs(c[j])));
    /* nothing wanted: nothing to do */
    CHECK_OK(lip_householder_backward(ctx, tt, xt, gt, NULL, NULL, 0));
    free(a);
    free(b);
    free(c);
    free(d);
    free(xf);
    free(gf);
    lip_tensor_free(xt);
    lip_tensor_free(gt);
    lip_tensor_free(tt);
    lip_tensor_free(at);
    lip_tensor_free(d1);
    lip_tensor_free(d2);
    lip_tensor_free(e1);
    lip_tensor_free(e2);
}

/* ---- bad input ---------------------------------------------------------------------------------- */

static void test_errors(void) {
    size_t s6[2] = {4, 6}, s12[2] = {4, 12}, s5[2] = {4, 5}, s3[1] = {3}, s2[1] = {2}, s4[1] = {4};
    lip_tensor *x6 = tensor_new(LIP_FLOAT32, 2, s6), *y6 = tensor_new(LIP_FLOAT32, 2, s6);
    lip_tensor *y12 = tensor_new(LIP_FLOAT32, 2, s12), *x5 = tensor_new(LIP_FLOAT32, 2, s5);
    lip_tensor *i6 = tensor_new(LIP_INT32, 2, s6), *t3 = tensor_new(LIP_FLOAT32, 1, s3);
    lip_tensor *t2 = tensor_new(LIP_FLOAT32, 1, s2), *a4 = tensor_new(LIP_FLOAT32, 1, s4);

    CHECK_STATUS(lip_groupsort_forward(ctx, 4, 1.0f, x6, y6, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "GroupSort(4): 6 channels is not a multiple of 4");
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 1.0f, x6, y12, NULL), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "GroupSort(2): y (4, 12) must have the shape of x (4, 6)");
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 0.0f, x6, y6, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "k_coef_lip must be finite and > 0");
    CHECK_STATUS(lip_groupsort_forward(ctx, 0, NAN, x6, y6, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "FullSort");
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 1.0f, x6, x6, NULL), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "y must not be the same tensor as x");
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 1.0f, i6, y6, NULL), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "GroupSort(2): x is int32");
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 1.0f, NULL, y6, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_groupsort_forward(ctx, 2, 1.0f, x6, y6, y6), LIP_ERR_DTYPE);
    CHECK_MESSAGE(ctx, "ranks");
    CHECK_STATUS(lip_groupsort_backward(ctx, 2, 1.0f, NULL, NULL, x6, y6), LIP_ERR_NULL);
    CHECK_MESSAGE(ctx, "needs x or the ranks");
    CHECK_STATUS(lip_groupsort_backward(ctx, 3, 1.0f, x5, NULL, x5, y6), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_groupsort_forward(NULL, 2, 1.0f, x6, y6, NULL), LIP_ERR_NULL);
    size_t group = 0, shp[2] = {4, 6};
    CHECK_OK(lip_groupsort_group_size(ctx, 0, 2, shp, &group));
    CHECK(group == 6);
    CHECK_OK(lip_groupsort_group_size(ctx, 9, 2, shp, &group)); /* n > C: clamped (deel-lip) */
    CHECK(group == 6);
    CHECK_STATUS(lip_groupsort_group_size(ctx, 5, 2, shp, &group), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "GroupSort(5): 6 channels is not a multiple of 5");

    CHECK_STATUS(lip_maxmin_forward(ctx, 1.0f, x6, y6), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "MaxMin: y (4, 6) must be x (4, 6) with the last axis doubled (12)");
    CHECK_STATUS(lip_maxmin_backward(ctx, 1.0f, x6, y6, y6), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "MaxMin: dy");
    CHECK_STATUS(lip_maxmin_forward(ctx, -1.0f, x6, y12), LIP_ERR_INVALID_ARGUMENT);
    size_t mo[2];
    CHECK_OK(lip_maxmin_output_shape(ctx, 2, s6, mo));
    CHECK(mo[0] == 4 && mo[1] == 12);

    CHECK_STATUS(lip_householder_forward(ctx, t2, x5, x5), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Householder: x (4, 5) has 5 channels, which is not even");
    CHECK_STATUS(lip_householder_forward(ctx, t2, x6, y6), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Householder: theta (2,) must have 3 elements");
    CHECK_STATUS(lip_householder_backward(ctx, t3, x6, y6, NULL, t2, 0), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "dtheta (2,)");
    CHECK_STATUS(lip_householder_backward(ctx, t3, x6, y12, NULL, t3, 0), LIP_ERR_SHAPE);

    CHECK_STATUS(lip_prelu_forward(ctx, a4, x6, y6), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "PReLUlip: alpha (4,) has 4 elements");
    CHECK_STATUS(lip_prelu_forward(ctx, a4, x6, a4), LIP_ERR_SHAPE);
    CHECK_STATUS(lip_prelu_constrain(ctx, 0.0f, a4), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "PReLUlip: k_coef_lip");
    size_t s6a[1] = {6};
    lip_tensor *a6 = tensor_new(LIP_FLOAT32, 1, s6a);
    CHECK_STATUS(lip_prelu_backward(ctx, a6, x6, y6, NULL, a4, 0), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "dalpha (4,)");
    lip_tensor_free(a6);

    CHECK_STATUS(lip_relu_forward(ctx, x6, y12), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "ReLU: y (4, 12) must have the shape of x (4, 6)");
    CHECK_STATUS(lip_relu_backward(ctx, x6, y6, x6), LIP_ERR_INVALID_ARGUMENT);
    CHECK_OK(lip_relu_forward(ctx, x6, x6)); /* in place is allowed */

    lip_tensor_free(x6);
    lip_tensor_free(y6);
    lip_tensor_free(y12);
    lip_tensor_free(x5);
    lip_tensor_free(i6);
    lip_tensor_free(t3);
    lip_tensor_free(t2);
    lip_tensor_free(a4);
}

int main(void) {
    rng = test_seed(20240611);
    ctx = test_context();
    test_errors();
    test_ties();
    test_accumulate();
    test_prelu_constrain();
    test_shapes();
    test_context_free(ctx);
    return test_finish("test_activations");
}
