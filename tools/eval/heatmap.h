/* ei-eval's pictures of the prefill profile: PNG files (libpng) drawn from
 * a stats JSON as vk_stats_json writes it. */
#ifndef EE_HEATMAP_H
#define EE_HEATMAP_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* png.c: an 8-bit RGB image, rows of width * 3 bytes from the top; 0, or
 * 1 after printing why. */
int ee_png_write(const char *path, uint32_t width, uint32_t height, const uint8_t *rgb);

/* Viridis at t in [0, 1] (clamped): dark blue at 0, yellow at 1. */
void ee_colormap(float t, uint8_t rgb[3]);

/* Where a layer's picture puts things: a cell per (KV head, segment), the
 * colour bar under them (0 at its left end, the largest entropy at its
 * right, both written under it), all in a width x height image. */
typedef struct ee_heat_layout {
    uint32_t x0, y0, cell_w, cell_h; /* the top-left cell */
    uint32_t bar_y, bar_h;           /* the colour bar, from x0 across the cells */
    uint32_t width, height;
} ee_heat_layout;

ee_heat_layout ee_heat_layout_of(uint32_t kv_heads, uint32_t nseg);

/* rigid.png's colours and cells: a row per layer, a column per KV head. */
#define EE_RIGID_RGB 230, 120, 30
#define EE_DYNAMIC_RGB 40, 110, 200
#define EE_DENSE_RGB 190, 190, 190
#define EE_SUMMARY_MARGIN 8
#define EE_SUMMARY_CELL_W 32
#define EE_SUMMARY_CELL_H 12

/* Writes DIR/layer_NN.png for each profiled layer (entropy scaled from 0
 * to the largest of any layer's segments from 1 on, so the pictures
 * compare; segment 0, uniform, in the top colour) and DIR/rigid.png; 0, or 1 after printing why (not a stats JSON, a
 * file that cannot be written). */
int ee_heatmaps(const cJSON *stats, const char *dir);

#endif
