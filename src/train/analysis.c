/* lipcl — Lipschitz analysis: exact singular values of dense kernels (host Jacobi SVD), power iteration on
 * conv operators with the device conv ops, the product of verified σ_max, and an empirical lower bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv2d.h"
#include "layers/dense.h"
#include "lipcl/analysis.h"
#include "tensor/conv2d.h"
#include "train/model_internal.h"

lip_sv_options lip_sv_options_default(void) {
    lip_sv_options o;
    memset(&o, 0, sizeof o);
    o.max_iter = 200;
    o.tol = 1e-6;
    return o;
}

static lip_sv_options resolved(const lip_sv_options *o) {
    lip_sv_options r = o ? *o : lip_sv_options_default();
    if (r.max_iter == 0) r.max_iter = 200;
    if (!(r.tol > 0)) r.tol = 1e-6;
    return r;
}

/* splitmix64: a host generator, so the analysis never advances the context's RNG. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double next_normal(uint64_t *s) { /* Box–Muller */
    double u1 = ((double)(next_u64(s) >> 11) + 1.0) * 0x1.0p-53, u2 = (double)(next_u64(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Singular values of the m × n row-major matrix a, descending, into s[min(m, n)]: one-sided Jacobi on
 * the columns of a (or of aᵀ when m < n), sweeps until every pair is orthogonal to 1e-15. */
static int svd_values(const double *a, size_t m, size_t n, double *s) {
    int tr = m < n;
    size_t rows = tr ? n : m, cols = tr ? m : n;
    double *u = malloc(rows * cols * sizeof *u); /* column-major: column j at u + j·rows */
    if (!u) return 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (tr)
                u[i * rows + j] = a[i * n + j];
            else
                u[j * rows + i] = a[i * n + j];
        }
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0;
        for (size_t p = 0; p + 1 < cols; p++)
            for (size_t q = p + 1; q < cols; q++) {
                double *x = u + p * rows, *y = u + q * rows, al = 0, be = 0, ga = 0;
                for (size_t k = 0; k < rows; k++) {
                    al += x[k] * x[k];
                    be += y[k] * y[k];
                    ga += x[k] * y[k];
                }
                if (ga == 0.0 || fabs(ga) <= 1e-15 * sqrt(al * be)) continue;
                off = fmax(off, fabs(ga) / sqrt(al * be));
                double zeta = (be - al) / (2.0 * ga);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
                double c = 1.0 / sqrt(1.0 + t * t), sn = c * t;
                for (size_t k = 0; k < rows; k++) {
                    double xk = x[k], yk = y[k];
                    x[k] = c * xk - sn * yk;
                    y[k] = sn * xk + c * yk;
                }
            }
        if (off <= 1e-15) break;
    }
    for (size_t j = 0; j < cols; j++) {
        double ss = 0;
        for (size_t k = 0; k < rows; k++) ss += u[j * rows + k] * u[j * rows + k];
        s[j] = sqrt(ss);
    }
    for (size_t i = 1; i < cols; i++) /* insertion sort, descending */
        for (size_t j = i; j > 0 && s[j] > s[j - 1]; j--) {
            double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    free(u);
    return 1;
}

static int is_type(const lip_layer *l, const char *const *names) {
    for (; *names; names++)
        if (!strcmp(l->vt->type, *names)) return 1;
    return 0;
}
static const char *const dense_types[] = {"Dense", "SpectralDense", "FrobeniusDense", NULL};
static const char *const conv_types[] = {"Conv2D", "SpectralConv2D", "FrobeniusConv2D", "Conv2DTranspose",
                                         "SpectralConv2DTranspose", NULL};

static lip_status dense_sv(lip_layer *l, lip_layer_sv *out, double *values, size_t max_values) {
    lip_context *ctx = l->ctx;
    lip_dense_internals in;
    LIP_TRY(lip_dense_internals_get(l, &in));
    size_t rows = l->in_count, cols = lip_tensor_count(in.w_bar) / (rows ? rows : 1);
    size_t count = rows * cols, ns = rows < cols ? rows : cols;
    LIP_CHECK(ctx, rows * cols == lip_tensor_count(in.w_bar) && ns > 0, LIP_ERR_INTERNAL,
              "%s '%s': effective kernel of %zu elements for %zu inputs", l->vt->type, l->name,
              lip_tensor_count(in.w_bar), rows);
    float *h = malloc(count * sizeof *h);
    double *a = malloc(count * sizeof *a), *s = malloc(ns * sizeof *s);
    lip_status st = LIP_OK;
    if (!h || !a || !s) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s '%s': out of host memory for a %zux%zu SVD",
                           l->vt->type, l->name, rows, cols);
        goto done;
    }
    LIP_TRY_GOTO(st, lip_tensor_download(in.w_bar, h, count * sizeof *h));
    for (size_t i = 0; i < count; i++) a[i] = h[i];
    if (!svd_values(a, rows, cols, s)) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "%s '%s': out of host memory for a %zux%zu SVD",
                           l->vt->type, l->name, rows, cols);
        goto done;
    }
    out->method = LIP_SV_EXACT;
    out->sigma_max = s[0];
    out->sigma_min = s[ns - 1];
    out->count = ns;
    out->converged = 1;
    if (values)
        for (size_t i = 0; i < ns && i < max_values; i++) values[i] = s[i];
fail:
done:
    free(h);
    free(a);
    free(s);
    return st;
}

/* ‖t‖₂ read back to the host (one small blocking read). */
static lip_status norm2(lip_context *ctx, const lip_tensor *t, lip_tensor *scalar, double *out) {
    LIP_TRY(lip_reduce_sum_squares(ctx, t, scalar));
    float v = 0.0f;
    LIP_TRY(lip_tensor_download(scalar, &v, sizeof v));
    *out = sqrt((double)v);
    return LIP_OK;
}

/* Power iteration on a symmetric PSD-derived operator of R^n: op(v) = G v (the Gram of the smaller or
 * the input side) or shift·v − G v. Returns the Rayleigh estimate of the top eigenvalue in *lambda. */
typedef struct conv_op {
    lip_context *ctx;
    lip_conv2d_geom g;
    const lip_tensor *w;
    lip_tensor *in, *out; /* A's input (n) and output (m) vectors */
    lip_tensor *tmp;
    int side;             /* 0: G = AᵀA on A's input side; 1: G = AAᵀ on A's output side */
} conv_op;

/* dst = G src (src, dst on the operator's side; tmp on the other). */
static lip_status gram(conv_op *c, const lip_tensor *src, lip_tensor *dst) {
    if (c->side == 0) {
        LIP_TRY(lip_conv2d_forward(c->ctx, &c->g, src, c->w, NULL, c->tmp));
        return lip_conv2d_backward_data(c->ctx, &c->g, c->tmp, c->w, dst, 0);
    }
    LIP_TRY(lip_conv2d_backward_data(c->ctx, &c->g, src, c->w, c->tmp, 0));
    return lip_conv2d_forward(c->ctx, &c->g, c->tmp, c->w, NULL, dst);
}

static lip_status power_iter(conv_op *c, lip_tensor *v, lip_tensor *z, lip_tensor *scalar, double shift,
                             const lip_sv_options *o, uint64_t *rng, double *lambda, size_t *iters, int *converged) {
    size_t n = lip_tensor_count(v);
    float *h = malloc(n * sizeof *h);
    LIP_CHECK(c->ctx, h, LIP_ERR_OUT_OF_HOST_MEMORY, "singular values: out of host memory (%zu floats)", n);
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double g = next_normal(rng);
        h[i] = (float)g;
        ss += (double)h[i] * h[i];
    }
    for (size_t i = 0; i < n; i++) h[i] = (float)(h[i] / sqrt(ss));
    lip_status st = lip_tensor_upload(v, h, n * sizeof *h);
    free(h);
    LIP_TRY(st);
    /* Converged when the estimate moved by at most tol (relative) over the last WINDOW iterations: a
     * per-iteration test stops falsely when the top two singular values are close and the float32
     * estimate stalls between iterations. */
    enum { WINDOW = 10 };
    double hist[WINDOW] = {0}, est = 0.0;
    *converged = 0;
    size_t it = 0;
    for (it = 0; it < o->max_iter; it++) {
        LIP_TRY(gram(c, v, z)); /* ‖v‖ = 1: the Rayleigh quotient vᵀop(v) ≤ ‖op(v)‖ → λ */
        if (shift > 0) {
            LIP_TRY(lip_scale(c->ctx, -1.0f, z, z));
            LIP_TRY(lip_axpy(c->ctx, (float)shift, v, z));
        }
        double nz = 0;
        LIP_TRY(norm2(c->ctx, z, scalar, &nz));
        est = nz;
        if (nz == 0.0) break; /* v in the kernel: λ = 0 */
        LIP_TRY(lip_scale(c->ctx, (float)(1.0 / nz), z, v));
        if (it >= WINDOW && fabs(est - hist[it % WINDOW]) <= o->tol * fabs(est)) {
            *converged = 1;
            it++;
            break;
        }
        hist[it % WINDOW] = est;
    }
    *lambda = est;
    *iters += it;
    return LIP_OK;
}

static lip_status conv_sv(lip_layer *l, const lip_sv_options *o, lip_layer_sv *out) {
    lip_context *ctx = l->ctx;
    lip_conv2d_internals in;
    LIP_TRY(lip_conv2d_internals_get(l, &in));
    conv_op c;
    memset(&c, 0, sizeof c);
    int transposed = 0;
    c.ctx = ctx;
    c.w = in.w_bar;
    LIP_TRY(lip_conv2d_geometry_get(l, &c.g, &transposed));
    c.g.batch = 1;
    size_t n = c.g.in_h * c.g.in_w * c.g.cin, m = c.g.out_h * c.g.out_w * c.g.cout;
    size_t nshape[1] = {n}, mshape[1] = {m}, one[1] = {1};
    lip_tensor *vin = NULL, *zin = NULL, *vout = NULL, *zout = NULL, *scalar = NULL;
    lip_status st = LIP_OK;
    uint64_t rng = o->seed ^ 0x6C6970636C5356ull;
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, nshape, &vin));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, nshape, &zin));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, mshape, &vout));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, one, &scalar));
    out->method = LIP_SV_OPERATOR;
    out->sigma_min = NAN;
    out->iterations = 0;
    /* σ_max² = λ_max(AᵀA): the input side, the output vector as scratch. */
    c.side = 0;
    c.tmp = vout;
    double lmax = 0;
    int conv_max = 0, conv_min = 1;
    LIP_TRY_GOTO(st, power_iter(&c, vin, zin, scalar, 0.0, o, &rng, &lmax, &out->iterations, &conv_max));
    out->sigma_max = sqrt(lmax);
    if (o->smallest) {
        /* σ_min over the min(m, n) singular values: λ_min of the Gram of the smaller side, as
         * shift − λ_max(shift·I − G) with shift = 1.01·σ_max² (a little above λ_max for safety). */
        double shift = 1.01 * lmax, lm = 0;
        if (m < n) {
            LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, 1, mshape, &zout));
            c.side = 1;
            c.tmp = vin;
            LIP_TRY_GOTO(st, power_iter(&c, vout, zout, scalar, shift, o, &rng, &lm, &out->iterations, &conv_min));
        } else {
            LIP_TRY_GOTO(st, power_iter(&c, vin, zin, scalar, shift, o, &rng, &lm, &out->iterations, &conv_min));
        }
        double lmin = shift - lm;
        out->sigma_min = sqrt(lmin > 0 ? lmin : 0.0);
    }
    out->converged = conv_max && conv_min;
    (void)transposed; /* Aᵀ has A's singular values */
fail:
    lip_tensor_free(vin);
    lip_tensor_free(zin);
    lip_tensor_free(vout);
    lip_tensor_free(zout);
    lip_tensor_free(scalar);
    return st;
}

lip_status lip_layer_singular_values(lip_layer *layer, const lip_sv_options *options, lip_layer_sv *out,
                                     double *values, size_t max_values) {
    if (!layer) return LIP_ERR_NULL;
    lip_context *ctx = layer->ctx;
    LIP_CHECK(ctx, out, LIP_ERR_NULL, "lip_layer_singular_values: out is NULL");
    LIP_CHECK(ctx, layer->built, LIP_ERR_INVALID_ARGUMENT, "lip_layer_singular_values: %s '%s' is not built",
              layer->vt->type, layer->name);
    lip_sv_options o = resolved(options);
    memset(out, 0, sizeof *out);
    out->sigma_min = NAN;
    out->converged = 1;
    if (is_type(layer, dense_types)) return dense_sv(layer, out, values, max_values);
    if (is_type(layer, conv_types)) return conv_sv(layer, &o, out);
    if (!layer->vt->lipschitz_bound) {
        out->method = LIP_SV_NONE;
        out->sigma_max = NAN;
        return LIP_OK;
    }
    int per_neuron = 0;
    LIP_TRY(lip_layer_lipschitz_bound(layer, &out->sigma_max, &per_neuron));
    out->method = LIP_SV_BOUND;
    return LIP_OK;
}

lip_status lip_model_singular_values(lip_model *m, const lip_sv_options *options, lip_layer_sv *out, size_t n) {
    if (!m) return LIP_ERR_NULL;
    LIP_CHECK(m->ctx, out, LIP_ERR_NULL, "lip_model_singular_values: out is NULL");
    LIP_CHECK(m->ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_singular_values: model '%s' is not built",
              m->name);
    LIP_CHECK(m->ctx, n >= m->node_count, LIP_ERR_INVALID_ARGUMENT,
              "lip_model_singular_values: room for %zu layers, model '%s' has %zu nodes", n, m->name, m->node_count);
    for (size_t i = 0; i < m->node_count; i++) {
        if (!m->nodes[i].layer) {
            memset(&out[i], 0, sizeof out[i]);
            out[i].method = LIP_SV_NONE;
            out[i].sigma_max = out[i].sigma_min = NAN;
            continue;
        }
        LIP_TRY(lip_layer_singular_values(m->nodes[i].layer, options, &out[i], NULL, 0));
    }
    return LIP_OK;
}

lip_status lip_model_lipschitz_product(lip_model *m, const lip_sv_options *options, double *product) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, product, LIP_ERR_NULL, "lip_model_lipschitz_product: product is NULL");
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_lipschitz_product: model '%s' is not built",
              m->name);
    double *b = malloc(m->node_count * sizeof *b);
    LIP_CHECK(ctx, b, LIP_ERR_OUT_OF_HOST_MEMORY, "model '%s': out of memory", m->name);
    lip_status st = LIP_OK;
    /* As lip_model_lipschitz_bound: composition multiplies, a sum's branches add. */
    for (size_t i = 0; i < m->node_count && st == LIP_OK; i++) {
        const model_node *n = &m->nodes[i];
        double a = n->in_a == LIP_MODEL_INPUT ? 1.0 : b[n->in_a];
        if (!n->layer) {
            b[i] = a + (n->in_b == LIP_MODEL_INPUT ? 1.0 : b[n->in_b]);
            continue;
        }
        lip_layer_sv sv;
        st = lip_layer_singular_values(n->layer, options, &sv, NULL, 0);
        if (st != LIP_OK) break;
        if (sv.method == LIP_SV_NONE) {
            st = lip_set_error(ctx, LIP_ERR_UNSUPPORTED,
                               "lip_model_lipschitz_product: %s '%s' (node %zu) has no kernel and no Lipschitz bound",
                               n->layer->vt->type, n->layer->name, i);
            break;
        }
        if (sv.method == LIP_SV_BOUND) {
            double lb = 0;
            int per_neuron = 0;
            st = lip_layer_lipschitz_bound(n->layer, &lb, &per_neuron);
            if (st == LIP_OK && per_neuron && i + 1 != m->node_count)
                st = lip_set_error(ctx, LIP_ERR_UNSUPPORTED,
                                   "lip_model_lipschitz_product: %s '%s' bounds each output neuron only and is not "
                                   "the output layer",
                                   n->layer->vt->type, n->layer->name);
        }
        b[i] = sv.sigma_max * a;
    }
    if (st == LIP_OK) *product = b[m->node_count - 1];
    free(b);
    return st;
}

/* ---- empirical lower bound ---------------------------------------------------------------------- */

/* ‖a − b‖₂ over n floats, in double. */
static double dist(const float *a, const float *b, size_t n) {
    double acc = 0;
    for (size_t k = 0; k < n; k++) {
        double t = (double)a[k] - b[k];
        acc += t * t;
    }
    return sqrt(acc);
}

/* Power iteration on each sample's JᵀJ (deel-lip ≥ 1.5.1 measures ‖J(x)‖₂): from the first random
 * direction v of each sample, per step u = (f(x + eps·v) − f(x))/eps (a forward difference: J v) and
 * v ← Jᵀu/‖Jᵀu‖ (lip_model_backward at x). Every step's pair (x, x + eps·v) is a real pair: its ratio
 * joins the max, so the result stays a lower bound whatever the Jacobian approximation's error. */
static lip_status refine(lip_model *m, const lip_lipschitz_estimate_options *o, const float *rows, size_t ns,
                         size_t per, size_t d, size_t od, double *best) {
    lip_context *ctx = m->ctx;
    size_t xs[LIP_MAX_DIMS + 1], ys[LIP_MAX_DIMS + 1];
    int ondim = 0;
    size_t oshape[LIP_MAX_DIMS];
    LIP_TRY(lip_model_output_shape(m, &ondim, oshape));
    xs[0] = ys[0] = ns;
    for (int i = 0; i < m->in_ndim; i++) xs[i + 1] = m->in_shape[i];
    for (int i = 0; i < ondim; i++) ys[i + 1] = oshape[i];
    float *x = malloc(ns * d * sizeof *x), *xp = malloc(ns * d * sizeof *xp), *v = malloc(ns * d * sizeof *v);
    float *y = malloc(ns * od * sizeof *y), *yp = malloc(ns * od * sizeof *yp);
    lip_tensor *tx = NULL, *txp = NULL, *ty = NULL, *typ = NULL, *tdx = NULL;
    lip_status st = LIP_OK;
    if (!x || !xp || !v || !y || !yp) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_estimate_lipschitz: out of host memory");
        goto fail;
    }
    for (size_t s = 0; s < ns; s++) {
        memcpy(x + s * d, rows + s * per * d, d * sizeof *x);
        const float *p1 = rows + (s * per + 1) * d; /* the first perturbation's direction */
        double nn = dist(p1, x + s * d, d);
        for (size_t k = 0; k < d; k++) v[s * d + k] = (float)(((double)p1[k] - x[s * d + k]) / (nn > 0 ? nn : 1.0));
    }
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &tx));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &txp));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &tdx));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, ondim + 1, ys, &ty));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, ondim + 1, ys, &typ));
    LIP_TRY_GOTO(st, lip_tensor_upload(tx, x, ns * d * sizeof *x));
    for (int step = 0; step < o->power_steps; step++) {
        for (size_t i = 0; i < ns * d; i++) xp[i] = (float)((double)x[i] + o->eps * v[i]);
        LIP_TRY_GOTO(st, lip_tensor_upload(txp, xp, ns * d * sizeof *xp));
        LIP_TRY_GOTO(st, lip_model_predict(m, txp, typ, ns));
        LIP_TRY_GOTO(st, lip_tensor_download(typ, yp, ns * od * sizeof *yp));
        LIP_TRY_GOTO(st, lip_model_forward(m, tx, ty)); /* activations kept for the backward below */
        LIP_TRY_GOTO(st, lip_tensor_download(ty, y, ns * od * sizeof *y));
        for (size_t s = 0; s < ns; s++) {
            double dx = dist(x + s * d, xp + s * d, d), dy = dist(y + s * od, yp + s * od, od);
            if (dx > 0 && dy / dx > *best) *best = dy / dx;
            for (size_t k = 0; k < od; k++) /* u = J v, reusing yp */
                yp[s * od + k] = dx > 0 ? (float)(((double)yp[s * od + k] - y[s * od + k]) / dx) : 0.0f;
        }
        LIP_TRY_GOTO(st, lip_tensor_upload(typ, yp, ns * od * sizeof *yp));
        LIP_TRY_GOTO(st, lip_model_backward(m, typ, tdx, 0));
        LIP_TRY_GOTO(st, lip_tensor_download(tdx, v, ns * d * sizeof *v));
        for (size_t s = 0; s < ns; s++) {
            double nn = 0;
            for (size_t k = 0; k < d; k++) nn += (double)v[s * d + k] * v[s * d + k];
            nn = sqrt(nn);
            if (nn == 0) { /* a flat spot: keep a fixed direction */
                for (size_t k = 0; k < d; k++) v[s * d + k] = k == 0 ? 1.0f : 0.0f;
                continue;
            }
            for (size_t k = 0; k < d; k++) v[s * d + k] = (float)(v[s * d + k] / nn);
        }
    }
fail:
    lip_tensor_free(tx);
    lip_tensor_free(txp);
    lip_tensor_free(ty);
    lip_tensor_free(typ);
    lip_tensor_free(tdx);
    free(x);
    free(xp);
    free(v);
    free(y);
    free(yp);
    return st;
}

lip_status lip_model_estimate_lipschitz(lip_model *m, const lip_dataset *data,
                                        const lip_lipschitz_estimate_options *options, double *estimate) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, data && estimate, LIP_ERR_NULL, "lip_model_estimate_lipschitz: %s is NULL",
              data ? "estimate" : "data");
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_estimate_lipschitz: model '%s' is not built",
              m->name);
    lip_lipschitz_estimate_options o;
    memset(&o, 0, sizeof o);
    if (options) o = *options;
    if (!o.samples) o.samples = 64;
    if (!o.perturbations) o.perturbations = 8;
    if (o.eps == 0.0) o.eps = 0.05;
    if (o.power_steps == 0) o.power_steps = 10;
    LIP_CHECK(ctx, o.eps > 0 && isfinite(o.eps), LIP_ERR_INVALID_ARGUMENT,
              "lip_model_estimate_lipschitz: eps must be > 0 (got %g)", o.eps);
    size_t d = lip_dataset_sample_size(data), total = lip_dataset_count(data);
    LIP_CHECK(ctx, d == m->in_count, LIP_ERR_SHAPE,
              "lip_model_estimate_lipschitz: dataset samples have %zu values, model '%s' takes %zu", d, m->name,
              m->in_count);
    LIP_CHECK(ctx, total >= 1, LIP_ERR_INVALID_ARGUMENT, "lip_model_estimate_lipschitz: the dataset is empty");
    size_t ns = o.samples < total ? o.samples : total, per = 1 + o.perturbations, rows = ns * per;
    int ondim = 0;
    size_t oshape[LIP_MAX_DIMS];
    LIP_TRY(lip_model_output_shape(m, &ondim, oshape));
    size_t od = 1;
    for (int i = 0; i < ondim; i++) od *= oshape[i];
    const float *feat = lip_dataset_features(data);
    size_t *idx = malloc(total * sizeof *idx);
    float *x = malloc(rows * d * sizeof *x), *y = malloc(rows * od * sizeof *y);
    lip_tensor *tx = NULL, *ty = NULL;
    lip_status st = LIP_OK;
    if (!idx || !x || !y) {
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_estimate_lipschitz: out of host memory");
        goto fail;
    }
    uint64_t rng = o.seed ^ 0x4C69704573744Cull;
    for (size_t i = 0; i < total; i++) idx[i] = i;
    for (size_t i = 0; i < ns; i++) { /* partial Fisher–Yates: ns samples without replacement */
        size_t j = i + (size_t)(next_u64(&rng) % (total - i)), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    /* Row s·per holds sample s, rows s·per + 1.. its perturbations x + δ (‖δ‖ = eps, before rounding). */
    for (size_t s = 0; s < ns; s++) {
        const float *src = feat + idx[s] * d;
        memcpy(x + s * per * d, src, d * sizeof *x);
        for (size_t p = 1; p < per; p++) {
            float *dst = x + (s * per + p) * d;
            double nn = 0;
            for (size_t k = 0; k < d; k++) {
                double g = next_normal(&rng);
                dst[k] = (float)g;
                nn += g * g;
            }
            double f = o.eps / sqrt(nn > 0 ? nn : 1.0);
            for (size_t k = 0; k < d; k++) dst[k] = (float)((double)src[k] + f * dst[k]);
        }
    }
    size_t xs[LIP_MAX_DIMS + 1], ys[LIP_MAX_DIMS + 1];
    xs[0] = ys[0] = rows;
    for (int i = 0; i < m->in_ndim; i++) xs[i + 1] = m->in_shape[i];
    for (int i = 0; i < ondim; i++) ys[i + 1] = oshape[i];
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, m->in_ndim + 1, xs, &tx));
    LIP_TRY_GOTO(st, lip_tensor_create(ctx, LIP_FLOAT32, ondim + 1, ys, &ty));
    LIP_TRY_GOTO(st, lip_tensor_upload(tx, x, rows * d * sizeof *x));
    LIP_TRY_GOTO(st, lip_model_predict(m, tx, ty, o.batch_size));
    LIP_TRY_GOTO(st, lip_tensor_download(ty, y, rows * od * sizeof *y));
    /* The ratio of two rows, from the float inputs actually fed (so rounding of x + δ is accounted). */
    double best = 0.0;
    for (size_t s = 0; s < ns; s++) {
        for (size_t p = 0; p < per; p++) {
            size_t r1 = s * per, r2;
            if (p == 0) {
                if (s + 1 >= ns) continue; /* the pair (x_s, x_{s+1}) */
                r2 = (s + 1) * per;
            } else {
                r2 = s * per + p;
            }
            double dx = 0, dy = 0;
            for (size_t k = 0; k < d; k++) {
                double t = (double)x[r1 * d + k] - x[r2 * d + k];
                dx += t * t;
            }
            for (size_t k = 0; k < od; k++) {
                double t = (double)y[r1 * od + k] - y[r2 * od + k];
                dy += t * t;
            }
            if (dx > 0 && sqrt(dy / dx) > best) best = sqrt(dy / dx);
        }
    }
    if (o.power_steps > 0) LIP_TRY_GOTO(st, refine(m, &o, x, ns, per, d, od, &best));
    *estimate = best;
fail:
    lip_tensor_free(tx);
    lip_tensor_free(ty);
    free(idx);
    free(x);
    free(y);
    return st;
}
