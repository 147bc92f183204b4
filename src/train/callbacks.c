/* lipcl — stock fit callbacks: the singular value monitor, condense (deel-lip parity) and the model
 * checkpoint (every epoch or on improvement of a history column, "{epoch}" in the path). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lipcl/analysis.h"
#include "lipcl/io.h"
#include "train/model_internal.h"

/* ---- singular value monitor --------------------------------------------------------------------- */

static int monitored(const lip_layer *l) {
    static const char *const types[] = {"Dense",  "SpectralDense",   "FrobeniusDense",          "Conv2D",
                                        "SpectralConv2D", "FrobeniusConv2D", "Conv2DTranspose",
                                        "SpectralConv2DTranspose", NULL};
    if (!l || !l->vt->lipschitz_bound) return 0; /* unconstrained: not a Lipschitz layer */
    for (const char *const *t = types; *t; t++)
        if (!strcmp(l->vt->type, *t)) return 1;
    return 0;
}

static lip_status sv_grow(lip_context *ctx, lip_sv_monitor *s) {
    if (s->epochs < s->capacity) return LIP_OK;
    size_t cap = s->capacity ? 2 * s->capacity : 16, per = s->layers ? s->layers : 1;
    double *mn = realloc(s->sigma_min, cap * per * sizeof *mn);
    if (mn) s->sigma_min = mn;
    double *mx = mn ? realloc(s->sigma_max, cap * per * sizeof *mx) : NULL;
    if (mx) s->sigma_max = mx;
    size_t *ep = mx ? realloc(s->epoch_index, cap * sizeof *ep) : NULL;
    if (ep) s->epoch_index = ep;
    LIP_CHECK(ctx, mn && mx && ep, LIP_ERR_OUT_OF_HOST_MEMORY, "singular value monitor: out of host memory");
    s->capacity = cap;
    return LIP_OK;
}

static lip_status sv_epoch_end(lip_model *m, size_t epoch, const double *values, size_t n, int *stop, void *user) {
    (void)values;
    (void)n;
    (void)stop;
    lip_sv_monitor *s = user;
    size_t nodes = lip_model_node_count(m);
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, s, LIP_ERR_NULL, "singular value monitor: the state is NULL");
    if (!s->nodes) { /* first epoch: fix the monitored layers */
        size_t count = 0;
        for (size_t i = 0; i < nodes; i++) count += monitored(lip_model_layer(m, i));
        s->nodes = calloc(count ? count : 1, sizeof *s->nodes);
        LIP_CHECK(ctx, s->nodes, LIP_ERR_OUT_OF_HOST_MEMORY, "singular value monitor: out of host memory");
        s->layers = 0;
        for (size_t i = 0; i < nodes; i++)
            if (monitored(lip_model_layer(m, i))) s->nodes[s->layers++] = i;
    }
    LIP_TRY(sv_grow(ctx, s));
    FILE *f = NULL;
    if (s->csv_path) {
        f = fopen(s->csv_path, "a");
        LIP_CHECK(ctx, f, LIP_ERR_IO, "singular value monitor: cannot open '%s' for appending", s->csv_path);
        if (ftell(f) == 0) fprintf(f, "epoch,node,layer,sigma_min,sigma_max\n");
    }
    lip_status st = LIP_OK;
    size_t row = s->epochs;
    for (size_t i = 0; i < s->layers && st == LIP_OK; i++) {
        lip_layer *l = lip_model_layer(m, s->nodes[i]);
        lip_layer_sv sv;
        st = lip_layer_singular_values(l, &s->options, &sv, NULL, 0);
        if (st != LIP_OK) break;
        s->sigma_min[row * s->layers + i] = sv.sigma_min;
        s->sigma_max[row * s->layers + i] = sv.sigma_max;
        if (f)
            fprintf(f, "%zu,%zu,%s,%.9g,%.9g\n", epoch, s->nodes[i], l->name[0] ? l->name : l->vt->type,
                    sv.sigma_min, sv.sigma_max);
    }
    if (f && fclose(f) != 0 && st == LIP_OK)
        st = lip_set_error(ctx, LIP_ERR_IO, "singular value monitor: writing '%s' failed", s->csv_path);
    if (st != LIP_OK) return st;
    s->epoch_index[row] = epoch;
    s->epochs++;
    return LIP_OK;
}

lip_callback lip_callback_sv_monitor(lip_sv_monitor *state) {
    lip_callback c = {NULL, sv_epoch_end, state};
    return c;
}

void lip_sv_monitor_free(lip_sv_monitor *s) {
    if (!s) return;
    free(s->nodes);
    free(s->sigma_min);
    free(s->sigma_max);
    free(s->epoch_index);
    s->nodes = NULL;
    s->sigma_min = s->sigma_max = NULL;
    s->epoch_index = NULL;
    s->epochs = s->layers = s->capacity = 0;
}

/* ---- condense ----------------------------------------------------------------------------------- */

static lip_status condense_epoch_end(lip_model *m, size_t epoch, const double *values, size_t n, int *stop,
                                     void *user) {
    (void)epoch;
    (void)values;
    (void)n;
    (void)stop;
    (void)user;
    return lip_model_condense(m);
}

lip_callback lip_callback_condense(void) {
    lip_callback c = {NULL, condense_epoch_end, NULL};
    return c;
}

/* ---- model checkpoint --------------------------------------------------------------------------- */

/* path with every "{epoch}" replaced by `number`, malloc'ed (NULL when out of memory). */
static char *expand_path(const char *path, size_t number) {
    char num[32];
    int nl = snprintf(num, sizeof num, "%zu", number);
    size_t len = strlen(path), hits = 0;
    for (const char *p = strstr(path, "{epoch}"); p; p = strstr(p + 7, "{epoch}")) hits++;
    char *out = malloc(len + hits * (size_t)nl + 1);
    if (!out) return NULL;
    char *o = out;
    for (const char *p = path; *p;) {
        if (!strncmp(p, "{epoch}", 7)) {
            memcpy(o, num, (size_t)nl);
            o += nl;
            p += 7;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static lip_status checkpoint_epoch_end(lip_model *m, size_t epoch, const double *values, size_t n, int *stop,
                                       void *user) {
    (void)stop;
    lip_model_checkpoint *s = user;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, s, LIP_ERR_NULL, "model checkpoint: the state is NULL");
    LIP_CHECK(ctx, s->path && *s->path, LIP_ERR_INVALID_ARGUMENT, "model checkpoint: the path is empty");
    if (s->monitor) {
        size_t col = n;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(lip_model_history_column(m, i), s->monitor)) col = i;
        LIP_CHECK(ctx, col < n, LIP_ERR_INVALID_ARGUMENT,
                  "model checkpoint: no history column '%s' (columns are loss, metric names, val_...)", s->monitor);
        int mode = s->mode ? s->mode : strstr(s->monitor, "loss") ? -1 : 1;
        double v = values[col];
        int better = !s->started || (mode > 0 ? v > s->best + s->min_delta : v < s->best - s->min_delta);
        if (!better || isnan(v)) return LIP_OK;
        s->best = v;
        s->started = 1;
    }
    char *path = expand_path(s->path, epoch + 1);
    LIP_CHECK(ctx, path, LIP_ERR_OUT_OF_HOST_MEMORY, "model checkpoint: out of host memory");
    lip_status st = lip_model_save(m, path, s->flags);
    free(path);
    if (st != LIP_OK) return st;
    s->saved++;
    s->last_epoch = epoch + 1;
    return LIP_OK;
}

lip_callback lip_callback_model_checkpoint(lip_model_checkpoint *state) {
    lip_callback c = {NULL, checkpoint_epoch_end, state};
    if (state) {
        state->started = 0;
        state->saved = 0;
        state->last_epoch = 0;
    }
    return c;
}
