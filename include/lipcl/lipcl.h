/* lipcl — k-Lipschitz neural networks on any OpenCL device.
 * Include this one header to get the whole public API. */
#ifndef LIPCL_LIPCL_H
#define LIPCL_LIPCL_H

#include "lipcl/export.h"
#include "lipcl/status.h"
#include "lipcl/context.h"
#include "lipcl/tensor.h"
#include "lipcl/ops.h"
#include "lipcl/random.h"
#include "lipcl/optim.h"
#include "lipcl/constraints.h"
#include "lipcl/data.h"
#include "lipcl/layers.h"
#include "lipcl/losses.h"
#include "lipcl/metrics.h"
#include "lipcl/model.h"
#include "lipcl/io.h"
#include "lipcl/analysis.h"

#endif
