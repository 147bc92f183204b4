/* lipcl — GEMM (placeholder until written). */
#include "internal.h"
int lip_have_clblast(void) { return 0; }
