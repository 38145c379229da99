/* pid_file.c - pid files held by a lock (pid_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pid_file.h"
#include "util.h"

static struct flock whole_file(short type)
{
    struct flock lock;
    memset(&lock, 0, sizeof(lock));
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    return lock;
}

pid_t pid_file_holder(const char *path, char **error_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error_out = util_printf("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    /* F_GETLK asks whether a write lock could be taken: the answer names who holds one.
     * A read-only descriptor may still ask (the lock is never taken). */
    struct flock lock = whole_file(F_WRLCK);
    int rc = fcntl(fd, F_GETLK, &lock);
    close(fd);
    if (rc != 0) {
        *error_out = util_printf("cannot read the lock on %s: %s", path, strerror(errno));
        return -1;
    }
    if (lock.l_type == F_UNLCK) {
        *error_out = util_printf("%s is left over: no running leadhubd holds it", path);
        return 0;
    }
    return lock.l_pid;
}

int pid_file_claim(const char *path, char **error_out)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error_out = util_printf("cannot create the pid file %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock lock = whole_file(F_WRLCK);
    if (fcntl(fd, F_SETLK, &lock) != 0) {
        int saved = errno;
        close(fd);
        char *ignored = NULL;
        pid_t holder = pid_file_holder(path, &ignored);
        free(ignored);
        *error_out = holder > 0
                         ? util_printf("the pid file %s is held by leadhubd pid %d: "
                                       "another daemon runs with it",
                                       path, (int)holder)
                         : util_printf("cannot lock the pid file %s: %s", path, strerror(saved));
        return -1;
    }
    char text[32];
    int len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        *error_out = util_printf("cannot write the pid file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void pid_file_release(int fd, const char *path)
{
    if (fd < 0) {
        return;
    }
    /* unlink before the lock goes: nobody finds a file naming a process on its way out */
    unlink(path);
    close(fd);
}
