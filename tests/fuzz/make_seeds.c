/* Writes the fuzz seed corpus: the test writer's sample file, versions 2
 * and 3. Usage: make_seeds DIR */
#include <stdio.h>

#include "util/gguf_writer.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    for (unsigned version = 2; version <= 3; version++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sample_v%u", argv[1], version);
        gw w = gw_sample(version);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(w.data, 1, w.size, f) != w.size || fclose(f)) return 1;
        gw_free(&w);
    }
    return 0;
}
