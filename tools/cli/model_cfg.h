/* lipcl CLI — the model description: a small text file, one layer per line ("SpectralDense units=100
 * bias=0"), turned into a built lip_model through the public layer constructors (doc/cli.md). */
#ifndef LIPCL_CLI_MODEL_CFG_H
#define LIPCL_CLI_MODEL_CFG_H

#include <stddef.h>

#include "lipcl/lipcl.h"

/**
 * Read the description at `path` and return a built model in *out (named after the file). On failure
 * *out is NULL and `err` (err_size bytes) holds one line naming the file and line ("m.cfg:3: unknown
 * key 'unit' for SpectralDense (keys: ...)"); the status is the library's, or LIP_ERR_FORMAT /
 * LIP_ERR_IO for the parser's own errors.
 */
lip_status cli_model_from_cfg(lip_context *ctx, const char *path, lip_model **out, char *err, size_t err_size);

/** The same from text in memory (`source` names it in messages). */
lip_status cli_model_from_text(lip_context *ctx, const char *text, const char *source, lip_model **out, char *err,
                               size_t err_size);

#endif
