/* Heatmaps of a stats JSON: per profiled layer the entropy of every (KV
 * head, segment) over a viridis colour bar, and a summary of which heads
 * were rigid, dynamic or dense in every layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"

void ee_colormap(float t, uint8_t rgb[3]) {
    /* Viridis at ninths (matplotlib's table), linearly between them. */
    static const uint8_t stops[9][3] = {{68, 1, 84},    {71, 44, 122}, {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                        {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};
    float x = (t < 0 ? 0 : t > 1 ? 1 : t) * 8;
    int i = x >= 8 ? 7 : (int)x;
    float f = x - (float)i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)lrintf(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

#define MARGIN 8
#define GLYPH_SCALE 2 /* font pixels per glyph pixel */

ee_heat_layout ee_heat_layout_of(uint32_t kv_heads, uint32_t nseg) {
    ee_heat_layout l = {.x0 = MARGIN, .y0 = MARGIN, .bar_h = 10};
    l.cell_w = nseg ? 1024 / nseg : 32;
    l.cell_w = l.cell_w < 2 ? 2 : l.cell_w > 32 ? 32 : l.cell_w;
    l.cell_h = kv_heads ? 256 / kv_heads : 32;
    l.cell_h = l.cell_h < 8 ? 8 : l.cell_h > 32 ? 32 : l.cell_h;
    l.bar_y = l.y0 + kv_heads * l.cell_h + 6;
    l.width = 2 * MARGIN + nseg * l.cell_w;
    l.height = l.bar_y + l.bar_h + 4 + 5 * GLYPH_SCALE + MARGIN;
    return l;
}

typedef struct canvas {
    uint32_t w, h;
    uint8_t *rgb;
} canvas;

static void fill(canvas *c, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const uint8_t rgb[3]) {
    for (uint32_t j = y; j < y + h && j < c->h; j++)
        for (uint32_t i = x; i < x + w && i < c->w; i++)
            memcpy(c->rgb + ((size_t)j * c->w + i) * 3, rgb, 3);
}

/* Digits and a point in a 3x5 font, a row of 3 bits each. */
static void text(canvas *c, uint32_t x, uint32_t y, const char *s) {
    static const uint8_t digits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                          {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
                                          {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
    static const uint8_t point[5] = {0, 0, 0, 0, 2}, ink[3] = {0, 0, 0};
    for (; *s; s++, x += 4 * GLYPH_SCALE) {
        const uint8_t *g = *s == '.' ? point : *s >= '0' && *s <= '9' ? digits[*s - '0'] : NULL;
        for (int row = 0; g && row < 5; row++)
            for (int col = 0; col < 3; col++)
                if (g[row] >> (2 - col) & 1)
                    fill(c, x + col * GLYPH_SCALE, y + row * GLYPH_SCALE, GLYPH_SCALE, GLYPH_SCALE, ink);
    }
}

static int blank(canvas *c, uint32_t w, uint32_t h) {
    c->w = w, c->h = h;
    c->rgb = malloc((size_t)w * h * 3);
    if (c->rgb) memset(c->rgb, 255, (size_t)w * h * 3);
    return c->rgb ? 0 : 1;
}

static int save(canvas *c, const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = ee_png_write(path, c->w, c->h, c->rgb);
    free(c->rgb);
    return rc;
}

/* A profiled layer's entropies, heads x segments, scaled by 1 / top. */
static int layer_picture(const cJSON *heads, uint32_t kv_heads, uint32_t nseg, float top, const char *dir,
                         uint32_t layer) {
    ee_heat_layout l = ee_heat_layout_of(kv_heads, nseg);
    canvas c;
    if (blank(&c, l.width, l.height)) return 1;
    uint8_t rgb[3];
    for (uint32_t h = 0; h < kv_heads; h++) {
        const cJSON *e = cJSON_GetObjectItem(cJSON_GetArrayItem(heads, (int)h), "entropy");
        for (uint32_t s = 0; s < nseg; s++) {
            ee_colormap((float)cJSON_GetArrayItem(e, (int)s)->valuedouble / top, rgb);
            fill(&c, l.x0 + s * l.cell_w, l.y0 + h * l.cell_h, l.cell_w, l.cell_h, rgb);
        }
    }
    uint32_t bar_w = nseg * l.cell_w;
    for (uint32_t x = 0; x < bar_w; x++) {
        ee_colormap(bar_w > 1 ? (float)x / (float)(bar_w - 1) : 0, rgb);
        fill(&c, l.x0 + x, l.bar_y, 1, l.bar_h, rgb);
    }
    char label[32];
    uint32_t y = l.bar_y + l.bar_h + 4;
    text(&c, l.x0, y, "0.00");
    snprintf(label, sizeof label, "%.2f", top);
    uint32_t w = (uint32_t)strlen(label) * 4 * GLYPH_SCALE - GLYPH_SCALE;
    text(&c, l.x0 + bar_w > w ? l.x0 + bar_w - w : l.x0, y, label);
    snprintf(label, sizeof label, "layer_%02u.png", layer);
    return save(&c, dir, label);
}

/* Whether a layer entry is a well-formed profile of kv_heads x nseg. */
static int well_formed(const cJSON *layer, uint32_t kv_heads, uint32_t *nseg) {
    const cJSON *heads = cJSON_GetObjectItem(layer, "heads"), *n = cJSON_GetObjectItem(layer, "segments");
    if (!cJSON_IsArray(heads) || cJSON_GetArraySize(heads) != (int)kv_heads || !cJSON_IsNumber(n) ||
        n->valuedouble < 1 || n->valuedouble > 1 << 20)
        return 0;
    *nseg = (uint32_t)n->valuedouble;
    for (int h = 0; h < (int)kv_heads; h++) {
        const cJSON *head = cJSON_GetArrayItem(heads, h), *e = cJSON_GetObjectItem(head, "entropy");
        if (!cJSON_IsBool(cJSON_GetObjectItem(head, "rigid")) || !cJSON_IsArray(e) ||
            cJSON_GetArraySize(e) != (int)*nseg)
            return 0;
        for (const cJSON *x = e->child; x; x = x->next)
            if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0)) return 0;
    }
    return 1;
}

int ee_heatmaps(const cJSON *stats, const char *dir) {
    const cJSON *layers = cJSON_GetObjectItem(stats, "layers"), *kv = cJSON_GetObjectItem(stats, "kv_heads");
    int n_layer = cJSON_GetArraySize(layers);
    if (!cJSON_IsArray(layers) || !n_layer || !cJSON_IsNumber(kv) || kv->valuedouble < 1 || kv->valuedouble > 1024) {
        fprintf(stderr, "ei-eval: error: not a stats JSON (vkinfer --stats): no layers or kv_heads\n");
        return 1;
    }
    uint32_t kv_heads = (uint32_t)kv->valuedouble, nseg;
    float top = 0;
    for (const cJSON *layer = layers->child; layer; layer = layer->next) {
        if (cJSON_IsTrue(cJSON_GetObjectItem(layer, "dense"))) continue;
        if (!well_formed(layer, kv_heads, &nseg)) {
            fprintf(stderr, "ei-eval: error: not a stats JSON (vkinfer --stats): a layer without its profile\n");
            return 1;
        }
        /* Segment 0 sees no block: its uniform entropy, the largest, would
         * flatten the rest; it is drawn in the top colour. */
        for (const cJSON *h = cJSON_GetObjectItem(layer, "heads")->child; h; h = h->next)
            for (const cJSON *x = cJSON_GetObjectItem(h, "entropy")->child->next; x; x = x->next)
                top = fmaxf(top, (float)x->valuedouble);
    }
    if (top <= 0) top = 1;
    canvas summary;
    if (blank(&summary, 2 * EE_SUMMARY_MARGIN + kv_heads * EE_SUMMARY_CELL_W,
              2 * EE_SUMMARY_MARGIN + (uint32_t)n_layer * EE_SUMMARY_CELL_H))
        return 1;
    static const uint8_t rigid[3] = {EE_RIGID_RGB}, dynamic[3] = {EE_DYNAMIC_RGB}, dense[3] = {EE_DENSE_RGB};
    int rc = 0, l = 0;
    for (const cJSON *layer = layers->child; layer; layer = layer->next, l++) {
        int profiled = !cJSON_IsTrue(cJSON_GetObjectItem(layer, "dense"));
        const cJSON *heads = cJSON_GetObjectItem(layer, "heads");
        for (uint32_t h = 0; h < kv_heads; h++) {
            const uint8_t *rgb = !profiled ? dense
                                 : cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(heads, (int)h), "rigid"))
                                     ? rigid
                                     : dynamic;
            /* A pixel of white between cells. */
            fill(&summary, EE_SUMMARY_MARGIN + h * EE_SUMMARY_CELL_W, EE_SUMMARY_MARGIN + l * EE_SUMMARY_CELL_H,
                 EE_SUMMARY_CELL_W - 1, EE_SUMMARY_CELL_H - 1, rgb);
        }
        if (profiled && rc == 0) {
            well_formed(layer, kv_heads, &nseg);
            rc = layer_picture(heads, kv_heads, nseg, top, dir, (uint32_t)l);
        }
    }
    return save(&summary, dir, "rigid.png") || rc;
}
