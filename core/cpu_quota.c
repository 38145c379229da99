/* cpu_quota.c - the CPU quota of this process's cgroup (v2, else v1) and its affinity. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_quota.h"
#include "util.h"

/* Whole CPUs of quota/period, rounded up; 0 for none. */
static unsigned cpus_of(long long quota, long long period)
{
    if (quota <= 0 || period <= 0) {
        return 0;
    }
    long long cpus = (quota + period - 1) / period;
    return cpus > 4096 ? 4096 : (unsigned)cpus;
}

/* The smaller of two limits where 0 means none. */
static unsigned tighter(unsigned a, unsigned b)
{
    if (a == 0) {
        return b;
    }
    return b == 0 || a < b ? a : b;
}

/* "max 100000" (none) or "QUOTA PERIOD". */
static unsigned read_cpu_max(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0;
    }
    char line[64] = "";
    unsigned cpus = 0;
    if (fgets(line, sizeof(line), file) != NULL && strncmp(line, "max", 3) != 0) {
        char *end = NULL;
        long long quota = strtoll(line, &end, 10);
        long long period = end != line ? strtoll(end, NULL, 10) : 0;
        cpus = cpus_of(quota, period);
    }
    fclose(file);
    return cpus;
}

static long long read_number(const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return 0;
    }
    char line[32] = "";
    long long value = 0;
    if (fgets(line, sizeof(line), file) != NULL) {
        value = strtoll(line, NULL, 10); /* 0 when it holds no number */
    }
    fclose(file);
    return value;
}

/* cgroup v2: cpu.max of the cgroup and of each ancestor up to the mount (a parent's
 * limit binds the children too). */
static unsigned v2_limit(const char *root, const char *path)
{
    char *dir = util_printf("%s/sys/fs/cgroup%s", root, strcmp(path, "/") == 0 ? "" : path);
    char *top = util_printf("%s/sys/fs/cgroup", root);
    unsigned limit = 0;
    while (dir != NULL && top != NULL) {
        char *file = util_printf("%s/cpu.max", dir);
        if (file != NULL) {
            limit = tighter(limit, read_cpu_max(file));
        }
        free(file);
        if (strcmp(dir, top) == 0 || strlen(dir) <= strlen(top)) {
            break;
        }
        *strrchr(dir, '/') = '\0';
    }
    free(dir);
    free(top);
    return limit;
}

/* cgroup v1: the cpu controller's mount, at the process's path when it exists there (a
 * host), else at the mount's root (a container sees its own cgroup as the root). */
static unsigned v1_limit(const char *root, const char *path)
{
    static const char *const mounts[] = {"cpu,cpuacct", "cpu", "cpuacct,cpu"};
    for (size_t m = 0; m < UTIL_ARRAY_LEN(mounts); m++) {
        const char *const where[] = {path, ""};
        for (size_t w = 0; w < UTIL_ARRAY_LEN(where); w++) {
            char *quota_file =
                util_printf("%s/sys/fs/cgroup/%s%s/cpu.cfs_quota_us", root, mounts[m], where[w]);
            char *period_file =
                util_printf("%s/sys/fs/cgroup/%s%s/cpu.cfs_period_us", root, mounts[m], where[w]);
            bool present = quota_file != NULL && access(quota_file, R_OK) == 0;
            unsigned cpus = present && period_file != NULL
                                ? cpus_of(read_number(quota_file), read_number(period_file))
                                : 0;
            free(quota_file);
            free(period_file);
            if (present) {
                return cpus;
            }
        }
    }
    return 0;
}

unsigned cpu_quota_limit_at(const char *root)
{
    char *self = util_printf("%s/proc/self/cgroup", root);
    FILE *file = self != NULL ? fopen(self, "r") : NULL;
    free(self);
    if (file == NULL) {
        return 0;
    }
    char line[4096];
    char v2_path[4096] = "";
    char v1_path[4096] = "";
    bool v2 = false, v1 = false;
    while (fgets(line, sizeof(line), file) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        /* hierarchy-ID:controller-list:path */
        char *controllers = strchr(line, ':');
        char *path = controllers != NULL ? strchr(controllers + 1, ':') : NULL;
        if (path == NULL) {
            continue;
        }
        *path++ = '\0';
        *controllers++ = '\0';
        if (strcmp(line, "0") == 0 && controllers[0] == '\0') {
            v2 = true;
            snprintf(v2_path, sizeof(v2_path), "%s", path);
            continue;
        }
        /* v1: the line whose controller list names "cpu" */
        for (char *save = NULL, *name = strtok_r(controllers, ",", &save); name != NULL;
             name = strtok_r(NULL, ",", &save)) {
            if (strcmp(name, "cpu") == 0) {
                v1 = true;
                snprintf(v1_path, sizeof(v1_path), "%s", path);
            }
        }
    }
    fclose(file);
    /* Hybrid hosts list both: the v1 cpu controller, when mounted, is the one in force. */
    if (v1) {
        unsigned limit = v1_limit(root, v1_path);
        if (limit > 0) {
            return limit;
        }
    }
    return v2 ? v2_limit(root, v2_path[0] != '\0' ? v2_path : "/") : 0;
}

unsigned cpu_quota_cpus(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned cpus = online > 0 ? (unsigned)online : 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        cpus = tighter(cpus, (unsigned)CPU_COUNT(&set));
    }
    cpus = tighter(cpus, cpu_quota_limit_at(""));
    return cpus > 0 ? cpus : 1;
}
