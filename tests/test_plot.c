/* lipcl tests — the examples' plot library (tools/common/plot.c): PNGs read back with libpng have the
 * right size and colours where they must; bad paths and bad CSVs give clear errors. */
#define _POSIX_C_SOURCE 200809L
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "plot.h"

/* Read a PNG as RGB8; returns the pixels (free()) or NULL. */
static unsigned char *read_png(const char *path, size_t *w, size_t *h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
    if (!px || !png_image_finish_read(&im, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&im);
        return NULL;
    }
    *w = im.width;
    *h = im.height;
    return px;
}

static const unsigned char *at(const unsigned char *px, size_t w, size_t x, size_t y) { return px + 3 * (y * w + x); }

static int is(const unsigned char *p, int r, int g, int b) { return p[0] == r && p[1] == g && p[2] == b; }

static void test_heatmap(const char *dir) {
    /* f = (c − 18.5)/18 on a 37 × 23 grid: negative on the left, positive on the right, 0 between
     * columns 18 and 19; x ∈ [−1, 1], y ∈ [0, 2]. */
    enum { W = 37, H = 23 };
    float f[W * H];
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) f[r * W + c] = (float)((c - 18.5) / 18.0);
    const float xy[4] = {0.5f, 1.0f, -0.5f, 1.0f}, labels[2] = {1.0f, -1.0f};
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/heat.png", dir);
    CHECK(lipcl_plot_heatmap(path, W, H, f, -1.0, 1.0, 0.0, 2.0, 0.0, xy, labels, 2, NULL, err, sizeof err) == 0);
    size_t w = 0, h = 0;
    unsigned char *px = read_png(path, &w, &h);
    CHECK(px != NULL);
    if (!px) return;
    CHECK(w == W && h == H);
    const unsigned char *right = at(px, w, W - 1, 3), *left = at(px, w, 0, 3);
    CHECK(right[0] == 255 && right[1] < 100 && right[2] < 100); /* saturated red */
    CHECK(left[2] == 255 && left[0] < 100 && left[1] < 100);    /* saturated blue */
    const unsigned char *mid_pos = at(px, w, 27, 3);            /* f = 0.47: a pale red */
    CHECK(mid_pos[0] == 255 && mid_pos[1] > 100 && mid_pos[1] < 255 && mid_pos[1] == mid_pos[2]);
    CHECK(is(at(px, w, 18, 3), 0, 0, 0)); /* the f = 0 line */
    CHECK(!is(at(px, w, 17, 3), 0, 0, 0) && !is(at(px, w, 20, 3), 0, 0, 0));
    /* the points: (0.5, 1) → pixel (27, 11) dark red, (−0.5, 1) → (9, 11) dark blue */
    CHECK(is(at(px, w, 27, 11), 150, 0, 0));
    CHECK(is(at(px, w, 9, 11), 0, 0, 150));
    free(px);

    /* a title draws black glyph pixels on white at the top left */
    CHECK(lipcl_plot_heatmap(path, W, H, f, -1.0, 1.0, 0.0, 2.0, 0.1, NULL, NULL, 0, "ab", err, sizeof err) == 0);
    px = read_png(path, &w, &h);
    CHECK(px != NULL);
    if (px) {
        CHECK(is(at(px, w, 0, 0), 255, 255, 255));
        CHECK(is(at(px, w, 6, 4), 0, 0, 0)); /* the top of the 'A' (glyph row 0, column 1, scale 2) */
        free(px);
    }

    /* errors */
    err[0] = '\0';
    CHECK(lipcl_plot_heatmap("/nonexistent-lipcl-dir/heat.png", W, H, f, -1, 1, 0, 2, 0, NULL, NULL, 0, NULL, err,
                             sizeof err) == -1);
    CHECK(strstr(err, "cannot open") && strstr(err, "/nonexistent-lipcl-dir/heat.png"));
    err[0] = '\0';
    CHECK(lipcl_plot_heatmap(path, W, H, f, 1, -1, 0, 2, 0, NULL, NULL, 0, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "x_max > x_min") != NULL);
    CHECK(lipcl_plot_heatmap(path, W, H, f, -1, 1, 0, 2, 0, NULL, NULL, 3, NULL, NULL, 0) == -1);
}

static void test_history(const char *dir) {
    char csv[512], png[512], err[256] = "";
    snprintf(csv, sizeof csv, "%s/history.csv", dir);
    snprintf(png, sizeof png, "%s/history.png", dir);
    FILE *f = fopen(csv, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy\n");
    for (int e = 1; e <= 5; e++)
        fprintf(f, "%d,%.6f,%.6f,%.6f,%.6f\n", e, 1.0 / e, 1.0 - 0.1 / e, 1.2 / e, 1.0 - 0.12 / e);
    fclose(f);
    CHECK(lipcl_plot_history(csv, png, 500, err, sizeof err) == 0);
    size_t w = 0, h = 0;
    unsigned char *px = read_png(png, &w, &h);
    CHECK(px != NULL);
    if (!px) return;
    CHECK(w == 500 && h == 2 * 180); /* two panels: loss (+ val_loss), binary_accuracy (+ val_) */
    size_t blue = 0, orange = 0;
    for (size_t i = 0; i < w * h; i++) {
        blue += is(px + 3 * i, 31, 119, 180);
        orange += is(px + 3 * i, 255, 127, 14);
    }
    CHECK(blue > 100 && orange > 100);
    CHECK(is(at(px, w, w - 1, 0), 255, 255, 255));
    free(px);

    /* errors: a missing CSV, a CSV without rows, an unwritable PNG */
    err[0] = '\0';
    CHECK(lipcl_plot_history("/nonexistent-lipcl-dir/h.csv", png, 500, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot open history") && strstr(err, "/nonexistent-lipcl-dir/h.csv"));
    f = fopen(csv, "w");
    if (f) fprintf(f, "epoch,loss\n"), fclose(f);
    err[0] = '\0';
    CHECK(lipcl_plot_history(csv, png, 500, err, sizeof err) == -1);
    CHECK(strstr(err, "no data") != NULL);
    f = fopen(csv, "w");
    if (f) fprintf(f, "epoch,loss\n1,abc\n"), fclose(f);
    err[0] = '\0';
    CHECK(lipcl_plot_history(csv, png, 500, err, sizeof err) == -1);
    CHECK(strstr(err, "bad number") && strstr(err, "'loss'"));
    f = fopen(csv, "w");
    if (f) fprintf(f, "epoch,loss\n1,0.5\n"), fclose(f);
    err[0] = '\0';
    CHECK(lipcl_plot_history(csv, "/nonexistent-lipcl-dir/h.png", 500, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot open") && strstr(err, "/nonexistent-lipcl-dir/h.png"));
}

int main(void) {
    char dir[] = "/tmp/lipcl_test_plot_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_heatmap(dir);
    test_history(dir);
    const char *names[4] = {"heat.png", "history.csv", "history.png", NULL};
    for (int i = 0; names[i]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        remove(p);
    }
    rmdir(dir);
    return test_finish("test_plot");
}
