/* lipcl examples — the few lines every example shares: stop with the library's message when a call
 * fails, add a freshly created layer to a model, and show lipcl's warnings on stderr. */
#ifndef LIPCL_EXAMPLE_H
#define LIPCL_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>

#include <lipcl/lipcl.h>

/* Each example defines EXAMPLE_NAME (for messages) before including this file. */
#ifndef EXAMPLE_NAME
#error "define EXAMPLE_NAME before including example.h"
#endif
static lip_context *ctx;

/* Run a lipcl call; on failure print which call, the context's message and the status, and exit 1. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        lip_status st_ = (call);                                                                   \
        if (st_ != LIP_OK) {                                                                       \
            fprintf(stderr, "%s: %s failed: %s (%s)\n", EXAMPLE_NAME, #call,                      \
                    ctx ? lip_context_last_error(ctx) : "", lip_status_name(st_));                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Add layer l, whose create call returned st, to model m (exit on failure). */
static inline void add(lip_model *m, lip_status st, lip_layer *l) {
    if (st != LIP_OK) {
        fprintf(stderr, "%s: layer: %s\n", EXAMPLE_NAME, lip_context_last_error(ctx));
        exit(1);
    }
    TRY(lip_model_add(m, l));
}

/* lipcl never prints: its warnings (and, with LIPCL_PROFILE=1, the kernel profile) come here. */
static inline void example_log(lip_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= LIP_LOG_WARN || getenv("LIPCL_PROFILE")) fprintf(stderr, "lipcl: %s\n", text);
}

#endif
