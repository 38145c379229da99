/*
 * pid_file.h - a pid file that names a running daemon and no other: the daemon holds a
 * write lock (fcntl) on it for as long as it runs, so a pid file left by a crash names
 * nobody (the lock went with the process) and a reused pid is never signalled.
 */
#ifndef LEADHUB_PID_FILE_H
#define LEADHUB_PID_FILE_H

#include <sys/types.h>

/*
 * pid_file_claim - create `path` (mode 0644), lock it and write this process's pid.
 *   error_out: on failure a malloc'd reason (another daemon holds it: its pid).
 *   Returns the open descriptor, to hand to pid_file_release(), or -1.
 */
int pid_file_claim(const char *path, char **error_out);

/* pid_file_release - remove the file and drop the lock. fd -1 does nothing. */
void pid_file_release(int fd, const char *path);

/*
 * pid_file_holder - the pid of the process holding the lock on `path`.
 *   error_out: when it returns <= 0, a malloc'd reason (missing file, nobody holds it).
 *   Returns the pid, 0 when no running process holds the file, -1 when it cannot be read.
 */
pid_t pid_file_holder(const char *path, char **error_out);

#endif
