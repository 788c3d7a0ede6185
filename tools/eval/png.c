/* PNG files through libpng's simplified API. */
#include <png.h>
#include <stdio.h>
#include <string.h>

#include "heatmap.h"

int ee_png_write(const char *path, uint32_t width, uint32_t height, const uint8_t *rgb) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = PNG_FORMAT_RGB;
    if (png_image_write_to_file(&image, path, 0, rgb, 0, NULL)) return 0;
    fprintf(stderr, "ei-eval: error: cannot write %s: %s\n", path, image.message);
    png_image_free(&image);
    return 1;
}
