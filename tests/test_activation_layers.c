/* lipcl tests — the activation layers (GroupSort(n), GroupSort2, FullSort, MaxMin, ReLU, Householder,
 * PReLUlip) through the generic layer API: host references for forward and backward, finite
 * differences (inputs and θ/α), accumulation, tensors of any shape with the right counts, the
 * Lipschitz bound on random pairs, PReLUlip's constraint, and bad construction. */
#include <string.h>

#include "check.h"

#define PI_HALF 1.57079632679489661923

static uint64_t rng;

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* y for one row of c channels; kind 0 GroupSort(n) (n 0 = all), 1 MaxMin, 2 ReLU. */
static void host_row(int kind, size_t n, float k, const float *x, size_t c, float *y) {
    if (kind == 0) {
        size_t g = n ? n : c;
        for (size_t s = 0; s < c; s += g) {
            memcpy(y + s, x + s, g * sizeof *x);
            qsort(y + s, g, sizeof *y, cmp_float);
        }
        for (size_t i = 0; i < c; i++) y[i] *= k;
    } else if (kind == 1) {
        for (size_t i = 0; i < c; i++) {
            y[i] = k * (x[i] > 0 ? x[i] : 0);
            y[c + i] = k * (x[i] < 0 ? -x[i] : 0);
        }
    } else {
        for (size_t i = 0; i < c; i++) y[i] = x[i] > 0 ? x[i] : 0;
    }
}

static void check_layer(lip_context *ctx, lip_layer *l, int kind, size_t n, float k) {
    const size_t batch = 3, shape[3] = {2, 5, 12}, c = 12, rows = batch * 2 * 5;
    REQUIRE_OK(lip_layer_build(l, 3, shape));
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    size_t oc = kind == 1 ? 2 * c : c;
    CHECK(ond == 3 && os[2] == oc);
    size_t nx = rows * c, ny = rows * oc;
    /* Flat tensors on purpose: the layer API views them as (batch, 2, 5, channels). */
    lip_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &nx, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &ny, &y));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &ny, &dy));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &nx, &dx));
    float *hx = test_falloc(nx), *hy = test_falloc(ny), *hg = test_falloc(ny), *ref = test_falloc(ny);
    test_fill_uniform(&rng, hx, nx, -2, 2);
    test_fill_uniform(&rng, hg, ny, -1, 1);
    CHECK_OK(lip_tensor_upload(x, hx, nx * sizeof(float)));
    CHECK_OK(lip_tensor_upload(dy, hg, ny * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK(lip_tensor_ndim(x) == 1 && lip_tensor_dim(x, 0) == nx); /* the view was undone */
    test_read(y, hy);
    for (size_t r = 0; r < rows; r++) host_row(kind, n, k, hx + r * c, c, ref + r * oc);
    double *refd = test_to_double(ref, ny);
    test_compare(lip_layer_type(l), hy, refd, ny, 1e-6, 1e-6);
    /* Backward by finite differences of ⟨g, f(x)⟩ on the host (no ties: uniform random inputs). */
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *hdx = test_falloc(nx), *row = test_falloc(oc), *xr = test_falloc(c);
    test_read(dx, hdx);
    double worst = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < c; i++) {
            double l2[2];
            for (int side = 0; side < 2; side++) {
                memcpy(xr, hx + r * c, c * sizeof *xr);
                xr[i] += side ? -1e-3f : 1e-3f;
                host_row(kind, n, k, xr, c, row);
                double s = 0;
                for (size_t j = 0; j < oc; j++) s += (double)hg[r * oc + j] * row[j];
                l2[side] = s;
            }
            double fd = (l2[0] - l2[1]) / 2e-3;
            /* Skip kinks: ReLU/MaxMin at 0, and sort ties (another channel within 3e-3). */
            int kink = fabs(hx[r * c + i]) <= 3e-3;
            for (size_t j = 0; j < c && kind == 0; j++)
                if (j != i && fabs(hx[r * c + j] - hx[r * c + i]) <= 3e-3) kink = 1;
            if (!kink) worst = fmax(worst, fabs(fd - hdx[r * c + i]));
        }
    /* Float central differences with h = 1e-3 on O(1) sums carry ~1e-3 of rounding noise. */
    if (worst > 5e-3) fprintf(stderr, "%s: finite-difference error %g\n", lip_layer_type(l), worst);
    CHECK(worst <= 5e-3);
    CHECK_OK(lip_layer_backward(l, x, y, dy, NULL, 0)); /* dx not wanted: fine */
    /* ‖f(a) − f(b)‖ ≤ L‖a − b‖ per sample, L = k (ReLU 1). */
    float *hx2 = test_falloc(nx), *hy2 = test_falloc(ny);
    for (size_t i = 0; i < nx; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -0.5, 0.5);
    CHECK_OK(lip_tensor_upload(x, hx2, nx * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    test_read(y, hy2);
    double bound = kind == 2 ? 1.0 : k;
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        size_t sx = nx / batch, sy = ny / batch;
        for (size_t i = 0; i < sx; i++) dxn += pow(hx2[b * sx + i] - hx[b * sx + i], 2);
        for (size_t i = 0; i < sy; i++) dyn += pow(hy2[b * sy + i] - hy[b * sy + i], 2);
        CHECK(sqrt(dyn) <= bound * sqrt(dxn) * (1 + 1e-4));
    }
    free(hx), free(hy), free(hg), free(ref), free(refd), free(hdx), free(row), free(xr), free(hx2), free(hy2);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

/* ---- Householder and PReLUlip (layers with a trainable parameter) ------------------------------ */

/* A layer's parameter tensor by index (value or grad). */
static lip_tensor *param_of(lip_layer *l, size_t i, int grad, const char *want_name) {
    lip_tensor *v = NULL, *g = NULL;
    const char *n = NULL;
    REQUIRE_OK(lip_layer_param(l, i, &v, &g, &n));
    CHECK(strcmp(n, want_name) == 0);
    return grad ? g : v;
}

/* s of a Householder pair: > 0 means the pair is reflected. */
static double hh_s(double z1, double z2, double t) { return z1 * sin(t / 2) - z2 * cos(t / 2); }

/* Host Householder on rows of c channels (pairs (j, j + c/2)), times k; with dy, dx and dθ (added). */
static void hh_host(const double *x, const double *theta, size_t rows, size_t c, double k, double *y,
                    const double *dy, double *dx, double *dtheta) {
    size_t h = c / 2;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < h; j++) {
            size_t e1 = r * c + j, e2 = e1 + h;
            double z1 = x[e1], z2 = x[e2], t = theta[j], ct = cos(t), st = sin(t);
            int refl = hh_s(z1, z2, t) > 0;
            if (y) {
                y[e1] = k * (refl ? z1 * ct + z2 * st : z1);
                y[e2] = k * (refl ? z1 * st - z2 * ct : z2);
            }
            if (!dy) continue;
            double g1 = dy[e1], g2 = dy[e2];
            if (dx) {
                dx[e1] = k * (refl ? ct * g1 + st * g2 : g1);
                dx[e2] = k * (refl ? st * g1 - ct * g2 : g2);
            }
            if (dtheta && refl) dtheta[j] += k * (g1 * (-z1 * st + z2 * ct) + g2 * (z1 * ct + z2 * st));
        }
}

static double hh_objective(const double *x, const double *theta, size_t rows, size_t c, double k, const double *g) {
    double *y = malloc(rows * c * sizeof *y), s = 0;
    hh_host(x, theta, rows, c, k, y, NULL, NULL, NULL);
    for (size_t i = 0; i < rows * c; i++) s += g[i] * y[i];
    free(y);
    return s;
}

/* Random rows whose pairs all lie on one side (sign > 0: reflected), at least 0.05 from the fold. */
static void hh_region(float *x, const double *theta, size_t rows, size_t c, int sign) {
    size_t h = c / 2;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < h; j++) {
            double z1, z2, s, t = theta[j];
            do {
                z1 = test_uniform(&rng, -2, 2), z2 = test_uniform(&rng, -2, 2);
                s = hh_s(z1, z2, t);
            } while (fabs(s) < 0.05);
            if ((s > 0) != (sign > 0)) { /* reflect across the line: s changes sign */
                double a = z1 * cos(t) + z2 * sin(t), b = z1 * sin(t) - z2 * cos(t);
                z1 = a, z2 = b;
            }
            x[r * c + j] = (float)z1, x[r * c + h + j] = (float)z2;
        }
}

/* Per-sample ‖f(a) − f(b)‖ / ‖a − b‖ from device outputs: smallest and largest. */
static void pair_ratios(const float *xa, const float *xb, const float *ya, const float *yb, size_t batch, size_t per,
                        double *lo, double *hi) {
    *lo = INFINITY, *hi = 0;
    for (size_t b = 0; b < batch; b++) {
        double dxn = 0, dyn = 0;
        for (size_t i = 0; i < per; i++) {
            dxn += pow((double)xa[b * per + i] - xb[b * per + i], 2);
            dyn += pow((double)ya[b * per + i] - yb[b * per + i], 2);
        }
        *lo = fmin(*lo, sqrt(dyn / dxn)), *hi = fmax(*hi, sqrt(dyn / dxn));
    }
}

static void check_householder(lip_context *ctx, float k, int ndim, const size_t *shape, size_t batch,
                              int random_theta) {
    char label[64];
    snprintf(label, sizeof label, "Householder k=%g C=%zu", (double)k, shape[ndim - 1]);
    lip_layer *l = NULL;
    REQUIRE_OK(lip_householder_create(ctx, k, (float)PI_HALF, "hh", &l));
    REQUIRE_OK(lip_layer_build(l, ndim, shape));
    size_t c = shape[ndim - 1], h = c / 2, per = 1;
    for (int i = 0; i < ndim; i++) per *= shape[i];
    size_t n = batch * per, rows = n / c;
    CHECK(lip_layer_param_count(l) == 1);
    lip_tensor *theta = param_of(l, 0, 0, "theta"), *dtheta = param_of(l, 0, 1, "theta");
    CHECK(lip_tensor_ndim(theta) == 1 && lip_tensor_dim(theta, 0) == h && dtheta && lip_tensor_count(dtheta) == h);
    int ond = 0;
    size_t os[LIP_MAX_DIMS];
    CHECK_OK(lip_layer_output_shape(l, &ond, os));
    CHECK(ond == ndim && os[ndim - 1] == c);
    float *ft = test_download(theta);
    for (size_t j = 0; j < h; j++) CHECK(ft[j] == (float)PI_HALF); /* deel-lip's default θ = π/2 */
    if (random_theta) {
        test_fill_uniform(&rng, ft, h, -3.1, 3.1);
        REQUIRE_OK(lip_tensor_upload(theta, ft, h * sizeof(float)));
    }
    double *td = test_to_double(ft, h);

    lip_tensor *x = NULL, *dy = NULL, *y = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    lip_tensor *dx = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &dy));
    float *hx = test_falloc(n), *hg = test_falloc(n);
    test_fill_uniform(&rng, hx, n, -2, 2);
    test_fill_uniform(&rng, hg, n, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx, n * sizeof(float)));
    REQUIRE_OK(lip_tensor_upload(dy, hg, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *fy = test_download(y), *fdx = test_download(dx), *fdt = test_download(dtheta);
    double *xd = test_to_double(hx, n), *gd = test_to_double(hg, n);
    double *yref = malloc(n * sizeof *yref), *dxref = malloc(n * sizeof *dxref), *dtref = calloc(h, sizeof *dtref);
    hh_host(xd, td, rows, c, k, yref, gd, dxref, dtref);
    test_compare(label, fy, yref, n, 1e-6 * k, 1e-5);
    test_compare(label, fdx, dxref, n, 1e-6 * k, 1e-5);
    test_compare(label, fdt, dtref, h, 1e-5 * k * sqrt((double)rows), 1e-5);
    if (!random_theta) { /* θ = π/2: GroupSort2 on the pairs (j, j + C/2), times k */
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < h; j++) {
                double z1 = hx[r * c + j], z2 = hx[r * c + h + j];
                CHECK_NEAR(fy[r * c + j], k * fmin(z1, z2), 1e-6 * k * 2);
                CHECK_NEAR(fy[r * c + h + j], k * fmax(z1, z2), 1e-6 * k * 2);
            }
    }
    /* Central differences in double on the host, against the device (inputs and θ), away from the fold. */
    double worst = 0, scale = 1e-12;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(fdx[i]));
    for (size_t i = 0; i < n; i += n > 80 ? n / 80 : 1) {
        size_t r = i / c, j = (i % c) % h;
        if (fabs(hh_s(xd[r * c + j], xd[r * c + h + j], td[j])) < 1e-3) continue;
        double keep = xd[i], hs = 1e-6;
        xd[i] = keep + hs;
        double up = hh_objective(xd, td, rows, c, k, gd);
        xd[i] = keep - hs;
        double down = hh_objective(xd, td, rows, c, k, gd);
        xd[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * hs) - fdx[i]) / scale);
    }
    if (worst > 1e-4) fprintf(stderr, "%s: dx finite-difference error %g of max|dx|\n", label, worst);
    CHECK(worst <= 1e-4);
    worst = 0, scale = 1e-12;
    for (size_t j = 0; j < h; j++) scale = fmax(scale, fabs(fdt[j]));
    for (size_t j = 0; j < h; j++) {
        int kink = 0;
        for (size_t r = 0; r < rows; r++) kink |= fabs(hh_s(xd[r * c + j], xd[r * c + h + j], td[j])) < 1e-3;
        if (kink) continue;
        double keep = td[j], hs = 1e-6;
        td[j] = keep + hs;
        double up = hh_objective(xd, td, rows, c, k, gd);
        td[j] = keep - hs;
        double down = hh_objective(xd, td, rows, c, k, gd);
        td[j] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * hs) - fdt[j]) / scale);
    }
    if (worst > 1e-4) fprintf(stderr, "%s: dtheta finite-difference error %g of max|dtheta|\n", label, worst);
    CHECK(worst <= 1e-4);
    /* Accumulate: θ's gradient adds up, dx is written. */
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 1));
    float *fdt2 = test_download(dtheta), *fdx2 = test_download(dx);
    for (size_t j = 0; j < h; j++) CHECK_NEAR(fdt2[j], 2.0 * fdt[j], 1e-6 * (1 + fabs(fdt[j])));
    CHECK(memcmp(fdx, fdx2, n * sizeof *fdx) == 0);
    CHECK_OK(lip_layer_backward(l, x, NULL, dy, NULL, 0)); /* θ only */
    float *fdt3 = test_download(dtheta);
    CHECK(memcmp(fdt3, fdt, h * sizeof *fdt) == 0);

    /* Lipschitz: random pairs ≤ k; pairs inside one region (identity or reflection) give exactly k. */
    float *hx2 = test_falloc(n), *fy2;
    for (size_t i = 0; i < n; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -0.7, 0.7);
    REQUIRE_OK(lip_tensor_upload(x, hx2, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    fy2 = test_download(y);
    double lo, hi;
    pair_ratios(hx, hx2, fy, fy2, batch, per, &lo, &hi);
    if (!(hi <= k * (1 + 1e-5))) fprintf(stderr, "%s: ratio %.9g above k\n", label, hi);
    CHECK(hi <= k * (1 + 1e-5));
    for (int sign = -1; sign <= 1; sign += 2) {
        float *a = test_falloc(n), *b = test_falloc(n), *ya, *yb;
        hh_region(a, td, rows, c, sign);
        hh_region(b, td, rows, c, sign);
        REQUIRE_OK(lip_tensor_upload(x, a, n * sizeof(float)));
        CHECK_OK(lip_layer_forward(l, x, y));
        ya = test_download(y);
        REQUIRE_OK(lip_tensor_upload(x, b, n * sizeof(float)));
        CHECK_OK(lip_layer_forward(l, x, y));
        yb = test_download(y);
        pair_ratios(a, b, ya, yb, batch, per, &lo, &hi);
        CHECK_NEAR(lo, k, 1e-5 * k);
        CHECK_NEAR(hi, k, 1e-5 * k);
        free(a), free(b), free(ya), free(yb);
    }
    free(ft), free(td), free(hx), free(hg), free(fy), free(fdx), free(fdt), free(xd), free(gd), free(yref);
    free(dxref), free(dtref), free(fdt2), free(fdx2), free(fdt3), free(hx2), free(fy2);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

/* Host PReLU: α has `per` elements (the per-sample shape), element i of a sample uses α[i]. */
static void prelu_host(const double *x, const double *alpha, size_t n, size_t per, double *y, const double *dy,
                       double *dx, double *dalpha) {
    if (dalpha) memset(dalpha, 0, per * sizeof *dalpha);
    for (size_t i = 0; i < n; i++) {
        double a = alpha[i % per], v = x[i];
        if (y) y[i] = v >= 0 ? v : a * v;
        if (dx) dx[i] = dy[i] * (v > 0 ? 1.0 : v < 0 ? a : 0.0);
        if (dalpha) dalpha[i % per] += dy[i] * fmin(v, 0.0);
    }
}

static double prelu_objective(const double *x, const double *alpha, size_t n, size_t per, const double *g) {
    double *y = malloc(n * sizeof *y), s = 0;
    prelu_host(x, alpha, n, per, y, NULL, NULL, NULL);
    for (size_t i = 0; i < n; i++) s += g[i] * y[i];
    free(y);
    return s;
}

static void check_prelu(lip_context *ctx, float k, int ndim, const size_t *shape, size_t batch) {
    char label[64];
    snprintf(label, sizeof label, "PReLUlip k=%g rank %d", (double)k, ndim);
    lip_layer *l = NULL;
    REQUIRE_OK(lip_prelu_lip_create(ctx, k, "prelu", &l));
    REQUIRE_OK(lip_layer_build(l, ndim, shape));
    CHECK(strcmp(lip_layer_type(l), "PReLUlip") == 0 && lip_layer_param_count(l) == 1);
    lip_tensor *alpha = param_of(l, 0, 0, "alpha"), *dalpha = param_of(l, 0, 1, "alpha");
    size_t per = 1;
    for (int i = 0; i < ndim; i++) per *= shape[i];
    CHECK(lip_tensor_ndim(alpha) == ndim && lip_tensor_count(alpha) == per && lip_tensor_count(dalpha) == per);
    for (int i = 0; i < ndim; i++) CHECK(lip_tensor_dim(alpha, i) == shape[i]);
    float *fa = test_download(alpha);
    for (size_t i = 0; i < per; i++) CHECK(fa[i] == 0.0f); /* Keras PReLU: α starts at 0 */
    /* Random slopes beyond k, then deel-lip's MinMaxNorm(−k, k) on axis 0 through reparametrize. */
    test_fill_uniform(&rng, fa, per, -2.0 * k - 1, 2.0 * k + 1);
    REQUIRE_OK(lip_tensor_upload(alpha, fa, per * sizeof(float)));
    CHECK_OK(lip_layer_reparametrize(l));
    float *fc = test_download(alpha);
    size_t rows = shape[0], cols = per / rows;
    double *ad = malloc(per * sizeof *ad);
    for (size_t j = 0; j < cols; j++) {
        double sq = 0;
        for (size_t r = 0; r < rows; r++) sq += (double)fa[r * cols + j] * fa[r * cols + j];
        double norm = sqrt(sq), f = fmin(norm, k) / (1e-7 + norm);
        for (size_t r = 0; r < rows; r++) ad[r * cols + j] = fa[r * cols + j] * f;
    }
    test_compare(label, fc, ad, per, 1e-6, 1e-5);
    for (size_t i = 0; i < per; i++) CHECK(fabs(fc[i]) <= k * (1 + 1e-6));
    for (size_t i = 0; i < per; i++) ad[i] = fc[i];

    size_t n = batch * per;
    lip_tensor *x = NULL, *dy = NULL, *y = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    lip_tensor *dx = test_sentinel(ctx, LIP_FLOAT32, 1, &n);
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &x));
    REQUIRE_OK(lip_tensor_create(ctx, LIP_FLOAT32, 1, &n, &dy));
    float *hx = test_falloc(n), *hg = test_falloc(n);
    test_fill_uniform(&rng, hx, n, -2, 2);
    test_fill_uniform(&rng, hg, n, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx, n * sizeof(float)));
    REQUIRE_OK(lip_tensor_upload(dy, hg, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    CHECK_OK(lip_layer_backward(l, x, y, dy, dx, 0));
    float *fy = test_download(y), *fdx = test_download(dx), *fda = test_download(dalpha);
    double *xd = test_to_double(hx, n), *gd = test_to_double(hg, n);
    double *yref = malloc(n * sizeof *yref), *dxref = malloc(n * sizeof *dxref), *daref = malloc(per * sizeof *daref);
    prelu_host(xd, ad, n, per, yref, gd, dxref, daref);
    test_compare(label, fy, yref, n, 1e-6, 1e-6);
    test_compare(label, fdx, dxref, n, 1e-6, 1e-6);
    test_compare(label, fda, daref, per, 1e-5 * sqrt((double)batch), 1e-5);
    /* Finite differences (x away from the kink at 0; α everywhere: linear in α). */
    double worst = 0;
    for (size_t i = 0; i < n; i += n > 60 ? n / 60 : 1) {
        if (fabs(xd[i]) < 1e-3) continue;
        double keep = xd[i], hs = 1e-6;
        xd[i] = keep + hs;
        double up = prelu_objective(xd, ad, n, per, gd);
        xd[i] = keep - hs;
        double down = prelu_objective(xd, ad, n, per, gd);
        xd[i] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * hs) - fdx[i]));
    }
    for (size_t j = 0; j < per; j++) {
        double keep = ad[j], hs = 1e-6;
        ad[j] = keep + hs;
        double up = prelu_objective(xd, ad, n, per, gd);
        ad[j] = keep - hs;
        double down = prelu_objective(xd, ad, n, per, gd);
        ad[j] = keep;
        worst = fmax(worst, fabs((up - down) / (2 * hs) - fda[j]));
    }
    if (worst > 1e-5) fprintf(stderr, "%s: finite-difference error %g\n", label, worst);
    CHECK(worst <= 1e-5);
    /* Accumulate. */
    CHECK_OK(lip_layer_backward(l, x, y, dy, NULL, 1));
    float *fda2 = test_download(dalpha);
    for (size_t j = 0; j < per; j++) CHECK_NEAR(fda2[j], 2.0 * fda[j], 1e-6 * (1 + fabs(fda[j])));
    /* Lipschitz: max(1, k) on random pairs (after the constraint). */
    float *hx2 = test_falloc(n), *fy2;
    for (size_t i = 0; i < n; i++) hx2[i] = hx[i] + (float)test_uniform(&rng, -1, 1);
    REQUIRE_OK(lip_tensor_upload(x, hx2, n * sizeof(float)));
    CHECK_OK(lip_layer_forward(l, x, y));
    fy2 = test_download(y);
    double lo, hi, bound = fmax(1.0, k);
    pair_ratios(hx, hx2, fy, fy2, batch, per, &lo, &hi);
    if (!(hi <= bound * (1 + 1e-5))) fprintf(stderr, "%s: ratio %.9g above max(1, k)\n", label, hi);
    CHECK(hi <= bound * (1 + 1e-5));
    free(fa), free(fc), free(ad), free(hx), free(hg), free(fy), free(fdx), free(fda), free(xd), free(gd);
    free(yref), free(dxref), free(daref), free(fda2), free(hx2), free(fy2);
    lip_tensor_free(x), lip_tensor_free(y), lip_tensor_free(dy), lip_tensor_free(dx);
    lip_layer_free(l);
}

static void param_activations(lip_context *ctx) {
    const size_t img[3] = {3, 4, 6}, pair[1] = {2}, wide[3] = {1, 1, 10}, mat[2] = {4, 3}, vec[1] = {7};
    const size_t img2[3] = {3, 5, 2};
    check_householder(ctx, 1.0f, 3, img, 2, 0);  /* default θ = π/2, k = 1 */
    check_householder(ctx, 1.7f, 3, img, 2, 1);  /* random θ, k honoured */
    check_householder(ctx, 1.0f, 1, pair, 5, 1); /* C = 2 */
    check_householder(ctx, 0.5f, 3, wide, 1, 1);
    check_prelu(ctx, 0.6f, 2, mat, 5);
    check_prelu(ctx, 2.5f, 3, img2, 3);
    check_prelu(ctx, 1.0f, 1, vec, 4); /* one norm over the whole α */

    lip_layer *l = (lip_layer *)&rng;
    CHECK_STATUS(lip_householder_create(ctx, 0.0f, 1.0f, "hb", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "Householder 'hb': k_coef_lip must be finite and > 0");
    CHECK(l == NULL);
    CHECK_STATUS(lip_householder_create(ctx, 1.0f, NAN, "hb", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "Householder 'hb': theta_init must be finite");
    CHECK_STATUS(lip_householder_create(ctx, 1.0f, 0.0f, "hb", NULL), LIP_ERR_NULL);
    REQUIRE_OK(lip_householder_create(ctx, 2.0f, 0.0f, "h5", &l));
    size_t five[2] = {3, 5}, four[2] = {3, 4};
    CHECK_STATUS(lip_layer_build(l, 2, five), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "Householder 'h5': 5 channels, must be even");
    CHECK(lip_layer_param_count(l) == 0);
    CHECK_OK(lip_layer_build(l, 2, four)); /* a failed build can be retried */
    CHECK(lip_layer_param_count(l) == 1);
    lip_layer_free(l);
    l = (lip_layer *)&rng;
    CHECK_STATUS(lip_prelu_lip_create(ctx, -1.0f, "pb", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "PReLUlip 'pb': k_coef_lip must be finite and > 0");
    CHECK(l == NULL);
    CHECK_STATUS(lip_prelu_lip_create(ctx, INFINITY, "pb", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(lip_prelu_lip_create(NULL, 1.0f, "pb", &l), LIP_ERR_NULL);
}

int main(void) {
    rng = test_seed(5);
    lip_context *ctx = test_context();
    lip_layer *l = NULL;
    REQUIRE_OK(lip_groupsort2_create(ctx, 1.0f, "gs2", &l));
    check_layer(ctx, l, 0, 2, 1.0f);
    REQUIRE_OK(lip_groupsort_create(ctx, 4, 2.0f, "gs4", &l));
    check_layer(ctx, l, 0, 4, 2.0f);
    REQUIRE_OK(lip_fullsort_create(ctx, 1.0f, "fs", &l));
    check_layer(ctx, l, 0, 0, 1.0f);
    REQUIRE_OK(lip_maxmin_create(ctx, 0.5f, "mm", &l));
    check_layer(ctx, l, 1, 0, 0.5f);
    REQUIRE_OK(lip_relu_create(ctx, "relu", &l));
    check_layer(ctx, l, 2, 0, 1.0f);
    CHECK(strcmp(lip_layer_type(l = NULL), "") == 0);

    /* Bad construction: k ≤ 0; channels that do not divide into groups (at build, with the layer named). */
    CHECK_STATUS(lip_groupsort_create(ctx, 2, 0.0f, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE(ctx, "GroupSort 'bad': k_coef_lip");
    CHECK_STATUS(lip_maxmin_create(ctx, -1.0f, "bad", &l), LIP_ERR_INVALID_ARGUMENT);
    REQUIRE_OK(lip_groupsort_create(ctx, 4, 1.0f, "gs4", &l));
    size_t six[1] = {6};
    CHECK_STATUS(lip_layer_build(l, 1, six), LIP_ERR_SHAPE);
    CHECK_MESSAGE(ctx, "4");
    size_t eight[1] = {8};
    CHECK_OK(lip_layer_build(l, 1, eight)); /* a failed build can be retried */
    lip_layer_free(l);
    param_activations(ctx);
    test_context_free(ctx);
    return test_finish("test_activation_layers");
}
