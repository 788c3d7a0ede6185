/* Exact match of a generated answer. */
#include <ctype.h>
#include <string.h>

#include "eval.h"

ee_verdict ee_judge(const char *text, const char *answer, int final) {
    while (*text == ' ' || *text == '"' || *text == '\'' || *text == ':')
        text++;
    size_t n = strlen(answer), got = strlen(text);
    size_t common = got < n ? got : n;
    if (memcmp(text, answer, common) != 0) return EE_MISS;
    if (got < n) return final ? EE_MISS : EE_PENDING;
    if (got == n) return final ? EE_MATCH : EE_PENDING;
    return isalnum((unsigned char)text[n]) ? EE_MISS : EE_MATCH;
}
