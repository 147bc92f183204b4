/* lipcl tests — the golden-case runner's categories: test_reference.c reads a case folder's category and
 * calls the matching refrun_<category>, which validates every key, runs the computation and compares. */
#ifndef LIPCL_TEST_REFRUN_H
#define LIPCL_TEST_REFRUN_H

#include "check.h"
#include "refcase.h"

/*
 * Contract of every refrun_<category>(ctx, dir, c):
 *  - c is the loaded case.txt of `dir` (its category is this one); fail on any param/variant/input/output
 *    key the category does not know or a value outside its vocabulary (refcase_validate and friends);
 *  - compare every output.* (tolerance of refcase.h) and every result.n_iter* exactly;
 *  - return 1 when everything matched, 0 otherwise (each failure reported with the case and the key);
 *  - never exit: a case that cannot run is a reported failure, so one bad case cannot hide the others;
 *  - read the case through the refcase helpers (refcase_param, refcase_float, ..., refcase_array,
 *    refcase_check_output, refcase_check_iterations) or mark a line read otherwise with refcase_mark:
 *    after a pass, test_reference.c fails the case on any param, variant, input, output or n_iter line
 *    that was never used.
 */
typedef int (*refrun_fn)(lip_context *ctx, const char *dir, const case_file *c);

int refrun_activation(lip_context *ctx, const char *dir, const case_file *c);
int refrun_pooling(lip_context *ctx, const char *dir, const case_file *c);
int refrun_resampling(lip_context *ctx, const char *dir, const case_file *c);
int refrun_bjorck(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_normalization(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_dense(lip_context *ctx, const char *dir, const case_file *c);
int refrun_frobenius_dense(lip_context *ctx, const char *dir, const case_file *c);
int refrun_spectral_conv2d(lip_context *ctx, const char *dir, const case_file *c);
int refrun_frobenius_conv2d(lip_context *ctx, const char *dir, const case_file *c);
int refrun_loss(lip_context *ctx, const char *dir, const case_file *c);
int refrun_metric(lip_context *ctx, const char *dir, const case_file *c);

/* ---- shared by the runners (tests/refrun/common.c, layer.c) ---------------------------------- */

/** A float32 tensor of the array's own shape holding its data; NULL (reported as `what`) on failure. */
lip_tensor *refrun_upload(lip_context *ctx, const case_file *c, const npy_array *a, const char *what);
/** A float32 tensor of `shape` filled with a sentinel (an element a kernel forgets to write shows); NULL
 *  (reported) on failure. */
lip_tensor *refrun_tensor(lip_context *ctx, int ndim, const size_t *shape);
/** Whether the status is LIP_OK; else reported with the case, the call and the context's message. */
int refrun_ok(const case_file *c, lip_context *ctx, lip_status st, const char *what);
/** The value (grad = 0) or gradient (grad = 1) tensor of the layer's parameter `name`; NULL if absent. */
lip_tensor *refrun_layer_param(lip_layer *l, const char *name, int grad);
/** The device int32 iteration counter of a normalizer state as int, or -1 (reported) on failure. */
int refrun_iterations(lip_context *ctx, const case_file *c, const lip_tensor *state);
/** result.`name` (a stopping rule's values, one per loop test), when given, against `ref` of the host
 *  reference's `it` iterations: it tested its loop as often, each value within 1e-9 + 1e-7 relative. */
void refrun_check_stopping(const case_file *c, const char *name, const double *ref, int it);

/* What a layer case (spectral_dense, frobenius_dense, spectral_conv2d, frobenius_conv2d) produced:
 * each output name's device tensor (NULL: this layer has no such quantity). */
typedef struct refrun_layer_out {
    const lip_tensor *y, *grad_x, *w_bar, *grad_w_bar, *sigma, *u, *grad_kernel, *grad_bias;
    const lip_tensor *spectral_state, *bjorck_state; /* normalizer counters (spectral kinds) */
} refrun_layer_out;

/* The normalizer settings of a spectral layer case, for the host reference of its results. */
typedef struct refrun_spectral_cfg {
    double eps_spectral, eps_bjorck, beta_bjorck;
    int maxiter_spectral, maxiter_bjorck;
} refrun_spectral_cfg;

/** The power-iteration and Björck params of a spectral layer case (all required); 1 when all are valid. */
int refrun_read_spectral(const case_file *c, refrun_spectral_cfg *s);

/** The conv params of a conv layer case (kernel_size, strides, padding and the amounts it implies,
 *  data_format, conv_coef_mode, k_coef_lip, use_bias), checked against x (NHWC) and the kernel
 *  (kh, kw, cin, cout), into *cfg (from lip_conv2d_config_default). 1 when valid, else 0 (reported). */
int refrun_read_conv(const case_file *c, const npy_array *x, const npy_array *kernel, lip_conv2d_config *cfg);
/** Build the conv layer for x's (h, w, cin) and check that g has the shape of its output. */
int refrun_build_conv(lip_context *ctx, const case_file *c, lip_layer *l, const npy_array *x, const npy_array *g);

/**
 * The training step of a layer case on the built layer: upload the case's kernel, bias (when the layer
 * has one) and u0 (when given), reparametrize (deel-lip's training forward), forward x into *y (of g's
 * shape), backward with dy = g into *dx (of x's shape). The three tensors (*x, *y, *dx; NULL when not
 * made) are the caller's to free. 1 on success; 0 with the failure reported.
 */
int refrun_layer_step(lip_context *ctx, const case_file *c, lip_layer *l, const npy_array *kernel,
                      const npy_array *bias, const npy_array *u0, const npy_array *x, const npy_array *g,
                      lip_tensor **tx, lip_tensor **ty, lip_tensor **tdx);
/** Compare every output.* of a layer case with its tensor in `o` (the README tolerance, gradients
 *  included), every result.n_iter* with the counters, and result.max_abs_grad_kernel when given. */
void refrun_layer_compare(lip_context *ctx, const case_file *c, const refrun_layer_out *o);
/**
 * The reparametrization chain of a spectral layer case with the normalizer ops alone: kernel, u0 →
 * power iteration → Björck → ×coef must give w_bar, u and sigma, and grad_w_bar back through the chain
 * must give grad_kernel (README tolerance for gradients through Björck); iteration counts exact; and the
 * recorded stopping-rule values (result.stopping_rule_values_*) are those of the host reference in double.
 */
void refrun_spectral_chain(lip_context *ctx, const case_file *c, const npy_array *kernel, const npy_array *u0,
                           double coef, const refrun_spectral_cfg *cfg);

#endif
