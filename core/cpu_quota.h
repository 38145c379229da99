/*
 * cpu_quota.h - how many CPUs this process may really use. In a container the node's CPU
 * count (sysconf) says nothing of the CPU limit: a pod limited to 2 CPUs on a 64-core node
 * that starts 64 HTTP threads, each with a database connection, only contends with itself
 * and exhausts PostgreSQL's connections. Defaults that say "one per CPU" use this instead.
 */
#ifndef LEADHUB_CPU_QUOTA_H
#define LEADHUB_CPU_QUOTA_H

/*
 * cpu_quota_cpus - the online CPUs, fewer under an affinity mask (cpuset) or a CFS quota
 * (cgroup v2 cpu.max at this process's cgroup and every ancestor, else cgroup v1
 * cpu.cfs_quota_us / cpu.cfs_period_us), a fractional quota rounded up. At least 1.
 */
unsigned cpu_quota_cpus(void);

/*
 * cpu_quota_limit_at - the CFS quota alone, in whole CPUs rounded up, reading
 * ROOT/proc/self/cgroup and the cgroup files under ROOT/sys/fs/cgroup ("" for the real
 * ones; a directory for tests). 0 when there is no quota (or nothing can be read).
 */
unsigned cpu_quota_limit_at(const char *root);

#endif
