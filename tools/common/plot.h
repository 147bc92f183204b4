/* lipcl plot — a tiny PNG plotting helper for the examples (libpng): training curves from a history
 * CSV and a heat map of a 2-D function with level lines and the data points drawn on it. */
#ifndef LIPCL_PLOT_H
#define LIPCL_PLOT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function returns 0 on success, or −1 with a message (what failed, which file) written to
 * err (errlen bytes, may be 0). Nothing is printed. */

/** Training curves: read a history CSV written by lip_model_history_save_csv ("epoch,loss,...",
 *  one row per epoch) and draw one panel per quantity (loss, each metric), the "val_" column of a
 *  quantity in the same panel (training blue, validation orange), into a width-pixel-wide PNG. */
int lipcl_plot_history(const char *csv_path, const char *png_path, size_t width, char *err, size_t errlen);

/** A heat map of f sampled on a w × h pixel grid: values[r·w + c] is f at pixel (c, r), row 0 at the
 *  top (y = y_max), column 0 at the left (x = x_min). Colours: blue for f < 0, red for f > 0, white
 *  at 0, saturating at ±max|f|; thin grey level lines every `level_step` (0: none) and the f = 0
 *  line in black. Then n points (xy: n × 2 floats, in the same x/y units) are drawn as dots, dark
 *  red for label > 0 and dark blue otherwise (labels may be NULL: all black). `title` (may be NULL)
 *  goes at the top left in a small bitmap font. */
int lipcl_plot_heatmap(const char *png_path, size_t w, size_t h, const float *values, double x_min, double x_max,
                       double y_min, double y_max, double level_step, const float *xy, const float *labels, size_t n,
                       const char *title, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
