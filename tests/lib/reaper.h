/*
 * reaper.h - stop what a test started even when the test dies half-way. Check runs each
 * test in a forked process and ends it at the first failed check without running
 * teardowns or atexit handlers, so a daemon or a private PostgreSQL cluster it started
 * would outlive it. The reaper is a small process that watches the test through a pipe;
 * when the test process goes away without releasing it, it kills the daemon it was told
 * of and stops the cluster.
 *
 *   reaper_start();                     at the start of the test
 *   reaper_watch_pid(td.pid);           after each start (0 once it is stopped; -PGID for
 *                                       a whole process group)
 *   reaper_watch_cluster(dir);          a cluster started with scripts/pg.sh (NULL: none)
 *   reaper_release();                   at the end: the test cleaned up itself
 */
#ifndef LEADHUB_REAPER_H
#define LEADHUB_REAPER_H

#include <sys/types.h>

void reaper_start(void);
void reaper_watch_pid(pid_t pid);
void reaper_watch_cluster(const char *dir);
void reaper_release(void);

#endif
