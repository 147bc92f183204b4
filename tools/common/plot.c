/* lipcl plot — PNG training curves and heat maps for the examples, drawn into an RGB buffer with a
 * 3 × 5 bitmap font and written with libpng. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct image {
    size_t w, h;
    unsigned char *rgb; /* w × h × 3, row-major from the top */
} image;

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int image_init(image *im, size_t w, size_t h, unsigned char grey) {
    im->w = w;
    im->h = h;
    im->rgb = malloc(w * h * 3);
    if (!im->rgb) return -1;
    memset(im->rgb, grey, w * h * 3);
    return 0;
}

static void pixel(image *im, long x, long y, const unsigned char c[3]) {
    if (x < 0 || y < 0 || (size_t)x >= im->w || (size_t)y >= im->h) return;
    memcpy(im->rgb + 3 * ((size_t)y * im->w + (size_t)x), c, 3);
}

static void rect(image *im, long x0, long y0, long x1, long y1, const unsigned char c[3]) {
    for (long y = y0; y <= y1; y++)
        for (long x = x0; x <= x1; x++) pixel(im, x, y, c);
}

/* A line two pixels thick (Bresenham with a 2 × 2 pen). */
static void line(image *im, long x0, long y0, long x1, long y1, const unsigned char c[3]) {
    long dx = labs(x1 - x0), dy = -labs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) {
        rect(im, x0, y0, x0 + 1, y0 + 1, c);
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

static void disc(image *im, long cx, long cy, long r, const unsigned char c[3]) {
    for (long y = -r; y <= r; y++)
        for (long x = -r; x <= r; x++)
            if (x * x + y * y <= r * r) pixel(im, cx + x, cy + y, c);
}

/* 3 × 5 glyphs, rows from the top; lower case is drawn as upper case. */
static const char *glyph(char ch) {
    static const char *digits[10] = {"111101101101111", "010110010010111", "111001111100111", "111001111001111",
                                     "101101111001001", "111100111001111", "111100111101111", "111001001001001",
                                     "111101111101111", "111101111001111"};
    static const char *letters[26] = {
        "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
        "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
        "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
        "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
        "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
        "111001010100111"};
    if (ch >= '0' && ch <= '9') return digits[ch - '0'];
    if (ch >= 'a' && ch <= 'z') return letters[ch - 'a'];
    if (ch >= 'A' && ch <= 'Z') return letters[ch - 'A'];
    switch (ch) {
    case '.': return "000000000000010";
    case '-': return "000000111000000";
    case '_': return "000000000000111";
    case '+': return "000010111010000";
    case ':': return "000010000010000";
    case '=': return "000111000111000";
    case '/': return "001001010100100";
    case '(': return "010100100100010";
    case ')': return "010001001001010";
    case ',': return "000000000010100";
    case '%': return "101001010100101";
    default: return "000000000000000";
    }
}

/* Text at (x, y) (top left), each font pixel drawn as scale × scale. */
static void text(image *im, long x, long y, const char *s, int scale, const unsigned char c[3]) {
    for (; *s; s++, x += 4 * scale) {
        const char *g = glyph(*s);
        for (int r = 0; r < 5; r++)
            for (int q = 0; q < 3; q++)
                if (g[3 * r + q] == '1')
                    rect(im, x + q * scale, y + r * scale, x + q * scale + scale - 1, y + r * scale + scale - 1, c);
    }
}

static int write_png(const image *im, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) return fail(err, errlen, "plot: cannot open '%s' for writing: %s", path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return fail(err, errlen, "plot: out of memory writing '%s'", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return fail(err, errlen, "plot: libpng failed writing '%s'", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < im->h; y++) png_write_row(png, im->rgb + 3 * y * im->w);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) return fail(err, errlen, "plot: cannot write '%s': %s", path, strerror(errno));
    return 0;
}

/* ---- training curves --------------------------------------------------------------------------- */

#define MAX_COLS 32

typedef struct table {
    size_t cols, rows;
    char names[MAX_COLS][64];
    double *v; /* rows × cols */
} table;

static int read_csv(const char *path, table *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "plot: cannot open history '%s': %s", path, strerror(errno));
    char line_buf[4096];
    if (!fgets(line_buf, sizeof line_buf, f)) {
        fclose(f);
        return fail(err, errlen, "plot: history '%s' is empty", path);
    }
    for (char *s = strtok(line_buf, ",\r\n"); s; s = strtok(NULL, ",\r\n")) {
        if (t->cols == MAX_COLS) break;
        snprintf(t->names[t->cols++], sizeof t->names[0], "%s", s);
    }
    size_t cap = 0;
    while (fgets(line_buf, sizeof line_buf, f)) {
        if (line_buf[0] == '\n' || line_buf[0] == '\0') continue;
        if (t->rows == cap) {
            cap = cap ? 2 * cap : 64;
            double *nv = realloc(t->v, cap * t->cols * sizeof *nv);
            if (!nv) break;
            t->v = nv;
        }
        char *p = line_buf;
        for (size_t c = 0; c < t->cols; c++) {
            char *end = NULL;
            t->v[t->rows * t->cols + c] = strtod(p, &end);
            if (end == p) {
                fclose(f);
                free(t->v);
                return fail(err, errlen, "plot: history '%s': bad number in row %zu, column '%s'", path,
                            t->rows + 1, t->names[c]);
            }
            p = *end == ',' ? end + 1 : end;
        }
        t->rows++;
    }
    fclose(f);
    if (t->cols < 2 || t->rows == 0) {
        free(t->v);
        return fail(err, errlen, "plot: history '%s' has no data (need a header and at least one row)", path);
    }
    return 0;
}

static void fmt_value(char *buf, size_t n, double v) {
    if (v != 0 && (fabs(v) >= 1e4 || fabs(v) < 1e-3)) snprintf(buf, n, "%.2e", v);
    else snprintf(buf, n, "%.4g", v);
}

int lipcl_plot_history(const char *csv_path, const char *png_path, size_t width, char *err, size_t errlen) {
    if (!csv_path || !png_path) return fail(err, errlen, "plot: NULL path");
    if (width < 200) width = 200;
    table t;
    if (read_csv(csv_path, &t, err, errlen)) return -1;
    /* panels: each column that is not the epoch nor a val_ column with a training twin */
    size_t panel_train[MAX_COLS], panel_val[MAX_COLS], panels = 0;
    for (size_t c = 1; c < t.cols; c++) {
        int is_val = !strncmp(t.names[c], "val_", 4), twin = 0;
        if (is_val)
            for (size_t d = 1; d < t.cols; d++) twin |= !strcmp(t.names[d], t.names[c] + 4);
        if (is_val && twin) continue;
        panel_train[panels] = c;
        panel_val[panels] = 0;
        for (size_t d = 1; d < t.cols && !is_val; d++)
            if (!strncmp(t.names[d], "val_", 4) && !strcmp(t.names[d] + 4, t.names[c])) panel_val[panels] = d;
        panels++;
    }
    const size_t ph = 180, left = 80, right = 20, top = 24, bottom = 22;
    image im;
    if (image_init(&im, width, panels * ph, 255)) {
        free(t.v);
        return fail(err, errlen, "plot: out of memory");
    }
    static const unsigned char black[3] = {0, 0, 0}, grey[3] = {215, 215, 215}, blue[3] = {31, 119, 180},
                               orange[3] = {255, 127, 14};
    for (size_t p = 0; p < panels; p++) {
        long y0 = (long)(p * ph + top), y1 = (long)((p + 1) * ph - bottom), x0 = (long)left,
             x1 = (long)(width - right);
        double lo = INFINITY, hi = -INFINITY;
        for (size_t r = 0; r < t.rows; r++)
            for (int k = 0; k < 2; k++) {
                size_t c = k ? panel_val[p] : panel_train[p];
                if (!c) continue;
                double v = t.v[r * t.cols + c];
                if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
            }
        if (!isfinite(lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
        double pad = 0.05 * (hi - lo);
        lo -= pad, hi += pad;
        for (int g = 0; g <= 4; g++) { /* horizontal grid */
            long y = y1 - (long)((double)g / 4 * (double)(y1 - y0));
            rect(&im, x0, y, x1, y, grey);
        }
        rect(&im, x0, y0, x0, y1, black);
        rect(&im, x0, y1, x1, y1, black);
        char buf[96];
        text(&im, x0, y0 - 16, t.names[panel_train[p]], 2, black);
        if (panel_val[p]) {
            long lx = x0 + 4 * 2 * (long)strlen(t.names[panel_train[p]]) + 24;
            rect(&im, lx, y0 - 12, lx + 14, y0 - 10, blue);
            text(&im, lx + 20, y0 - 16, "train", 2, black);
            rect(&im, lx + 70, y0 - 12, lx + 84, y0 - 10, orange);
            text(&im, lx + 90, y0 - 16, "val", 2, black);
        }
        fmt_value(buf, sizeof buf, hi - pad);
        text(&im, 4, y0 + (long)((pad / (hi - lo)) * (double)(y1 - y0)) - 5, buf, 2, black);
        fmt_value(buf, sizeof buf, lo + pad);
        text(&im, 4, y1 - (long)((pad / (hi - lo)) * (double)(y1 - y0)) - 5, buf, 2, black);
        double e_first = t.v[0], e_last = t.v[(t.rows - 1) * t.cols];
        snprintf(buf, sizeof buf, "%g", e_first);
        text(&im, x0, y1 + 6, buf, 2, black);
        snprintf(buf, sizeof buf, "epoch %g", e_last);
        text(&im, x1 - 8 * (long)strlen(buf), y1 + 6, buf, 2, black);
        for (int k = 0; k < 2; k++) {
            size_t c = k ? panel_val[p] : panel_train[p];
            if (!c) continue;
            long px = 0, py = 0;
            for (size_t r = 0; r < t.rows; r++) {
                double v = t.v[r * t.cols + c];
                if (!isfinite(v)) continue;
                long x = t.rows == 1 ? (x0 + x1) / 2
                                     : x0 + 6 + (long)((double)r / (double)(t.rows - 1) * (double)(x1 - x0 - 12));
                long y = y1 - (long)((v - lo) / (hi - lo) * (double)(y1 - y0));
                if (r) line(&im, px, py, x, y, k ? orange : blue);
                disc(&im, x, y, 3, k ? orange : blue);
                px = x, py = y;
            }
        }
    }
    free(t.v);
    int rc = write_png(&im, png_path, err, errlen);
    free(im.rgb);
    return rc;
}

/* ---- heat map ----------------------------------------------------------------------------------- */

int lipcl_plot_heatmap(const char *png_path, size_t w, size_t h, const float *values, double x_min, double x_max,
                       double y_min, double y_max, double level_step, const float *xy, const float *labels, size_t n,
                       const char *title, char *err, size_t errlen) {
    if (!png_path || !values || w < 2 || h < 2 || !(x_max > x_min) || !(y_max > y_min) || (n && !xy))
        return fail(err, errlen, "plot: bad heat map arguments (need a path, values, w, h >= 2, x_max > x_min, "
                                 "y_max > y_min, points when n > 0)");
    image im;
    if (image_init(&im, w, h, 255)) return fail(err, errlen, "plot: out of memory");
    double amax = 0;
    for (size_t i = 0; i < w * h; i++)
        if (isfinite(values[i])) amax = fmax(amax, fabs(values[i]));
    if (amax == 0) amax = 1;
    for (size_t r = 0; r < h; r++)
        for (size_t c = 0; c < w; c++) {
            double v = values[r * w + c], s = isfinite(v) ? fmin(fabs(v) / amax, 1.0) : 0;
            unsigned char col[3];
            unsigned char fade = (unsigned char)(255.0 - 200.0 * s);
            if (v > 0) col[0] = 255, col[1] = fade, col[2] = fade; /* white → red */
            else col[0] = fade, col[1] = fade, col[2] = 255;        /* white → blue */
            /* level lines where the level index changes towards the right or lower neighbour */
            if (r + 1 < h && c + 1 < w) {
                double vr = values[r * w + c + 1], vd = values[(r + 1) * w + c];
                if (level_step > 0) {
                    double l0 = floor(v / level_step);
                    if (l0 != floor(vr / level_step) || l0 != floor(vd / level_step))
                        col[0] = (unsigned char)(col[0] * 3 / 4), col[1] = (unsigned char)(col[1] * 3 / 4),
                        col[2] = (unsigned char)(col[2] * 3 / 4);
                }
                if ((v > 0) != (vr > 0) || (v > 0) != (vd > 0)) col[0] = col[1] = col[2] = 0;
            }
            pixel(&im, (long)c, (long)r, col);
        }
    static const unsigned char black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, pos[3] = {150, 0, 0},
                               neg[3] = {0, 0, 150};
    for (size_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        long px = (long)lround((x - x_min) / (x_max - x_min) * (double)(w - 1));
        long py = (long)lround((y_max - y) / (y_max - y_min) * (double)(h - 1));
        disc(&im, px, py, 2, labels ? (labels[i] > 0 ? pos : neg) : black);
    }
    if (title) {
        rect(&im, 0, 0, 8 + 8 * (long)strlen(title), 17, white);
        text(&im, 4, 4, title, 2, black);
    }
    int rc = write_png(&im, png_path, err, errlen);
    free(im.rgb);
    return rc;
}
