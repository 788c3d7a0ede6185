/* A program built against the installed library, as a user would build it. */
#include <entropyinfer.h>
#include <stdio.h>

int main(void) {
    char error[256] = "";
    ei_context_desc desc = ei_context_desc_default();
    desc.error = error;
    desc.error_size = sizeof error;
    ei_context *ctx = NULL;
    ei_status st = ei_context_create(&desc, &ctx);
    if (st != EI_OK) {
        fprintf(stderr, "%s: %s\n", ei_status_name(st), error);
        return 1;
    }
    printf("installed library works on %s\n", ei_context_facts(ctx)->name);
    ei_context_destroy(ctx);
    return 0;
}
