/* config_ref.c - ${ENV}, ${ENV:-fallback}, ${file:/path} and $${ in config strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_ref.h"
#include "util.h"

#define REF_HINT_SYNTAX                                                                            \
    "write ${NAME}, ${NAME:-fallback} or ${file:/absolute/path}; $${ is a literal \"${\""

/* Bytes that decode as UTF-8: jansson refuses anything else, and a config value that
 * silently became NULL would be worse than an error. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (n == 0 || i + n > len) {
            return false;
        }
        unsigned long cp = n == 1 ? c : n == 2 ? (c & 0x1fU) : n == 3 ? (c & 0x0fU) : (c & 0x07U);
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3fU);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return false;
        }
        i += n;
    }
    return true;
}

static bool env_name_valid(const char *name, size_t len)
{
    if (len == 0 || !((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
                      name[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

/* ${file:/path}: appends the contents, minus one trailing newline. */
static int append_file(struct strbuf *sb, const char *path, const struct config_where *where,
                       const char *key, struct diag_list *diags)
{
    if (path[0] != '/') {
        config_where_error(diags, where, key, NULL,
                           "write the full path, e.g. ${file:/run/secrets/api_key}",
                           "the path in ${file:%s} must be absolute", path);
        return -1;
    }
    size_t len = 0;
    char *content = util_read_file(path, CONFIG_REF_MAX_FILE, &len);
    if (content == NULL) {
        if (errno == EFBIG) {
            config_where_error(diags, where, key, NULL, NULL,
                               "file \"%s\" (from ${file:...}) is larger than %d KiB", path,
                               CONFIG_REF_MAX_FILE / 1024);
        } else {
            config_where_error(diags, where, key, NULL,
                               "check the path, the mount and that the daemon may read it",
                               "cannot read file \"%s\" (from ${file:...}): %s", path,
                               strerror(errno));
        }
        return -1;
    }
    if (len > 0 && content[len - 1] == '\n') {
        len--;
        if (len > 0 && content[len - 1] == '\r') {
            len--;
        }
    }
    int rc = 0;
    if (memchr(content, '\0', len) != NULL || !utf8_valid((const unsigned char *)content, len)) {
        config_where_error(diags, where, key, NULL, "a referenced file must hold UTF-8 text",
                           "file \"%s\" (from ${file:...}) is not UTF-8 text", path);
        rc = -1;
    } else {
        strbuf_append_len(sb, content, len);
    }
    free(content);
    return rc;
}

/* Nesting of ${A:-${B:-...}} beyond which a text is refused (a loop in a template). */
#define REF_DEPTH_MAX 8

static int expand(struct strbuf *sb, const char *text, size_t len, const struct config_where *where,
                  const char *key, struct config_ref_info *info, int depth,
                  struct diag_list *diags);

/* The "}" that closes a reference whose body starts at body, counting nested "${", or NULL
 * before end. "$${" is a literal and opens nothing. */
static const char *closing_brace(const char *body, const char *end)
{
    int depth = 1;
    for (const char *p = body; p < end; p++) {
        if (p + 2 < end && p[0] == '$' && p[1] == '$' && p[2] == '{') {
            p += 2;
        } else if (p + 1 < end && p[0] == '$' && p[1] == '{') {
            depth++;
            p++;
        } else if (*p == '}' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* The ":-" of ${NAME:-fallback} in a reference's body, or NULL (a name has no ':'). */
static const char *fallback_separator(const char *body, size_t body_len)
{
    for (size_t i = 0; i + 1 < body_len; i++) {
        if (body[i] == ':' && body[i + 1] == '-') {
            return body + i;
        }
    }
    return NULL;
}

/* True when text[0..len) is exactly one reference whose fallbacks, if any, are exactly one
 * reference each (or empty). */
static bool reference_chain(const char *text, size_t len, int depth)
{
    if (depth > REF_DEPTH_MAX || len < 3 || text[0] != '$' || text[1] != '{' ||
        closing_brace(text + 2, text + len) != text + len - 1) {
        return false;
    }
    const char *body = text + 2;
    size_t body_len = len - 3;
    if (body_len >= 5 && strncmp(body, "file:", 5) == 0) {
        return true;
    }
    const char *sep = fallback_separator(body, body_len);
    if (sep == NULL) {
        return true;
    }
    size_t fallback_len = body_len - (size_t)(sep - body) - 2;
    return fallback_len == 0 || reference_chain(sep + 2, fallback_len, depth + 1);
}

/* ${NAME} or ${NAME:-fallback}; body is what stands between the braces. */
static int append_env(struct strbuf *sb, const char *body, size_t body_len,
                      const struct config_where *where, const char *key,
                      struct config_ref_info *info, int depth, struct diag_list *diags)
{
    const char *sep = fallback_separator(body, body_len);
    size_t name_len = sep != NULL ? (size_t)(sep - body) : body_len;
    if (!env_name_valid(body, name_len)) {
        /* Not quoting the body: a mistyped secret could stand here. */
        config_where_error(diags, where, key, NULL, REF_HINT_SYNTAX,
                           "invalid reference: a variable name is letters, digits and _, "
                           "not starting with a digit");
        return -1;
    }
    const char *fallback = sep != NULL ? sep + 2 : NULL;
    size_t fallback_len = sep != NULL ? body_len - name_len - 2 : 0;
    if (fallback_len > 0 && !reference_chain(fallback, fallback_len, depth + 1)) {
        info->literal_fallback = true;
    }
    char *name = strndup(body, name_len);
    if (name == NULL) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
        return -1;
    }
    const char *value = getenv(name);
    int rc = 0;
    if (sep != NULL && (value == NULL || value[0] == '\0')) {
        rc = expand(sb, fallback, fallback_len, where, key, info, depth + 1, diags);
    } else if (value == NULL) {
        char *hint = util_printf("export %s, or use ${%s:-fallback} or ${file:/path}", name, name);
        config_where_error(diags, where, key, NULL, hint,
                           "environment variable %s is not set (referenced as ${%s})", name, name);
        free(hint);
        rc = -1;
    } else if (!utf8_valid((const unsigned char *)value, strlen(value))) {
        config_where_error(diags, where, key, NULL, "set it to UTF-8 text",
                           "environment variable %s is not UTF-8 text", name);
        rc = -1;
    } else {
        strbuf_append(sb, value);
    }
    free(name);
    return rc;
}

/* Expands text[0..len) into sb; info->single says whether it was one reference alone. */
static int expand(struct strbuf *sb, const char *text, size_t len, const struct config_where *where,
                  const char *key, struct config_ref_info *info, int depth, struct diag_list *diags)
{
    if (depth > REF_DEPTH_MAX) {
        config_where_error(diags, where, key, NULL, REF_HINT_SYNTAX,
                           "references nested more than %d deep", REF_DEPTH_MAX);
        return -1;
    }
    const char *end = text + len;
    size_t references = 0;
    bool only_reference = false;
    for (const char *p = text; p < end;) {
        if (p + 2 < end && p[0] == '$' && p[1] == '$' && p[2] == '{') {
            strbuf_append(sb, "${");
            p += 3;
            continue;
        }
        if (p + 1 >= end || p[0] != '$' || p[1] != '{') {
            strbuf_append_len(sb, p, 1);
            p++;
            continue;
        }
        const char *body = p + 2;
        const char *close = closing_brace(body, end);
        if (close == NULL) {
            config_where_error(diags, where, key, NULL, REF_HINT_SYNTAX,
                               "unterminated reference: \"${\" at character %zu has no closing "
                               "\"}\"",
                               (size_t)(p - text) + 1);
            return -1;
        }
        size_t body_len = (size_t)(close - body);
        int rc;
        if (body_len >= 5 && strncmp(body, "file:", 5) == 0) {
            char *path = strndup(body + 5, body_len - 5);
            if (path == NULL) {
                config_where_error(diags, where, key, NULL, NULL, "out of memory");
                return -1;
            }
            rc = append_file(sb, path, where, key, diags);
            free(path);
        } else {
            rc = append_env(sb, body, body_len, where, key, info, depth, diags);
        }
        if (rc != 0) {
            return -1;
        }
        only_reference = references == 0 && p == text && close + 1 == end;
        references++;
        p = close + 1;
    }
    if (depth == 0) {
        info->single = references == 1 && only_reference;
    }
    return 0;
}

int config_ref_resolve(const char *text, const struct config_where *where, const char *key,
                       char **out, struct config_ref_info *info_out, struct diag_list *diags)
{
    struct strbuf sb = {0};
    struct config_ref_info info = {false, false};
    *out = NULL;
    if (expand(&sb, text, strlen(text), where, key, &info, 0, diags) != 0) {
        strbuf_free(&sb);
        return -1;
    }
    if (sb.failed) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
        strbuf_free(&sb);
        return -1;
    }
    *out = strbuf_take(&sb);
    if (*out == NULL) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
        return -1;
    }
    if (info_out != NULL) {
        *info_out = info;
    }
    return 0;
}
