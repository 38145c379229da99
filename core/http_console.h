/*
 * http_console.h - GET /console/...: the web console's files, served from memory
 * (console_files.h) with their content type, caching rules and the security headers a
 * browser needs to run them safely: a Content-Security-Policy that allows no inline
 * script or style and no other origin, nosniff, no framing, no referrer.
 *
 * The files are read at start and on every reload (SIGHUP) on the calling thread; an
 * HTTP thread only looks a file up and copies it into its response, under a read lock.
 */
#ifndef LEADHUB_HTTP_CONSOLE_H
#define LEADHUB_HTTP_CONSOLE_H

#include <microhttpd.h>

#define HTTP_CONSOLE_PREFIX "/console"

/* The policy of every /console response (docs/console.md says why each part). */
#define HTTP_CONSOLE_CSP                                                                           \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "                  \
    "form-action 'none'; frame-ancestors 'none'"

struct http_console;

/* http_console_new - an empty console (every path 404 until a load succeeds); NULL when out
 * of memory. */
struct http_console *http_console_new(void);

/*
 * http_console_load - read `dir` (console.dir) into memory and serve it from now on. On
 * failure the files served so far stay (a reload that finds a half-copied directory does
 * not take the console away) and *error_out gets a malloc'd reason.
 *   Returns the number of files loaded, or -1.
 */
long http_console_load(struct http_console *console, const char *dir, char **error_out);

/*
 * http_console_response - the answer to `method` on `url` (which starts with /console):
 * 200 with the file, 304 when `if_none_match` names its ETag, 308 from /console to
 * /console/, 404, or 405. The response has every header set; the caller queues it with
 * *status_out and destroys it. NULL when out of memory.
 */
struct MHD_Response *http_console_response(struct http_console *console, const char *url,
                                           const char *method, const char *if_none_match,
                                           unsigned *status_out);

/* http_console_free - accepts NULL. */
void http_console_free(struct http_console *console);

#endif
