/*
 * new_plugin.c - renders the plugin skeleton (sdk/template/) for a name and a kind and
 * writes it into a new folder: what `leadhubd new-plugin` does.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "new_plugin.h"
#include "util.h"

unsigned new_plugin_kind_parse(const char *text)
{
    static const struct {
        const char *name;
        unsigned kind;
    } kinds[] = {{"source", NEW_PLUGIN_SOURCE},
                 {"sink", NEW_PLUGIN_SINK},
                 {"source+sink", NEW_PLUGIN_SOURCE | NEW_PLUGIN_SINK},
                 {"sink+source", NEW_PLUGIN_SOURCE | NEW_PLUGIN_SINK},
                 {"scorer", NEW_PLUGIN_SCORER}};
    for (size_t i = 0; text != NULL && i < UTIL_ARRAY_LEN(kinds); i++) {
        if (strcmp(text, kinds[i].name) == 0) {
            return kinds[i].kind;
        }
    }
    return 0;
}

static const char *kind_text(unsigned kind)
{
    return kind == (NEW_PLUGIN_SOURCE | NEW_PLUGIN_SINK) ? "source+sink"
           : kind == NEW_PLUGIN_SOURCE                   ? "source"
           : kind == NEW_PLUGIN_SINK                     ? "sink"
                                                         : "scorer";
}

static const char *kind_bits(unsigned kind)
{
    return kind == (NEW_PLUGIN_SOURCE | NEW_PLUGIN_SINK) ? "LH_KIND_SOURCE | LH_KIND_SINK"
           : kind == NEW_PLUGIN_SOURCE                   ? "LH_KIND_SOURCE"
           : kind == NEW_PLUGIN_SINK                     ? "LH_KIND_SINK"
                                                         : "LH_KIND_SCORER";
}

/* "@IF k@" / "@IF !k@": whether the kind keeps the lines that follow. */
static bool condition_holds(const char *condition, size_t len, unsigned kind)
{
    bool negate = len > 0 && condition[0] == '!';
    if (negate) {
        condition++;
        len--;
    }
    unsigned bit = len == 6 && strncmp(condition, "source", 6) == 0   ? NEW_PLUGIN_SOURCE
                   : len == 4 && strncmp(condition, "sink", 4) == 0   ? NEW_PLUGIN_SINK
                   : len == 6 && strncmp(condition, "scorer", 6) == 0 ? NEW_PLUGIN_SCORER
                                                                      : 0;
    return ((kind & bit) != 0) != negate;
}

/* One line with its placeholders replaced, appended to out. */
static void render_line(struct strbuf *out, const char *line, size_t len, const char *name,
                        const char *upper, unsigned kind)
{
    static const char *const keys[] = {"@NAME@", "@NAME_UPPER@", "@KIND@", "@KIND_BITS@"};
    const char *values[] = {name, upper, kind_text(kind), kind_bits(kind)};
    for (size_t i = 0; i < len;) {
        bool replaced = false;
        for (size_t k = 0; k < UTIL_ARRAY_LEN(keys); k++) {
            size_t key_len = strlen(keys[k]);
            if (len - i >= key_len && strncmp(line + i, keys[k], key_len) == 0) {
                strbuf_append(out, values[k]);
                i += key_len;
                replaced = true;
                break;
            }
        }
        if (!replaced) {
            strbuf_append_len(out, line + i, 1);
            i++;
        }
    }
}

char *new_plugin_render(const char *text, const char *name, unsigned kind)
{
    char upper[128];
    snprintf(upper, sizeof(upper), "%s", name);
    for (char *p = upper; *p != '\0'; p++) {
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    }
    struct strbuf out = {0};
    strbuf_append(&out, "");
    bool keep = true;
    for (const char *line = text; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        size_t with_newline = len + (line[len] == '\n');
        if (len > 5 && strncmp(line, "@IF ", 4) == 0 && line[len - 1] == '@') {
            keep = condition_holds(line + 4, len - 5, kind);
        } else if (len == 5 && strncmp(line, "@END@", 5) == 0) {
            keep = true;
        } else if (keep) {
            render_line(&out, line, with_newline, name, upper, kind);
        }
        line += with_newline;
    }
    return strbuf_take(&out);
}

/* mkdir -p for the parents of path (inside dir, which exists). */
static int make_parents(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int rc = mkdir(path, 0755);
        *slash = '/';
        if (rc != 0 && errno != EEXIST) {
            return -1;
        }
    }
    return 0;
}

/* 1 when dir does not exist or holds nothing; 0 when it holds files; -1 when unreadable. */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 1 : -1;
    }
    int empty = 1;
    for (struct dirent *entry; (entry = readdir(d)) != NULL;) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

int new_plugin_write(const char *dir, const char *name, unsigned kind, char **error_out)
{
    *error_out = NULL;
    int empty = dir_is_empty(dir);
    if (empty != 1) {
        *error_out = util_printf("%s: %s", dir,
                                 empty == 0 ? "exists and is not empty: nothing was written"
                                            : strerror(errno));
        return -1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *error_out = util_printf("%s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < new_plugin_file_count; i++) {
        const char *condition = new_plugin_files[i].condition;
        if (condition[0] != '\0' && !condition_holds(condition, strlen(condition), kind)) {
            continue;
        }
        char *relative = new_plugin_render(new_plugin_files[i].path, name, kind);
        char *text = new_plugin_render(new_plugin_files[i].text, name, kind);
        char *path = relative != NULL ? util_printf("%s/%s", dir, relative) : NULL;
        /* trailing newline of the one-line path render */
        if (path != NULL && path[strlen(path) - 1] == '\n') {
            path[strlen(path) - 1] = '\0';
        }
        FILE *file = NULL;
        int rc = -1;
        if (text != NULL && path != NULL && make_parents(path) == 0 &&
            (file = fopen(path, "wx")) != NULL) {
            rc = fputs(text, file) < 0 ? -1 : 0;
            /* scripts keep their #! working */
            if (strncmp(text, "#!", 2) == 0 && fchmod(fileno(file), 0755) != 0) {
                rc = -1;
            }
            rc = fclose(file) != 0 ? -1 : rc;
        }
        if (rc != 0) {
            *error_out = util_printf("%s: %s", path != NULL ? path : dir, strerror(errno));
        }
        free(path);
        free(text);
        free(relative);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}
