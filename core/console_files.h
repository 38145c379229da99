/*
 * console_files.h - the web console's built files (docs/console.md), read into memory
 * from `console.dir` at start and on every reload, so that serving /console/ never reads
 * a disk on an HTTP thread.
 *
 * A set is immutable once loaded. Lookups are exact matches of a relative path against the
 * names found in the directory, so nothing outside it can be named: "..", "//", a
 * percent-encoded slash or an absolute path match no entry. Symbolic links, names starting
 * with "." and anything that is not a regular file or a directory are skipped.
 */
#ifndef LEADHUB_CONSOLE_FILES_H
#define LEADHUB_CONSOLE_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* What one load may hold: the console is a few hundred kilobytes. */
#define CONSOLE_FILES_MAX       1024
#define CONSOLE_FILES_MAX_BYTES (64u * 1024 * 1024)
#define CONSOLE_FILES_MAX_DEPTH 8

struct console_file {
    char *path;          /* relative to the directory: "index.html", "assets/x.js" */
    unsigned char *data; /* the contents (NUL-terminated; len excludes the NUL) */
    size_t len;
    const char *content_type; /* a constant, from the file's extension */
    char etag[20];            /* a strong validator of the contents: "\"<16 hex>\"" */
    bool immutable;           /* under assets/: names carry a content hash */
};

struct console_files;

/*
 * console_files_load - read every regular file under `dir`.
 *   error_out: a malloc'd reason when NULL is returned (no such directory, too many files
 *              or bytes, an unreadable file, no index.html).
 *   Returns a new set (free with console_files_free()).
 */
struct console_files *console_files_load(const char *dir, char **error_out);

/* console_files_find - the file at `path` (relative, no leading slash), or NULL. The
 * result is borrowed from the set. */
const struct console_file *console_files_find(const struct console_files *files, const char *path);

/* console_files_count - how many files the set holds. */
size_t console_files_count(const struct console_files *files);

/* console_files_content_type - the Content-Type for a file name, by extension. */
const char *console_files_content_type(const char *name);

/* console_files_free - accepts NULL. */
void console_files_free(struct console_files *files);

#endif
