/* console_files.c - see console_files.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console_files.h"
#include "util.h"

struct console_files {
    struct console_file *files; /* sorted by path */
    size_t count;
    size_t bytes;
};

static const struct {
    const char *extension;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".ico", "image/vnd.microsoft.icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *console_files_content_type(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(content_types); i++) {
        size_t ext = strlen(content_types[i].extension);
        if (len > ext && strcasecmp(name + len - ext, content_types[i].extension) == 0) {
            return content_types[i].type;
        }
    }
    /* with nosniff, a browser neither runs nor renders what it cannot type */
    return "application/octet-stream";
}

static void file_clear(struct console_file *file)
{
    free(file->path);
    free(file->data);
}

void console_files_free(struct console_files *files)
{
    if (files == NULL) {
        return;
    }
    for (size_t i = 0; i < files->count; i++) {
        file_clear(&files->files[i]);
    }
    free(files->files);
    free(files);
}

/* Reads one regular file without following a link; NULL with *error_out on failure. */
static unsigned char *read_regular(int dir_fd, const char *name, size_t room, size_t *len_out,
                                   char **error_out)
{
    unsigned char *data = NULL;
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *error_out = util_printf("%s: %s", name, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > room) {
        *error_out = S_ISREG(st.st_mode) ? util_printf("%s: the files exceed %u bytes in all", name,
                                                       CONSOLE_FILES_MAX_BYTES)
                                         : util_printf("%s: not a regular file", name);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    data = malloc(len + 1);
    size_t got = 0;
    while (data != NULL && got < len) {
        ssize_t n = read(fd, data + got, len - got);
        if (n <= 0) {
            *error_out =
                util_printf("%s: %s", name, n < 0 ? strerror(errno) : "shorter than its size");
            free(data);
            data = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    if (data == NULL) {
        *error_out = strdup("out of memory");
        goto out;
    }
    data[len] = '\0';
    *len_out = len;
out:
    if (fd >= 0) {
        close(fd);
    }
    return data;
}

static uint64_t fnv1a64(const unsigned char *data, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ data[i]) * 1099511628211ULL;
    }
    return h;
}

static int add_file(struct console_files *set, const char *path, unsigned char *data, size_t len)
{
    if (set->count == CONSOLE_FILES_MAX) {
        return -1;
    }
    struct console_file *file = &set->files[set->count];
    file->path = strdup(path);
    if (file->path == NULL) {
        return -1;
    }
    file->data = data;
    file->len = len;
    file->content_type = console_files_content_type(path);
    snprintf(file->etag, sizeof(file->etag), "\"%016llx\"", (unsigned long long)fnv1a64(data, len));
    file->immutable = strncmp(path, "assets/", 7) == 0;
    set->count++;
    set->bytes += len;
    return 0;
}

/* Reads the directory open as `dir_fd` (closed here) whose relative path is `prefix`
 * ("" at the top). Returns 0, or -1 with *error_out set. */
static int load_dir(struct console_files *set, int dir_fd, const char *prefix, int depth,
                    char **error_out)
{
    DIR *dir = fdopendir(dir_fd);
    if (dir == NULL) {
        close(dir_fd);
        *error_out = util_printf("%s: %s", prefix[0] ? prefix : ".", strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue; /* ".", "..", and hidden files are never served */
        }
        struct stat st;
        if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            *error_out = util_printf("%s%s: %s", prefix, entry->d_name, strerror(errno));
            rc = -1;
            break;
        }
        char *path = util_printf("%s%s", prefix, entry->d_name);
        if (path == NULL) {
            *error_out = strdup("out of memory");
            rc = -1;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int fd =
                openat(dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char *sub = util_printf("%s/", path);
            if (depth >= CONSOLE_FILES_MAX_DEPTH) {
                *error_out = util_printf("%s: nested deeper than %d directories", path,
                                         CONSOLE_FILES_MAX_DEPTH);
                rc = -1;
            } else if (fd < 0 || sub == NULL) {
                *error_out = util_printf("%s: %s", path, strerror(errno));
                rc = -1;
            } else {
                rc = load_dir(set, fd, sub, depth + 1, error_out);
                fd = -1;
            }
            if (fd >= 0) {
                close(fd);
            }
            free(sub);
        } else if (S_ISREG(st.st_mode)) {
            size_t len = 0;
            unsigned char *data = read_regular(
                dirfd(dir), entry->d_name, CONSOLE_FILES_MAX_BYTES - set->bytes, &len, error_out);
            if (data == NULL) {
                rc = -1;
            } else if (add_file(set, path, data, len) != 0) {
                free(data);
                *error_out = util_printf("more than %d files, or out of memory", CONSOLE_FILES_MAX);
                rc = -1;
            }
        }
        /* symbolic links, sockets, devices: skipped */
        free(path);
    }
    closedir(dir);
    return rc;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(((const struct console_file *)a)->path, ((const struct console_file *)b)->path);
}

struct console_files *console_files_load(const char *dir, char **error_out)
{
    *error_out = NULL;
    struct console_files *set = calloc(1, sizeof(*set));
    if (set == NULL || (set->files = calloc(CONSOLE_FILES_MAX, sizeof(*set->files))) == NULL) {
        free(set);
        *error_out = strdup("out of memory");
        return NULL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *reason = NULL;
    if (fd < 0) {
        reason = strdup(strerror(errno));
    } else if (load_dir(set, fd, "", 0, &reason) == 0) {
        qsort(set->files, set->count, sizeof(*set->files), compare_paths);
        if (console_files_find(set, "index.html") != NULL) {
            return set;
        }
        reason = strdup("no index.html (build the console: make console)");
    }
    *error_out = util_printf("%s: %s", dir, reason != NULL ? reason : "out of memory");
    free(reason);
    console_files_free(set);
    return NULL;
}

const struct console_file *console_files_find(const struct console_files *files, const char *path)
{
    if (files == NULL) {
        return NULL;
    }
    struct console_file key = {.path = (char *)path};
    return bsearch(&key, files->files, files->count, sizeof(*files->files), compare_paths);
}

size_t console_files_count(const struct console_files *files)
{
    return files != NULL ? files->count : 0;
}
