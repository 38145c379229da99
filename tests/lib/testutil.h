/*
 * testutil.h - small helpers for Check suites: temporary directories and files, running
 * commands, where the build and source trees are.
 */
#ifndef LEADHUB_TESTUTIL_H
#define LEADHUB_TESTUTIL_H

#include <stddef.h>

/* $LEADHUB_BUILD_DIR (set by scripts/run-tests.sh) or "build"; $LEADHUB_SOURCE_DIR or ".". */
const char *tu_build_dir(void);
const char *tu_source_dir(void);

/* A new directory under /tmp (malloc'd path); aborts the test on failure. */
char *tu_tmpdir(void);

/* rm -rf path. */
void tu_rmrf(const char *path);

/* dir + "/" + name, malloc'd. */
char *tu_path(const char *dir, const char *name);

/* Writes content to dir/name, creating parent directories; aborts the test on failure. */
void tu_write_file(const char *dir, const char *name, const char *content);

/*
 * tu_run - run `command` through /bin/sh, capturing stdout and stderr together.
 *   output_out: malloc'd output (may be NULL to discard).
 *   Returns the exit status (0-255), or 128 + signal number when killed by a signal.
 */
int tu_run(const char *command, char **output_out);

/*
 * tu_run_suite - run a suite (Check's own fork-per-test mode) and free it; returns the
 * process exit code: 0 when every test passed.
 */
struct Suite;
int tu_run_suite(struct Suite *suite);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tu_free_port(void);

#endif
