/*
 * diag.h - diagnostics in PostgreSQL's three parts (what failed, the detail, a hint of
 * what to do), with where: file, line and key path. Config validation and the plugin
 * loader collect them in a list; the CLI prints them, the daemon logs them.
 */
#ifndef LEADHUB_DIAG_H
#define LEADHUB_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum diag_severity { DIAG_ERROR = 0, DIAG_WARNING = 1 };

struct diag {
    enum diag_severity severity;
    char *file;    /* may be NULL */
    int line;      /* 0 when unknown */
    char *key;     /* key path such as "settings.tolerance", may be NULL */
    char *message; /* what failed; never NULL */
    char *detail;  /* may be NULL */
    char *hint;    /* may be NULL */
};

/* Zero-initialize ({0}); free with diag_list_free(). */
struct diag_list {
    struct diag *items;
    size_t count;
    size_t capacity;
};

/*
 * diag_add - append a diagnostic. Every string argument is copied; file, key, detail
 * and hint may be NULL. Out of memory drops the diagnostic but still counts an error,
 * so that validation never passes by accident.
 */
void diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line,
              const char *key, const char *detail, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

size_t diag_error_count(const struct diag_list *list);
size_t diag_warning_count(const struct diag_list *list);

/*
 * diag_print - human form, one diagnostic per block:
 *   config/conf.d/inbound.yaml:7: settings.tolerance: error: expected a duration, got "5"
 *     detail: ...
 *     hint: write it with a unit, e.g. 30s, 5m or 1h
 */
void diag_print(const struct diag_list *list, FILE *out);

/* diag_log - one JSON log line per diagnostic (errors as error, warnings as warn). */
void diag_log(const struct diag_list *list);

/* diag_format_one - one diagnostic on one line (file:line: key: message), malloc'd. */
char *diag_format_one(const struct diag *diag);

/* diag_move - append every item of src to dst and empty src. */
void diag_move(struct diag_list *dst, struct diag_list *src);

void diag_list_free(struct diag_list *list);

#endif
