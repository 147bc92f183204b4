/* lipcl CLI — parser of the model description (one layer per line, "Type key=value ...", # comments)
 * into a built lip_model; every error names the file and the line. Format: doc/cli.md. */
#define _POSIX_C_SOURCE 200809L
#include "model_cfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KV 32
#define MAX_ASKED 40

typedef struct kv {
    char *key, *val;
    int used;
} kv;

typedef struct parser {
    lip_context *ctx;
    const char *src;
    int line;
    char *err;
    size_t err_size;
    lip_status st;     /* first error */
    const char *type;  /* the layer type being read */
    kv kv[MAX_KV];
    size_t nkv;
    const char *asked[MAX_ASKED]; /* the keys this layer type reads (for the unknown-key message) */
    size_t nasked;
} parser;

static void fail(parser *p, lip_status st, const char *fmt, ...) {
    if (p->st != LIP_OK) return;
    p->st = st;
    int n = p->line > 0 ? snprintf(p->err, p->err_size, "%s:%d: ", p->src, p->line)
                        : snprintf(p->err, p->err_size, "%s: ", p->src);
    if (n < 0 || (size_t)n >= p->err_size) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
    va_end(ap);
}

/* The value of key (or its alias), marked used; NULL when absent. Records the key for messages. */
static const char *find(parser *p, const char *key, const char *alias) {
    if (p->nasked < MAX_ASKED) p->asked[p->nasked++] = key;
    for (size_t i = 0; i < p->nkv; i++)
        if (!strcmp(p->kv[i].key, key) || (alias && !strcmp(p->kv[i].key, alias))) {
            p->kv[i].used = 1;
            return p->kv[i].val;
        }
    return NULL;
}

static int parse_size(const char *s, size_t *v) {
    if (!s || !*s || *s == '-' || *s == '+') return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > 0x7fffffffull) return 0;
    *v = (size_t)x;
    return 1;
}

static void get_size(parser *p, const char *key, const char *alias, size_t *v, int required) {
    const char *s = find(p, key, alias);
    if (!s) {
        if (required) fail(p, LIP_ERR_FORMAT, "%s: missing %s=N", p->type, key);
        return;
    }
    if (!parse_size(s, v)) fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not a whole number >= 0", p->type, key, s);
}

static void get_int(parser *p, const char *key, const char *alias, int *v) {
    size_t x = (size_t)*v;
    get_size(p, key, alias, &x, 0);
    *v = (int)x;
}

static void get_float(parser *p, const char *key, const char *alias, float *v) {
    const char *s = find(p, key, alias);
    if (!s) return;
    char *end = NULL;
    double x = strtod(s, &end);
    if (!*s || *end || !isfinite(x) || fabs(x) > 3.0e38)
        fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not a finite number", p->type, key, s);
    else
        *v = (float)x;
}

static void get_bool(parser *p, const char *key, const char *alias, int *v) {
    const char *s = find(p, key, alias);
    if (!s) return;
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes"))
        *v = 1;
    else if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no"))
        *v = 0;
    else
        fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not 0 or 1", p->type, key, s);
}

/* "3" (square) or "3x5" / "3,5" (height, width). */
static void get_pair(parser *p, const char *key, size_t *h, size_t *w, int required) {
    const char *s = find(p, key, NULL);
    if (!s) {
        if (required) fail(p, LIP_ERR_FORMAT, "%s: missing %s=N (or HxW)", p->type, key);
        return;
    }
    char a[32], b[32] = "";
    size_t cut = strcspn(s, "x,");
    if (cut >= sizeof a || strlen(s) - cut >= sizeof b) {
        fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not N or HxW", p->type, key, s);
        return;
    }
    memcpy(a, s, cut);
    a[cut] = 0;
    if (s[cut]) strcpy(b, s + cut + 1);
    size_t x = 0, y = 0;
    if (!parse_size(a, &x) || (s[cut] && !parse_size(b, &y))) {
        fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not N or HxW", p->type, key, s);
        return;
    }
    *h = x;
    *w = s[cut] ? y : x;
}

/* One of names[] (case-insensitive); values[i] is stored. */
static void get_enum(parser *p, const char *key, const char *alias, const char *const *names, const int *values,
                     size_t n, int *v) {
    const char *s = find(p, key, alias);
    if (!s) return;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s, names[i])) {
            *v = values[i];
            return;
        }
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    fail(p, LIP_ERR_FORMAT, "%s: %s=%s is not one of %s", p->type, key, s, list);
}

static void get_init(parser *p, const char *key, const char *alias, lip_init *v) {
    static const char *const names[] = {"default", "glorot_uniform", "orthogonal", "zeros", "spectral"};
    static const int values[] = {LIP_INIT_DEFAULT, LIP_INIT_GLOROT_UNIFORM, LIP_INIT_ORTHOGONAL, LIP_INIT_ZEROS,
                                 LIP_INIT_SPECTRAL};
    int x = (int)*v;
    get_enum(p, key, alias, names, values, 5, &x);
    *v = (lip_init)x;
}

static void get_padding(parser *p, lip_padding *v) {
    static const char *const names[] = {"same", "valid"};
    static const int values[] = {LIP_PADDING_SAME, LIP_PADDING_VALID};
    int x = (int)*v;
    get_enum(p, "padding", NULL, names, values, 2, &x);
    *v = (lip_padding)x;
}

static void get_spectral(parser *p, float *eps_spectral, int *maxiter_spectral, float *eps_bjorck, float *beta_bjorck,
                         int *maxiter_bjorck) {
    get_float(p, "eps_spectral", NULL, eps_spectral);
    get_int(p, "maxiter_spectral", NULL, maxiter_spectral);
    get_float(p, "eps_bjorck", NULL, eps_bjorck);
    get_float(p, "beta_bjorck", NULL, beta_bjorck);
    get_int(p, "maxiter_bjorck", NULL, maxiter_bjorck);
}

#define IS(t) (!strcasecmp(type, t))

/* Read the options of one layer line and create the layer (NULL with p->st set on failure). */
static lip_layer *make_layer(parser *p, const char *type) {
    lip_context *ctx = p->ctx;
    lip_layer *l = NULL;
    lip_status st = LIP_OK;
    const char *name = find(p, "name", NULL);
    float k = 1.0f;
    if (IS("Dense") || IS("SpectralDense") || IS("FrobeniusDense")) {
        lip_dense_config c = lip_dense_config_default(1);
        get_size(p, "units", NULL, &c.units, 1);
        get_bool(p, "bias", "use_bias", &c.use_bias);
        get_init(p, "init", "kernel_init", &c.kernel_init);
        get_init(p, "bias_init", NULL, &c.bias_init);
        if (!IS("Dense")) get_float(p, "k", "k_coef_lip", &c.k_coef_lip);
        if (IS("SpectralDense"))
            get_spectral(p, &c.eps_spectral, &c.maxiter_spectral, &c.eps_bjorck, &c.beta_bjorck, &c.maxiter_bjorck);
        if (IS("FrobeniusDense")) get_bool(p, "disjoint", "disjoint_neurons", &c.disjoint_neurons);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("Dense")           ? lip_dense_create(ctx, &c, name, &l)
             : IS("SpectralDense") ? lip_spectral_dense_create(ctx, &c, name, &l)
                                   : lip_frobenius_dense_create(ctx, &c, name, &l);
    } else if (IS("Conv2D") || IS("SpectralConv2D") || IS("FrobeniusConv2D") || IS("Conv2DTranspose") ||
               IS("SpectralConv2DTranspose")) {
        lip_conv2d_config c = lip_conv2d_config_default(1, 1, 1);
        int lipschitz = !IS("Conv2D") && !IS("Conv2DTranspose");
        get_size(p, "filters", NULL, &c.filters, 1);
        get_pair(p, "kernel", &c.kernel_h, &c.kernel_w, 1);
        get_pair(p, "stride", &c.stride_h, &c.stride_w, 0);
        get_padding(p, &c.padding);
        static const char *const pads[] = {"zeros", "reflect", "symmetric", "circular"};
        static const int padv[] = {LIP_PAD_ZEROS, LIP_PAD_REFLECT, LIP_PAD_SYMMETRIC, LIP_PAD_CIRCULAR};
        int pm = (int)c.pad_mode;
        if (!IS("Conv2DTranspose") && !IS("SpectralConv2DTranspose")) get_enum(p, "pad_mode", NULL, pads, padv, 4, &pm);
        c.pad_mode = (lip_pad_mode)pm;
        get_bool(p, "bias", "use_bias", &c.use_bias);
        get_init(p, "init", "kernel_init", &c.kernel_init);
        get_init(p, "bias_init", NULL, &c.bias_init);
        if (lipschitz) {
            get_float(p, "k", "k_coef_lip", &c.k_coef_lip);
            static const char *const modes[] = {"strict", "deel_lip"};
            static const int modev[] = {LIP_CONV_COEF_STRICT, LIP_CONV_COEF_DEEL_LIP};
            int cm = (int)c.coef_mode;
            get_enum(p, "coef_mode", NULL, modes, modev, 2, &cm);
            c.coef_mode = (lip_conv_coef_mode)cm;
        }
        if (IS("SpectralConv2D") || IS("SpectralConv2DTranspose"))
            get_spectral(p, &c.eps_spectral, &c.maxiter_spectral, &c.eps_bjorck, &c.beta_bjorck, &c.maxiter_bjorck);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("Conv2D")            ? lip_conv2d_create(ctx, &c, name, &l)
             : IS("SpectralConv2D")  ? lip_spectral_conv2d_create(ctx, &c, name, &l)
             : IS("FrobeniusConv2D") ? lip_frobenius_conv2d_create(ctx, &c, name, &l)
             : IS("Conv2DTranspose") ? lip_conv2d_transpose_create(ctx, &c, name, &l)
                                     : lip_spectral_conv2d_transpose_create(ctx, &c, name, &l);
    } else if (IS("ScaledL2NormPooling2D") || IS("ScaledAveragePooling2D") || IS("MaxPooling2D")) {
        lip_pool2d_config c = lip_pool2d_config_default();
        get_pair(p, "pool", &c.pool_h, &c.pool_w, 0);
        get_pair(p, "stride", &c.stride_h, &c.stride_w, 0);
        get_padding(p, &c.padding);
        if (!IS("MaxPooling2D")) get_float(p, "k", "k_coef_lip", &c.k_coef_lip);
        if (IS("ScaledL2NormPooling2D")) get_float(p, "eps_grad_sqrt", NULL, &c.eps_grad_sqrt);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("MaxPooling2D")            ? lip_max_pooling2d_create(ctx, &c, name, &l)
             : IS("ScaledL2NormPooling2D") ? lip_scaled_l2norm_pooling2d_create(ctx, &c, name, &l)
                                           : lip_scaled_average_pooling2d_create(ctx, &c, name, &l);
    } else if (IS("ScaledGlobalL2NormPooling2D") || IS("ScaledGlobalAveragePooling2D")) {
        float eps = 1e-6f;
        get_float(p, "k", "k_coef_lip", &k);
        if (IS("ScaledGlobalL2NormPooling2D")) get_float(p, "eps_grad_sqrt", NULL, &eps);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("ScaledGlobalL2NormPooling2D") ? lip_scaled_global_l2norm_pooling2d_create(ctx, k, eps, name, &l)
                                               : lip_scaled_global_average_pooling2d_create(ctx, k, name, &l);
    } else if (IS("InvertibleDownSampling") || IS("InvertibleUpSampling")) {
        size_t ph = 2, pw = 2;
        get_pair(p, "pool", &ph, &pw, 0);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("InvertibleDownSampling") ? lip_invertible_downsampling_create(ctx, ph, pw, name, &l)
                                          : lip_invertible_upsampling_create(ctx, ph, pw, name, &l);
    } else if (IS("Flatten") || IS("ReLU")) {
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        st = IS("Flatten") ? lip_flatten_create(ctx, name, &l) : lip_relu_create(ctx, name, &l);
    } else if (IS("Reshape")) {
        const char *s = find(p, "shape", NULL);
        size_t shape[LIP_MAX_DIMS] = {0};
        int nd = 0;
        if (!s) {
            fail(p, LIP_ERR_FORMAT, "Reshape: missing shape=D1,D2,... (0 = inferred)");
            return NULL;
        }
        char buf[128];
        snprintf(buf, sizeof buf, "%s", s);
        for (char *save = NULL, *t = strtok_r(buf, ",x", &save); t; t = strtok_r(NULL, ",x", &save)) {
            if (nd == 3 || !parse_size(t, &shape[nd])) {
                fail(p, LIP_ERR_FORMAT, "Reshape: shape=%s is not 1 to 3 whole numbers D1,D2,D3", s);
                return NULL;
            }
            nd++;
        }
        if (nd == 0) {
            fail(p, LIP_ERR_FORMAT, "Reshape: shape=%s is empty", s);
            return NULL;
        }
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        st = lip_reshape_create(ctx, nd, shape, name, &l);
    } else if (IS("GroupSort") || IS("GroupSort2") || IS("FullSort") || IS("MaxMin")) {
        size_t n = 2;
        if (IS("GroupSort")) get_size(p, "n", NULL, &n, 0);
        get_float(p, "k", "k_coef_lip", &k);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("GroupSort")    ? lip_groupsort_create(ctx, n, k, name, &l)
             : IS("GroupSort2") ? lip_groupsort2_create(ctx, k, name, &l)
             : IS("FullSort")   ? lip_fullsort_create(ctx, k, name, &l)
                                : lip_maxmin_create(ctx, k, name, &l);
    } else if (IS("Householder") || IS("PReLUlip")) {
        float theta = 1.57079632679489661923f;
        get_float(p, "k", "k_coef_lip", &k);
        if (IS("Householder")) get_float(p, "theta", "theta_init", &theta);
        for (size_t i = 0; i < p->nkv; i++)
            if (!p->kv[i].used) return NULL;
        if (p->st != LIP_OK) return NULL;
        st = IS("Householder") ? lip_householder_create(ctx, k, theta, name, &l) : lip_prelu_lip_create(ctx, k, name, &l);
    } else {
        fail(p, LIP_ERR_FORMAT,
             "unknown layer type '%s' (known: input, Dense, SpectralDense, FrobeniusDense, Conv2D, SpectralConv2D, "
             "FrobeniusConv2D, Conv2DTranspose, SpectralConv2DTranspose, GroupSort, GroupSort2, FullSort, MaxMin, "
             "ReLU, Householder, PReLUlip, ScaledL2NormPooling2D, ScaledAveragePooling2D, MaxPooling2D, "
             "ScaledGlobalL2NormPooling2D, ScaledGlobalAveragePooling2D, InvertibleDownSampling, "
             "InvertibleUpSampling, Flatten, Reshape)",
             type);
        return NULL;
    }
    if (p->st != LIP_OK) {
        lip_layer_free(l);
        return NULL;
    }
    if (st != LIP_OK) {
        fail(p, st, "%s", lip_context_last_error(ctx)); /* the library's message names the type */
        lip_layer_free(l);
        return NULL;
    }
    return l;
}

/* After make_layer returned NULL without an error: an option the type does not read. */
static void unknown_keys(parser *p) {
    for (size_t i = 0; i < p->nkv && p->st == LIP_OK; i++) {
        if (p->kv[i].used) continue;
        char list[512] = "";
        for (size_t j = 0; j < p->nasked; j++) {
            int dup = 0;
            for (size_t q = 0; q < j; q++) dup |= !strcmp(p->asked[q], p->asked[j]);
            if (dup) continue;
            strncat(list, *list ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, p->asked[j], sizeof list - strlen(list) - 1);
        }
        fail(p, LIP_ERR_FORMAT, "unknown key '%s' for %s (keys: %s)", p->kv[i].key, p->type,
             *list ? list : "none");
    }
}

#undef IS

lip_status cli_model_from_text(lip_context *ctx, const char *text, const char *source, lip_model **out, char *err,
                               size_t err_size) {
    parser p = {0};
    p.ctx = ctx;
    p.src = source ? source : "model";
    p.err = err;
    p.err_size = err_size;
    if (err_size) err[0] = 0;
    *out = NULL;
    char *buf = strdup(text);
    if (!buf) return LIP_ERR_OUT_OF_HOST_MEMORY;

    /* model name: the file's base name without its extension */
    char mname[64];
    const char *base = strrchr(p.src, '/');
    snprintf(mname, sizeof mname, "%s", base ? base + 1 : p.src);
    char *dot = strrchr(mname, '.');
    if (dot && dot != mname) *dot = 0;
    lip_model *m = NULL;
    lip_status st = lip_model_create(ctx, mname, &m);
    if (st != LIP_OK) {
        fail(&p, st, "%s", lip_context_last_error(ctx));
        free(buf);
        return st;
    }
    int in_ndim = 0, layers = 0;
    size_t in_shape[LIP_MAX_DIMS] = {0};
    char *save_line = NULL;
    int lineno = 0;
    /* strtok_r would skip empty lines and lose the count: split by hand */
    for (char *line = buf; line && p.st == LIP_OK; line = save_line) {
        char *nl = strchr(line, '\n');
        save_line = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        p.line = ++lineno;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *tok[MAX_KV + 2];
        int nt = 0;
        for (char *s2 = NULL, *t = strtok_r(line, " \t\r", &s2); t; t = strtok_r(NULL, " \t\r", &s2)) {
            if (nt == MAX_KV + 1) {
                fail(&p, LIP_ERR_FORMAT, "too many options on one line (at most %d)", MAX_KV);
                break;
            }
            tok[nt++] = t;
        }
        if (p.st != LIP_OK || nt == 0) continue;
        if (!strcasecmp(tok[0], "input")) {
            if (in_ndim) {
                fail(&p, LIP_ERR_FORMAT, "a second 'input' line (the input shape is given once, first)");
                break;
            }
            if (layers) {
                fail(&p, LIP_ERR_FORMAT, "'input' must come before the layers");
                break;
            }
            if (nt < 2 || nt > 4) {
                fail(&p, LIP_ERR_FORMAT, "'input' takes 1 to 3 sizes (e.g. 'input 28 28 1' or 'input 2')");
                break;
            }
            for (int i = 1; i < nt; i++)
                if (!parse_size(tok[i], &in_shape[i - 1]) || in_shape[i - 1] == 0) {
                    fail(&p, LIP_ERR_FORMAT, "input: '%s' is not a size >= 1", tok[i]);
                    break;
                }
            in_ndim = nt - 1;
            continue;
        }
        if (!in_ndim) {
            fail(&p, LIP_ERR_FORMAT, "the first line must be 'input D1 [D2 [D3]]' (the per-sample shape), not '%s'",
                 tok[0]);
            break;
        }
        p.type = tok[0];
        p.nkv = 0;
        p.nasked = 0;
        for (int i = 1; i < nt && p.st == LIP_OK; i++) {
            char *eq = strchr(tok[i], '=');
            if (!eq || eq == tok[i]) {
                fail(&p, LIP_ERR_FORMAT, "%s: expected key=value, got '%s'", p.type, tok[i]);
                break;
            }
            *eq = 0;
            for (size_t j = 0; j < p.nkv; j++)
                if (!strcmp(p.kv[j].key, tok[i])) fail(&p, LIP_ERR_FORMAT, "%s: key '%s' given twice", p.type, tok[i]);
            p.kv[p.nkv].key = tok[i];
            p.kv[p.nkv].val = eq + 1;
            p.kv[p.nkv].used = 0;
            p.nkv++;
        }
        if (p.st != LIP_OK) break;
        lip_layer *l = make_layer(&p, tok[0]);
        if (!l) {
            unknown_keys(&p);
            if (p.st == LIP_OK) fail(&p, LIP_ERR_INTERNAL, "%s: layer not created", p.type);
            break;
        }
        st = lip_model_add(m, l);
        if (st != LIP_OK) fail(&p, st, "%s: %s", p.type, lip_context_last_error(ctx));
        layers++;
    }
    p.type = NULL;
    if (p.st == LIP_OK) {
        p.line = 0;
        if (!in_ndim)
            fail(&p, LIP_ERR_FORMAT, "no 'input' line (the first line must give the per-sample shape)");
        else if (!layers)
            fail(&p, LIP_ERR_FORMAT, "no layers after the 'input' line");
        else if ((st = lip_model_build(m, in_ndim, in_shape)) != LIP_OK)
            fail(&p, st, "building the model: %s", lip_context_last_error(ctx));
    }
    free(buf);
    if (p.st != LIP_OK) {
        lip_model_free(m);
        return p.st;
    }
    *out = m;
    return LIP_OK;
}

lip_status cli_model_from_cfg(lip_context *ctx, const char *path, lip_model **out, char *err, size_t err_size) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return LIP_ERR_IO;
    }
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    for (;;) {
        if (!text) break;
        size_t got = fread(text + n, 1, cap - n - 1, f);
        n += got;
        if (n < cap - 1) break;
        char *t = cap > (1u << 20) ? NULL : realloc(text, cap * 2);
        if (!t) {
            free(text);
            text = NULL;
            break;
        }
        text = t;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        free(text);
        snprintf(err, err_size, "%s: %s", path, bad ? "read error" : "too large for a model description (> 1 MiB)");
        return LIP_ERR_IO;
    }
    text[n] = 0;
    if (strlen(text) != n) {
        free(text);
        snprintf(err, err_size, "%s: not a text file (NUL byte)", path);
        return LIP_ERR_FORMAT;
    }
    lip_status st = cli_model_from_text(ctx, text, path, out, err, err_size);
    free(text);
    return st;
}
