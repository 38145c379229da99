/* config_suggest.c - edit distance (optimal string alignment) and allowed-name hints. */
#include <string.h>

#include "config_suggest.h"
#include "util.h"

#define SUGGEST_MAX_LEN 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t config_suggest_distance(const char *a, const char *b)
{
    const size_t too_far = CONFIG_SUGGEST_MAX_DISTANCE + 1;
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN || (n > m ? n - m : m - n) >= too_far) {
        return too_far;
    }
    /* Three rows suffice for the swap rule, which looks two rows back. */
    size_t rows[3][SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= m; j++) {
        rows[0][j] = j;
    }
    for (size_t i = 1; i <= n; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j]) {
                cur[j] = prev2[j - 2] + 1;
            }
        }
    }
    size_t distance = rows[n % 3][m];
    return distance < too_far ? distance : too_far;
}

char *config_suggest_hint(const char *given, const char *const *candidates, size_t count,
                          const char *what)
{
    struct strbuf sb = {0};
    const char *best = NULL;
    size_t best_distance = CONFIG_SUGGEST_MAX_DISTANCE + 1;
    for (size_t i = 0; i < count; i++) {
        size_t d = config_suggest_distance(given, candidates[i]);
        if (d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    if (best != NULL) {
        strbuf_appendf(&sb, "did you mean \"%s\"? ", best);
    }
    strbuf_appendf(&sb, "%s: ", what);
    for (size_t i = 0; i < count; i++) {
        strbuf_appendf(&sb, "%s%s", i > 0 ? ", " : "", candidates[i]);
    }
    if (count == 0) {
        strbuf_append(&sb, "none");
    }
    return strbuf_take(&sb);
}
