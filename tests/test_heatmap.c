/* ei-eval's pictures (tools/eval/heatmap.c, png.c), read back with libpng:
 * a PNG keeps its size and pixels; a stats JSON gives a picture per
 * profiled layer of the layout's size, each cell in the colour of its
 * entropy over the largest, the colour bar from its lowest to its highest
 * colour with its labels, and rigid.png the colour of each head's kind;
 * what is not a stats JSON, or a folder that is not there, is refused. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heatmap.h"
#include "util/test_util.h"

typedef struct picture {
    uint32_t w, h;
    uint8_t *rgb;
} picture;

static picture read_png(const char *path) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    picture p = {0};
    if (!png_image_begin_read_from_file(&image, path)) {
        CHECK(0, "cannot read %s: %s", path, image.message);
        return p;
    }
    image.format = PNG_FORMAT_RGB;
    p.rgb = tu_alloc(PNG_IMAGE_SIZE(image), 1);
    CHECK(png_image_finish_read(&image, NULL, p.rgb, 0, NULL), "%s: %s", path, image.message);
    p.w = image.width, p.h = image.height;
    return p;
}

static int pixel_is(const picture *p, uint32_t x, uint32_t y, const uint8_t rgb[3]) {
    return x < p->w && y < p->h && !memcmp(p->rgb + ((size_t)y * p->w + x) * 3, rgb, 3);
}

static void check_png(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/small.png", dir);
    uint8_t rgb[3 * 2 * 3];
    for (int i = 0; i < 18; i++)
        rgb[i] = (uint8_t)(i * 14);
    CHECK(ee_png_write(path, 3, 2, rgb) == 0, "cannot write %s", path);
    picture p = read_png(path);
    CHECK(p.w == 3 && p.h == 2 && p.rgb && !memcmp(p.rgb, rgb, sizeof rgb), "%s: %ux%u, other pixels", path, p.w, p.h);
    free(p.rgb);
    remove(path);
    CHECK(ee_png_write("/nonexistent/dir/x.png", 3, 2, rgb) == 1, "a missing folder is refused");
}

/* Layers: 0 dense; 1 and 2 profiled, 2 KV heads x 4 segments; head 1 of
 * layer 1 rigid. The largest entropy past segment 0, 2, sets the scale. */
static cJSON *stats_json(void) {
    static const float e[2][2][4] = {{{3, 2, 0, 1}, {0.25f, 0, 0, 0}}, {{4, 1, 1, 1}, {0.5f, 0.5f, 0.5f, 0.5f}}};
    cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "kv_heads", 2);
    cJSON_AddItemToObject(o, "layers", layers);
    cJSON *dense = cJSON_CreateObject();
    cJSON_AddBoolToObject(dense, "dense", 1);
    cJSON_AddItemToArray(layers, dense);
    for (int l = 0; l < 2; l++) {
        cJSON *layer = cJSON_CreateObject(), *heads = cJSON_CreateArray();
        cJSON_AddBoolToObject(layer, "dense", 0);
        cJSON_AddNumberToObject(layer, "segments", 4);
        for (int h = 0; h < 2; h++) {
            cJSON *head = cJSON_CreateObject();
            cJSON_AddBoolToObject(head, "rigid", l == 0 && h == 1);
            cJSON_AddItemToObject(head, "entropy", cJSON_CreateFloatArray(e[l][h], 4));
            cJSON_AddItemToArray(heads, head);
        }
        cJSON_AddItemToObject(layer, "heads", heads);
        cJSON_AddItemToArray(layers, layer);
    }
    return o;
}

static void check_heatmaps(const char *dir) {
    cJSON *stats = stats_json();
    CHECK(ee_heatmaps(stats, dir) == 0, "heatmaps into %s", dir);
    cJSON_Delete(stats);
    char path[512];
    snprintf(path, sizeof path, "%s/layer_01.png", dir);
    picture p = read_png(path);
    ee_heat_layout l = ee_heat_layout_of(2, 4);
    CHECK(p.w == l.width && p.h == l.height, "layer_01.png is %ux%u, the layout %ux%u", p.w, p.h, l.width, l.height);
    uint8_t top[3], bottom[3], half[3], ink[3] = {0, 0, 0};
    ee_colormap(1, top), ee_colormap(0, bottom), ee_colormap(0.5f, half);
    uint32_t cx = l.x0 + l.cell_w / 2, cy = l.y0 + l.cell_h / 2;
    CHECK(pixel_is(&p, cx, cy, top), "head 0, segment 0 (entropy 3, off the scale) is not the top colour");
    CHECK(pixel_is(&p, cx + l.cell_w, cy, top), "head 0, segment 1 (2 of 2) is not the top colour");
    CHECK(pixel_is(&p, cx + 3 * l.cell_w, cy, half), "head 0, segment 3 (1 of 2) is not the middle colour");
    CHECK(pixel_is(&p, cx + 2 * l.cell_w, cy + l.cell_h, bottom), "head 1, segment 2 (0) is not the bottom colour");
    CHECK(pixel_is(&p, l.x0, l.bar_y, bottom) && pixel_is(&p, l.x0 + 4 * l.cell_w - 1, l.bar_y + l.bar_h - 1, top),
          "the colour bar does not run from the bottom colour to the top one");
    int labelled = 0;
    for (uint32_t y = l.bar_y + l.bar_h; y < p.h; y++)
        for (uint32_t x = 0; x < p.w; x++)
            labelled |= pixel_is(&p, x, y, ink);
    CHECK(labelled, "no label under the colour bar");
    free(p.rgb);
    remove(path);
    snprintf(path, sizeof path, "%s/layer_00.png", dir);
    CHECK(access(path, F_OK) != 0, "a picture of the dense layer 0");
    snprintf(path, sizeof path, "%s/layer_02.png", dir);
    CHECK(access(path, F_OK) == 0, "no picture of layer 2");
    remove(path);

    snprintf(path, sizeof path, "%s/rigid.png", dir);
    p = read_png(path);
    static const uint8_t rigid[3] = {EE_RIGID_RGB}, dynamic[3] = {EE_DYNAMIC_RGB}, dense[3] = {EE_DENSE_RGB};
    uint32_t m = EE_SUMMARY_MARGIN, w = EE_SUMMARY_CELL_W, h = EE_SUMMARY_CELL_H;
    CHECK(p.w == 2 * m + 2 * w && p.h == 2 * m + 3 * h, "rigid.png is %ux%u", p.w, p.h);
    CHECK(pixel_is(&p, m + w / 2, m + h / 2, dense) && pixel_is(&p, m + w + w / 2, m + h / 2, dense),
          "layer 0 is not dense");
    CHECK(pixel_is(&p, m + w / 2, m + h + h / 2, dynamic) && pixel_is(&p, m + w + w / 2, m + h + h / 2, rigid),
          "layer 1: head 0 not dynamic or head 1 not rigid");
    CHECK(pixel_is(&p, m + w + w / 2, m + 2 * h + h / 2, dynamic), "layer 2, head 1 is not dynamic");
    free(p.rgb);
    remove(path);

    cJSON *bad = cJSON_Parse("{\"kv_heads\": 2, \"layers\": [{\"dense\": false, \"segments\": 4}]}");
    CHECK(ee_heatmaps(bad, dir) == 1, "a layer without heads is refused");
    cJSON_Delete(bad);
}

int main(void) {
    char dir[] = "/tmp/ei_heatmap_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_png(dir);
    check_heatmaps(dir);
    rmdir(dir);
    return tu_tally();
}
