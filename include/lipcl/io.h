/* lipcl — model files: save and load a model (architecture, raw weights, u vectors, optionally the
 * training state) in lipcl's versioned little-endian format (doc/file-format.md), and safetensors export. */
#ifndef LIPCL_IO_H
#define LIPCL_IO_H

#include "lipcl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** lip_model_save flags. */
#define LIP_SAVE_WEIGHTS 0u        /* architecture + every parameter tensor (raw kernels, biases, u, ...) */
#define LIP_SAVE_TRAINING_STATE 1u /* also: optimizer (config, iterations, slots), context RNG state, loss
                                      (config and state), the step and epoch counters */

/** The format version this library writes; it reads versions 1..LIP_MODEL_FILE_VERSION. */
#define LIP_MODEL_FILE_VERSION 1u

/**
 * Save a built model to `path` atomically (written to a temporary file in the same folder, then
 * renamed over `path`: a reader never sees a partial file, and a failed save leaves `path` as it was).
 * Reads the parameters from the device (blocking). With LIP_SAVE_TRAINING_STATE the model must be
 * compiled (lip_model_compile). Every layer must be one of lipcl's families.
 */
LIP_API lip_status lip_model_save(lip_model *model, const char *path, unsigned flags);

/**
 * Load a model saved by lip_model_save into a new built model on `ctx`. The whole file is read and
 * checked on the host first (magic, version, sizes, checksum, every record) before anything is
 * allocated on the device: a truncated, corrupted or foreign file gives LIP_ERR_FORMAT (a future
 * version LIP_ERR_UNSUPPORTED, an unreadable path LIP_ERR_IO) with a message naming the file and what
 * is wrong. The parameters are uploaded, then lip_model_reparametrize runs: the loaded model equals
 * the saved one after one more lip_model_reparametrize of it (spectral layers advance u by one power
 * iteration there, from the saved u). The context's RNG state is left as it was. The training state,
 * if the file holds one, is not applied (see lip_model_load_training_state).
 */
LIP_API lip_status lip_model_load(lip_context *ctx, const char *path, lip_model **out);

/**
 * Apply the training state of a file saved with LIP_SAVE_TRAINING_STATE to `model`, which must have
 * the file's architecture and be compiled with a loss of the same kind and an optimizer of the same
 * kind: the optimizer's base learning rate, iteration count and slots, the loss's parameters and
 * state, the context's RNG state and the model's step counter are restored. LIP_ERR_INVALID_ARGUMENT
 * (naming the difference) when the model does not match, LIP_ERR_FORMAT for a file without a
 * training state.
 */
LIP_API lip_status lip_model_load_training_state(lip_model *model, const char *path);

/** Write the model's parameter tensors (float32, "layer_name/param_name" keys, or "node<i>/..." for an
 *  unnamed layer) in the safetensors format (an 8-byte LE header length, a JSON header, the data),
 *  atomically. Weights only: no architecture, no training state. */
LIP_API lip_status lip_model_save_safetensors(lip_model *model, const char *path);

#ifdef __cplusplus
}
#endif
#endif
