/* lipcl — model files (doc/file-format.md): a checksummed little-endian container holding the graph, each
 * layer's type and creation options, every parameter tensor and optionally the training state. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lipcl/io.h"
#include "train/model_internal.h"

#define MAGIC "LIPCLMDL"
#define HEADER_SIZE 24u  /* magic, version, flags, payload length */
#define TRAILER_SIZE 8u  /* FNV-1a 64 of everything before it */
#define FNV_OFFSET 14695981039346656037ULL
#define MAX_STRING 4096u

/* ---- writer: a growing host buffer, explicit little-endian encoding ------------------------------ */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put_bytes(wbuf *w, const void *data, size_t n) {
    if (w->oom || n == 0) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        unsigned char *g = realloc(w->p, cap);
        if (!g) {
            w->oom = 1;
            return;
        }
        w->p = g;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_u64(wbuf *w, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, 8);
}

static void put_u32(wbuf *w, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, 4);
}

static void put_u8(wbuf *w, unsigned v) {
    unsigned char b = (unsigned char)v;
    put_bytes(w, &b, 1);
}

static void put_i32(wbuf *w, int32_t v) { put_u32(w, (uint32_t)v); }

static void put_f32(wbuf *w, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(w, u);
}

static void put_f64(wbuf *w, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(w, u);
}

static void put_str(wbuf *w, const char *s) {
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put_bytes(w, s, n);
}

static void put_floats(wbuf *w, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) put_f32(w, f[i]);
}

/* ---- reader: every read is bounds-checked; the first failure sticks ----------------------------- */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    const char *bad; /* what could not be read, or NULL */
} rbuf;

static const unsigned char *take(rbuf *r, size_t n, const char *what) {
    if (r->bad) return NULL;
    if (n > r->len - r->pos) {
        r->bad = what;
        return NULL;
    }
    const unsigned char *q = r->p + r->pos;
    r->pos += n;
    return q;
}

static uint64_t get_u64(rbuf *r, const char *what) {
    const unsigned char *b = take(r, 8, what);
    uint64_t v = 0;
    for (int i = 0; b && i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t get_u32(rbuf *r, const char *what) {
    const unsigned char *b = take(r, 4, what);
    uint32_t v = 0;
    for (int i = 0; b && i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static unsigned get_u8(rbuf *r, const char *what) {
    const unsigned char *b = take(r, 1, what);
    return b ? b[0] : 0;
}

static int32_t get_i32(rbuf *r, const char *what) { return (int32_t)get_u32(r, what); }

static float get_f32(rbuf *r, const char *what) {
    uint32_t u = get_u32(r, what);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double get_f64(rbuf *r, const char *what) {
    uint64_t u = get_u64(r, what);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A string into buf (size > 0), refused if longer than size − 1 or holding a NUL. */
static void get_str(rbuf *r, char *buf, size_t size, const char *what) {
    buf[0] = '\0';
    uint32_t n = get_u32(r, what);
    if (r->bad) return;
    if (n >= size) {
        r->bad = what;
        return;
    }
    const unsigned char *s = take(r, n, what);
    if (!s) return;
    if (memchr(s, 0, n)) {
        r->bad = what;
        return;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
}

/* n float32 LE values at a place checked to hold them: their address (decoded later by decode_floats). */
static const unsigned char *take_floats(rbuf *r, uint64_t n, const char *what) {
    if (r->bad) return NULL;
    if (n > (r->len - r->pos) / 4) {
        r->bad = what;
        return NULL;
    }
    return take(r, (size_t)n * 4, what);
}

static void decode_floats(const unsigned char *b, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
                     (uint32_t)b[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

/* ---- the parsed file (host only; tensors point into the file buffer) ---------------------------- */

typedef struct file_param {
    char name[32];
    int ndim;
    size_t shape[LIP_MAX_DIMS], count;
    const unsigned char *data;
} file_param;

typedef struct file_node {
    int in_a, in_b, is_layer;
    char type[64], name[64];
    lip_layer_config cfg;
    size_t n_params;
    file_param params[LIP_LAYER_MAX_PARAMS];
} file_node;

typedef struct file_slot {
    uint64_t param_index;
    char name[32];
    size_t count;
    const unsigned char *data;
} file_slot;

typedef struct file_training {
    uint64_t step, epochs, rng[4];
    lip_loss_config loss;
    uint32_t n_loss_state;
    float loss_state[16];
    int has_optimizer;
    double learning_rate;
    uint64_t iterations;
    size_t n_slots;
    file_slot *slots;
} file_training;

typedef struct file_model {
    char *buf; /* the whole file */
    size_t size;
    uint32_t flags;
    char name[64];
    int in_ndim;
    size_t in_shape[LIP_MAX_DIMS];
    size_t n_nodes;
    file_node *nodes;
    file_training train;
} file_model;

static void file_model_free(file_model *f) {
    free(f->buf);
    free(f->nodes);
    free(f->train.slots);
    memset(f, 0, sizeof *f);
}

static lip_status parse_shape(rbuf *r, int *ndim, size_t *shape, size_t *count, const char *what) {
    uint32_t nd = get_u32(r, what);
    if (r->bad) return LIP_OK;
    if (nd < 1 || nd > LIP_MAX_DIMS) {
        r->bad = what;
        return LIP_OK;
    }
    size_t c = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t v = get_u64(r, what);
        if (r->bad) return LIP_OK;
        if (v < 1 || v > ((uint64_t)1 << 40) || c > (((uint64_t)1 << 40) / v)) {
            r->bad = what;
            return LIP_OK;
        }
        shape[d] = (size_t)v;
        c *= (size_t)v;
    }
    *ndim = (int)nd;
    if (count) *count = c;
    return LIP_OK;
}

/* Read `path` and check it completely: header, checksum, every record. */
static lip_status file_parse(lip_context *ctx, const char *path, file_model *f) {
    memset(f, 0, sizeof *f);
    LIP_TRY(lip_read_file(ctx, path, &f->buf, &f->size));
    const unsigned char *b = (const unsigned char *)f->buf;
    lip_status st = LIP_OK;
    if (f->size < 8 || memcmp(b, MAGIC, 8) != 0) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "'%s' is not a lipcl model file (no \"%s\" magic at the start)", path,
                           MAGIC);
        goto fail;
    }
    rbuf h = {b, f->size, 8, NULL};
    uint32_t version = get_u32(&h, "version");
    f->flags = get_u32(&h, "flags");
    uint64_t payload = get_u64(&h, "payload length");
    if (h.bad) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s' is truncated: %zu bytes, shorter than its header",
                           path, f->size);
        goto fail;
    }
    if (version == 0 || version > LIP_MODEL_FILE_VERSION) {
        st = lip_set_error(ctx, version ? LIP_ERR_UNSUPPORTED : LIP_ERR_FORMAT,
                           "model file '%s' has format version %u; this lipcl reads versions 1..%u", path, version,
                           LIP_MODEL_FILE_VERSION);
        goto fail;
    }
    if (payload != (uint64_t)f->size - HEADER_SIZE - TRAILER_SIZE || f->size < HEADER_SIZE + TRAILER_SIZE) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT,
                           "model file '%s' is truncated or has trailing data: %zu bytes, its header announces %llu",
                           path, f->size, (unsigned long long)(payload + HEADER_SIZE + TRAILER_SIZE));
        goto fail;
    }
    rbuf t = {b, f->size, f->size - TRAILER_SIZE, NULL};
    uint64_t stored = get_u64(&t, "checksum");
    uint64_t sum = lip_fnv1a(FNV_OFFSET, b, f->size - TRAILER_SIZE);
    if (stored != sum) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s' is corrupt: checksum %016llx, computed %016llx", path,
                           (unsigned long long)stored, (unsigned long long)sum);
        goto fail;
    }
    if (f->flags & ~(uint32_t)LIP_SAVE_TRAINING_STATE) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s': unknown flags 0x%x", path, f->flags);
        goto fail;
    }
    /* The checksum holds: what follows only fails for a file written by something else. */
    rbuf r = {b, f->size - TRAILER_SIZE, HEADER_SIZE, NULL};
    get_str(&r, f->name, sizeof f->name, "model name");
    parse_shape(&r, &f->in_ndim, f->in_shape, NULL, "input shape");
    if (!r.bad && f->in_ndim >= LIP_MAX_DIMS) r.bad = "input shape";
    uint32_t n_nodes = get_u32(&r, "node count");
    if (!r.bad && (n_nodes == 0 || n_nodes > 100000 || n_nodes > (r.len - r.pos) / 9)) r.bad = "node count";
    if (!r.bad) {
        f->nodes = calloc(n_nodes, sizeof *f->nodes);
        if (!f->nodes) {
            st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "loading '%s': out of host memory", path);
            goto fail;
        }
        f->n_nodes = n_nodes;
    }
    for (size_t i = 0; !r.bad && i < f->n_nodes; i++) {
        file_node *n = &f->nodes[i];
        n->in_a = get_i32(&r, "node input");
        n->in_b = get_i32(&r, "node input");
        n->is_layer = (int)get_u8(&r, "node kind");
        if (r.bad) break;
        if (n->in_a < -1 || n->in_a >= (int)i || n->is_layer > 1 ||
            (!n->is_layer && (n->in_b < -1 || n->in_b >= (int)i))) {
            r.bad = "node inputs (not an earlier node)";
            break;
        }
        if (!n->is_layer) continue;
        get_str(&r, n->type, sizeof n->type, "layer type");
        get_str(&r, n->name, sizeof n->name, "layer name");
        uint32_t nkv = get_u32(&r, "layer option count");
        if (!r.bad && nkv > LIP_LAYER_MAX_CONFIG) r.bad = "layer option count";
        for (uint32_t k = 0; !r.bad && k < nkv; k++) {
            get_str(&r, n->cfg.kv[k].key, sizeof n->cfg.kv[k].key, "layer option name");
            n->cfg.kv[k].value = get_f64(&r, "layer option value");
        }
        n->cfg.count = r.bad ? 0 : nkv;
        uint32_t np = get_u32(&r, "parameter count");
        if (!r.bad && np > LIP_LAYER_MAX_PARAMS) r.bad = "parameter count";
        for (uint32_t k = 0; !r.bad && k < np; k++) {
            file_param *p = &n->params[k];
            get_str(&r, p->name, sizeof p->name, "parameter name");
            parse_shape(&r, &p->ndim, p->shape, &p->count, "parameter shape");
            p->data = take_floats(&r, p->count, "parameter data");
        }
        n->n_params = r.bad ? 0 : np;
    }
    if (!r.bad && (f->flags & LIP_SAVE_TRAINING_STATE)) {
        file_training *tr = &f->train;
        tr->step = get_u64(&r, "step");
        tr->epochs = get_u64(&r, "epochs");
        for (int i = 0; i < 4; i++) tr->rng[i] = get_u64(&r, "RNG state");
        lip_loss_config *lc = &tr->loss;
        lc->kind = (lip_loss_kind)get_u32(&r, "loss kind");
        lc->alpha = get_f32(&r, "loss alpha");
        lc->min_margin = get_f32(&r, "loss min_margin");
        lc->tau = get_f32(&r, "loss tau");
        lc->alpha_mean = get_f32(&r, "loss alpha_mean");
        lc->temperature = get_f32(&r, "loss temperature");
        lc->multi_gpu = get_i32(&r, "loss multi_gpu");
        lc->from_logits = get_i32(&r, "loss from_logits");
        lc->reduction = (lip_reduction)get_i32(&r, "loss reduction");
        tr->n_loss_state = get_u32(&r, "loss state size");
        if (!r.bad && tr->n_loss_state > 16) r.bad = "loss state size";
        for (uint32_t i = 0; !r.bad && i < tr->n_loss_state; i++) tr->loss_state[i] = get_f32(&r, "loss state");
        tr->has_optimizer = (int)get_u8(&r, "optimizer flag");
        if (!r.bad && tr->has_optimizer > 1) r.bad = "optimizer flag";
        if (!r.bad && tr->has_optimizer) {
            tr->learning_rate = get_f64(&r, "learning rate");
            tr->iterations = get_u64(&r, "iterations");
            uint32_t ns = get_u32(&r, "slot count");
            if (!r.bad && ns > (r.len - r.pos) / 16) r.bad = "slot count";
            if (!r.bad && ns) {
                tr->slots = calloc(ns, sizeof *tr->slots);
                if (!tr->slots) {
                    st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "loading '%s': out of host memory", path);
                    goto fail;
                }
            }
            for (uint32_t i = 0; !r.bad && i < ns; i++) {
                file_slot *s = &tr->slots[i];
                s->param_index = get_u64(&r, "slot parameter");
                get_str(&r, s->name, sizeof s->name, "slot name");
                uint64_t c = get_u64(&r, "slot size");
                s->data = take_floats(&r, c, "slot data");
                s->count = (size_t)c;
            }
            tr->n_slots = r.bad ? 0 : ns;
        }
    }
    if (!r.bad && r.pos != r.len) r.bad = "end of the records (data left over)";
    if (r.bad) {
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s' is malformed: bad %s at byte %zu", path, r.bad, r.pos);
        goto fail;
    }
    return LIP_OK;
fail:
    file_model_free(f);
    return st;
}

/* ---- save ---------------------------------------------------------------------------------------- */

static lip_status put_tensor_data(lip_context *ctx, wbuf *w, const lip_tensor *t) {
    size_t n = t->count;
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "save: out of host memory");
    lip_status st = lip_tensor_download(t, h, n * sizeof *h);
    if (st == LIP_OK) put_floats(w, h, n);
    free(h);
    return st;
}

static void put_shape(wbuf *w, const lip_tensor *t) {
    put_u32(w, (uint32_t)t->ndim);
    for (int d = 0; d < t->ndim; d++) put_u64(w, t->shape[d]);
}

static lip_status save_training(lip_model *m, wbuf *w) {
    lip_context *ctx = m->ctx;
    model_training *t = &m->train;
    put_u64(w, t->step);
    put_u64(w, t->epochs);
    uint64_t rng[4];
    LIP_TRY(lip_random_get_state(ctx, rng));
    for (int i = 0; i < 4; i++) put_u64(w, rng[i]);
    lip_loss_config lc;
    LIP_TRY(lip_loss_get_config(t->loss, &lc));
    put_u32(w, (uint32_t)lc.kind);
    put_f32(w, lc.alpha);
    put_f32(w, lc.min_margin);
    put_f32(w, lc.tau);
    put_f32(w, lc.alpha_mean);
    put_f32(w, lc.temperature);
    put_i32(w, lc.multi_gpu);
    put_i32(w, lc.from_logits);
    put_i32(w, (int32_t)lc.reduction);
    size_t ns = 0;
    float state[16];
    LIP_TRY(lip_loss_state_size(t->loss, &ns));
    LIP_CHECK(ctx, ns <= 16, LIP_ERR_INTERNAL, "save: loss state of %zu floats", ns);
    if (ns) LIP_TRY(lip_loss_get_state(t->loss, state, ns));
    put_u32(w, (uint32_t)ns);
    put_floats(w, state, ns);
    put_u8(w, t->optimizer != NULL);
    if (!t->optimizer) return LIP_OK;
    double lr = 0;
    uint64_t it = 0;
    size_t slots = 0;
    LIP_TRY(lip_optimizer_learning_rate(t->optimizer, &lr));
    LIP_TRY(lip_optimizer_iterations(t->optimizer, &it));
    LIP_TRY(lip_optimizer_slot_count(t->optimizer, &slots));
    put_f64(w, lr);
    put_u64(w, it);
    put_u32(w, (uint32_t)slots);
    for (size_t i = 0; i < slots; i++) {
        lip_tensor *s = NULL;
        size_t pi = 0;
        const char *name = NULL;
        LIP_TRY(lip_optimizer_slot(t->optimizer, i, &s, &pi, &name));
        put_u64(w, pi);
        put_str(w, name ? name : "");
        put_u64(w, s->count);
        LIP_TRY(put_tensor_data(ctx, w, s));
    }
    return LIP_OK;
}

static lip_status save_payload(lip_model *m, unsigned flags, wbuf *w) {
    lip_context *ctx = m->ctx;
    put_str(w, m->name);
    put_u32(w, (uint32_t)m->in_ndim);
    for (int d = 0; d < m->in_ndim; d++) put_u64(w, m->in_shape[d]);
    put_u32(w, (uint32_t)m->node_count);
    for (size_t i = 0; i < m->node_count; i++) {
        const model_node *n = &m->nodes[i];
        put_i32(w, n->in_a);
        put_i32(w, n->layer ? -1 : n->in_b);
        put_u8(w, n->layer != NULL);
        if (!n->layer) continue;
        lip_layer *l = n->layer;
        LIP_CHECK(ctx, l->vt->get_config, LIP_ERR_UNSUPPORTED, "save: %s '%s' cannot be saved (no creation options)",
                  l->vt->type, l->name);
        lip_layer_config cfg;
        memset(&cfg, 0, sizeof cfg);
        LIP_TRY(l->vt->get_config(l, &cfg));
        put_str(w, l->vt->type);
        put_str(w, l->name);
        put_u32(w, (uint32_t)cfg.count);
        for (size_t k = 0; k < cfg.count; k++) {
            put_str(w, cfg.kv[k].key);
            put_f64(w, cfg.kv[k].value);
        }
        put_u32(w, (uint32_t)l->param_count);
        for (size_t k = 0; k < l->param_count; k++) {
            put_str(w, l->params[k].name);
            put_shape(w, l->params[k].value);
            LIP_TRY(put_tensor_data(ctx, w, l->params[k].value));
        }
    }
    if (flags & LIP_SAVE_TRAINING_STATE) LIP_TRY(save_training(m, w));
    return LIP_OK;
}

lip_status lip_model_save(lip_model *m, const char *path, unsigned flags) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, path, LIP_ERR_NULL, "lip_model_save: path is NULL");
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_save: model '%s' is not built", m->name);
    LIP_CHECK(ctx, !(flags & ~LIP_SAVE_TRAINING_STATE), LIP_ERR_INVALID_ARGUMENT, "lip_model_save: unknown flags 0x%x",
              flags);
    LIP_CHECK(ctx, !(flags & LIP_SAVE_TRAINING_STATE) || m->train.loss, LIP_ERR_INVALID_ARGUMENT,
              "lip_model_save: model '%s' is not compiled: there is no training state to save", m->name);
    wbuf w = {0};
    put_bytes(&w, MAGIC, 8);
    put_u32(&w, LIP_MODEL_FILE_VERSION);
    put_u32(&w, flags);
    put_u64(&w, 0); /* payload length, patched below */
    lip_status st = save_payload(m, flags, &w);
    if (st == LIP_OK && w.oom) st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_save: out of host memory");
    if (st == LIP_OK) {
        uint64_t payload = w.len - HEADER_SIZE;
        for (int i = 0; i < 8; i++) w.p[16 + i] = (unsigned char)(payload >> (8 * i));
        put_u64(&w, lip_fnv1a(FNV_OFFSET, w.p, w.len));
        if (w.oom) st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_save: out of host memory");
    }
    if (st == LIP_OK) st = lip_write_file_atomic(ctx, path, w.p, w.len);
    free(w.p);
    return st;
}

/* ---- load ---------------------------------------------------------------------------------------- */

/* Upload `count` LE floats to t. */
static lip_status upload_floats(lip_context *ctx, lip_tensor *t, const unsigned char *data, size_t count) {
    float *h = malloc((count ? count : 1) * sizeof *h);
    if (!h) return lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "load: out of host memory");
    decode_floats(data, h, count);
    lip_status st = lip_tensor_upload(t, h, count * sizeof *h);
    free(h);
    return st;
}

/* The layer's parameters have the file's names and shapes. */
static lip_status check_params(lip_context *ctx, const char *path, const lip_layer *l, const file_node *n) {
    LIP_CHECK(ctx, l->param_count == n->n_params, LIP_ERR_FORMAT, "model file '%s': %s '%s' has %zu parameters, the file %zu",
              path, l->vt->type, l->name, l->param_count, n->n_params);
    for (size_t k = 0; k < n->n_params; k++) {
        const file_param *p = &n->params[k];
        const lip_tensor *v = l->params[k].value;
        int same = strcmp(p->name, l->params[k].name) == 0 && p->ndim == v->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = p->shape[d] == v->shape[d];
        LIP_CHECK(ctx, same, LIP_ERR_FORMAT,
                  "model file '%s': parameter %zu of %s '%s' is '%s' of another shape than the layer's '%s'", path, k,
                  l->vt->type, l->name, p->name, l->params[k].name);
    }
    return LIP_OK;
}

static lip_status load_model(lip_context *ctx, const char *path, const file_model *f, lip_model **out) {
    lip_model *m = NULL;
    LIP_TRY(lip_model_create(ctx, f->name, &m));
    lip_status st = LIP_OK;
    for (size_t i = 0; st == LIP_OK && i < f->n_nodes; i++) {
        const file_node *n = &f->nodes[i];
        if (!n->is_layer) {
            st = lip_model_add_sum(m, n->in_a, n->in_b, NULL);
            continue;
        }
        lip_layer *l = NULL;
        st = lip_layer_from_config(ctx, n->type, n->name, &n->cfg, &l);
        if (st != LIP_OK) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", lip_context_last_error(ctx));
            st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s': node %zu: %s", path, i, msg);
            break;
        }
        st = lip_model_add_node(m, l, n->in_a, NULL);
    }
    /* Building draws initial weights from the context's stream: put it back as it was. */
    uint64_t rng[4];
    if (st == LIP_OK) st = lip_random_get_state(ctx, rng);
    if (st == LIP_OK) {
        st = lip_model_build(m, f->in_ndim, f->in_shape);
        lip_status st2 = lip_random_set_state(ctx, rng);
        if (st == LIP_OK) st = st2;
        else {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", lip_context_last_error(ctx));
            st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s': %s", path, msg);
        }
    }
    for (size_t i = 0; st == LIP_OK && i < f->n_nodes; i++) {
        const file_node *n = &f->nodes[i];
        if (!n->is_layer) continue;
        lip_layer *l = m->nodes[i].layer;
        st = check_params(ctx, path, l, n);
        for (size_t k = 0; st == LIP_OK && k < n->n_params; k++)
            st = upload_floats(ctx, l->params[k].value, n->params[k].data, n->params[k].count);
    }
    if (st == LIP_OK) st = lip_model_reparametrize(m);
    if (st != LIP_OK) {
        lip_model_free(m);
        return st;
    }
    *out = m;
    return LIP_OK;
}

lip_status lip_model_load(lip_context *ctx, const char *path, lip_model **out) {
    if (!ctx) return LIP_ERR_NULL;
    LIP_CHECK(ctx, path && out, LIP_ERR_NULL, "lip_model_load: path or out is NULL");
    *out = NULL;
    file_model f;
    LIP_TRY(file_parse(ctx, path, &f));
    lip_status st = load_model(ctx, path, &f, out);
    file_model_free(&f);
    return st;
}

/* The model has the file's graph, layer types and parameter shapes. */
static lip_status check_architecture(lip_model *m, const char *path, const file_model *f) {
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, m->node_count == f->n_nodes, LIP_ERR_INVALID_ARGUMENT,
              "model '%s' has %zu nodes, the file '%s' %zu", m->name, m->node_count, path, f->n_nodes);
    for (size_t i = 0; i < f->n_nodes; i++) {
        const file_node *n = &f->nodes[i];
        const model_node *mn = &m->nodes[i];
        LIP_CHECK(ctx, (mn->layer != NULL) == n->is_layer && mn->in_a == n->in_a &&
                           (n->is_layer || mn->in_b == n->in_b) &&
                           (!n->is_layer || strcmp(mn->layer->vt->type, n->type) == 0),
                  LIP_ERR_INVALID_ARGUMENT, "model '%s': node %zu differs from the file '%s' (%s)", m->name, i, path,
                  n->is_layer ? n->type : "a sum");
        if (n->is_layer) {
            lip_status st = check_params(ctx, path, mn->layer, n);
            if (st != LIP_OK) return lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT, "%s", lip_context_last_error(ctx));
        }
    }
    return LIP_OK;
}

static lip_status apply_training(lip_model *m, const char *path, const file_training *tr) {
    lip_context *ctx = m->ctx;
    model_training *t = &m->train;
    lip_loss_config lc;
    LIP_TRY(lip_loss_get_config(t->loss, &lc));
    LIP_CHECK(ctx, lc.kind == tr->loss.kind, LIP_ERR_INVALID_ARGUMENT,
              "model '%s' is compiled with the loss %s, the file '%s' holds the state of %s", m->name,
              lip_loss_kind_name(lc.kind), path, lip_loss_kind_name(tr->loss.kind));
    LIP_CHECK(ctx, (t->optimizer != NULL) == tr->has_optimizer, LIP_ERR_INVALID_ARGUMENT,
              "model '%s' is compiled %s an optimizer, the file '%s' was saved %s one", m->name,
              t->optimizer ? "with" : "without", path, tr->has_optimizer ? "with" : "without");
    size_t ns = 0;
    LIP_TRY(lip_loss_state_size(t->loss, &ns));
    LIP_CHECK(ctx, ns == tr->n_loss_state, LIP_ERR_INVALID_ARGUMENT, "model '%s': loss state of %zu floats, the file %u",
              m->name, ns, tr->n_loss_state);
    if (t->optimizer) {
        /* Slots are keyed by position; check them all before changing anything. */
        for (size_t i = 0; i < tr->n_slots; i++) {
            const file_slot *s = &tr->slots[i];
            LIP_CHECK(ctx, s->param_index < t->n_params && s->count == t->params[s->param_index]->count,
                      LIP_ERR_INVALID_ARGUMENT, "model '%s': optimizer slot %zu of the file '%s' fits no parameter",
                      m->name, i, path);
        }
        LIP_TRY(lip_optimizer_reset(t->optimizer));
        if (tr->n_slots) LIP_TRY(lip_optimizer_prepare(t->optimizer, t->n_params, t->params));
        size_t have = 0;
        LIP_TRY(lip_optimizer_slot_count(t->optimizer, &have));
        LIP_CHECK(ctx, have == tr->n_slots, LIP_ERR_INVALID_ARGUMENT,
                  "model '%s': the optimizer has %zu slots, the file '%s' %zu (another optimizer kind?)", m->name, have,
                  path, tr->n_slots);
        for (size_t i = 0; i < tr->n_slots; i++) {
            lip_tensor *s = NULL;
            size_t pi = 0;
            LIP_TRY(lip_optimizer_slot(t->optimizer, i, &s, &pi, NULL));
            LIP_CHECK(ctx, pi == tr->slots[i].param_index && s->count == tr->slots[i].count, LIP_ERR_INVALID_ARGUMENT,
                      "model '%s': optimizer slot %zu differs from the file '%s'", m->name, i, path);
            LIP_TRY(upload_floats(ctx, s, tr->slots[i].data, tr->slots[i].count));
        }
        LIP_TRY(lip_optimizer_set_iterations(t->optimizer, tr->iterations));
    }
    static const char *const names[] = {"alpha", "min_margin", "tau", "alpha_mean", "temperature"};
    const float values[] = {tr->loss.alpha, tr->loss.min_margin, tr->loss.tau, tr->loss.alpha_mean,
                            tr->loss.temperature};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        float cur = 0;
        if (lip_loss_get_param(t->loss, names[i], &cur) != LIP_OK) continue; /* a parameter this kind has not */
        lip_context_clear_error(ctx);
        if (cur != values[i]) LIP_TRY(lip_loss_set_param(t->loss, names[i], values[i]));
    }
    if (ns) LIP_TRY(lip_loss_set_state(t->loss, tr->loss_state, ns));
    LIP_TRY(lip_random_set_state(ctx, tr->rng));
    t->step = tr->step;
    return LIP_OK;
}

lip_status lip_model_load_training_state(lip_model *m, const char *path) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, path, LIP_ERR_NULL, "lip_model_load_training_state: path is NULL");
    LIP_CHECK(ctx, m->built && m->train.loss, LIP_ERR_INVALID_ARGUMENT,
              "lip_model_load_training_state: model '%s' is not compiled (lip_model_compile)", m->name);
    file_model f;
    LIP_TRY(file_parse(ctx, path, &f));
    lip_status st = LIP_OK;
    if (!(f.flags & LIP_SAVE_TRAINING_STATE))
        st = lip_set_error(ctx, LIP_ERR_FORMAT, "model file '%s' holds no training state (saved without "
                                                "LIP_SAVE_TRAINING_STATE)", path);
    if (st == LIP_OK) st = check_architecture(m, path, &f);
    if (st == LIP_OK) st = apply_training(m, path, &f.train);
    file_model_free(&f);
    return st;
}

/* ---- safetensors ---------------------------------------------------------------------------------- */

/* A JSON string body: quotes, backslashes and control characters escaped. */
static void put_json_string(wbuf *w, const char *s) {
    put_bytes(w, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put_bytes(w, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            put_bytes(w, e, 6);
        } else {
            put_bytes(w, s, 1);
        }
    }
    put_bytes(w, "\"", 1);
}

lip_status lip_model_save_safetensors(lip_model *m, const char *path) {
    if (!m) return LIP_ERR_NULL;
    lip_context *ctx = m->ctx;
    LIP_CHECK(ctx, path, LIP_ERR_NULL, "lip_model_save_safetensors: path is NULL");
    LIP_CHECK(ctx, m->built, LIP_ERR_INVALID_ARGUMENT, "lip_model_save_safetensors: model '%s' is not built", m->name);
    wbuf head = {0}, data = {0}, out = {0};
    lip_status st = LIP_OK;
    char key[160], prefix[80];
    /* Keys must be unique: a layer name used twice is refused. */
    for (size_t i = 0; st == LIP_OK && i < m->node_count; i++) {
        const lip_layer *a = m->nodes[i].layer;
        for (size_t j = 0; a && a->name[0] && j < i; j++) {
            const lip_layer *b = m->nodes[j].layer;
            if (b && strcmp(a->name, b->name) == 0)
                st = lip_set_error(ctx, LIP_ERR_INVALID_ARGUMENT,
                                   "lip_model_save_safetensors: two layers are named '%s' (nodes %zu and %zu): the "
                                   "tensor names would collide",
                                   a->name, j, i);
        }
    }
    static const char meta[] = "{\"__metadata__\":{\"format\":\"lipcl\"}";
    put_bytes(&head, meta, sizeof meta - 1);
    for (size_t i = 0; st == LIP_OK && i < m->node_count; i++) {
        lip_layer *l = m->nodes[i].layer;
        if (!l) continue;
        if (l->name[0])
            snprintf(prefix, sizeof prefix, "%s", l->name);
        else
            snprintf(prefix, sizeof prefix, "node%zu", i);
        for (size_t k = 0; st == LIP_OK && k < l->param_count; k++) {
            const lip_tensor *t = l->params[k].value;
            size_t begin = data.len;
            st = put_tensor_data(ctx, &data, t);
            snprintf(key, sizeof key, "%s/%s", prefix, l->params[k].name);
            put_bytes(&head, ",", 1);
            put_json_string(&head, key);
            char buf[160];
            int n = snprintf(buf, sizeof buf, ":{\"dtype\":\"F32\",\"shape\":[");
            put_bytes(&head, buf, (size_t)n);
            for (int d = 0; d < t->ndim; d++) {
                n = snprintf(buf, sizeof buf, "%s%zu", d ? "," : "", t->shape[d]);
                put_bytes(&head, buf, (size_t)n);
            }
            n = snprintf(buf, sizeof buf, "],\"data_offsets\":[%zu,%zu]}", begin, data.len);
            put_bytes(&head, buf, (size_t)n);
        }
    }
    put_bytes(&head, "}", 1);
    while (head.len % 8) put_bytes(&head, " ", 1); /* the data starts 8-byte aligned */
    put_u64(&out, head.len);
    put_bytes(&out, head.p, head.len);
    put_bytes(&out, data.p, data.len);
    if (st == LIP_OK && (head.oom || data.oom || out.oom))
        st = lip_set_error(ctx, LIP_ERR_OUT_OF_HOST_MEMORY, "lip_model_save_safetensors: out of host memory");
    if (st == LIP_OK) st = lip_write_file_atomic(ctx, path, out.p, out.len);
    free(head.p), free(data.p), free(out.p);
    return st;
}
