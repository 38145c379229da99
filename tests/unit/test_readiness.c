/* test_readiness.c - the rules of /readyz, the schema policy's verdicts, and the CPU
 * count that "one per CPU" defaults follow (cgroup v2 and v1 files laid out in a temporary
 * root). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_quota.h"
#include "readiness.h"
#include "schema_policy.h"
#include "testutil.h"
#include "util.h"

static const struct readiness_facts healthy = {
    .database_reachable = true,
    .writers_up = true,
    .schema_compatible = true,
};

START_TEST(test_readiness_a_failed_connector_is_reported_not_unready)
{
    struct readiness_facts facts = healthy;
    facts.instances_failed = 2;
    facts.scorers_failed = 1;
    const char *reason = "unset";
    ck_assert(readiness_decide(&facts, &reason));
    ck_assert_ptr_null(reason);
}
END_TEST

START_TEST(test_readiness_require_connectors_restores_the_strict_rule)
{
    struct readiness_facts facts = healthy;
    facts.require_connectors = true;
    const char *reason = NULL;
    ck_assert(readiness_decide(&facts, &reason));
    facts.instances_failed = 1;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "connector instance failed"));
    facts.instances_failed = 0;
    facts.scorers_failed = 1;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_ptr_nonnull(strstr(reason, "scorer"));
}
END_TEST

START_TEST(test_readiness_unready_only_when_it_cannot_take_webhooks)
{
    const char *reason = NULL;
    struct readiness_facts facts = healthy;
    facts.stopping = true;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_str_eq(reason, "stopping");
    facts = healthy;
    facts.starting = true;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_str_eq(reason, "starting");
    facts = healthy;
    facts.database_reachable = false;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_str_eq(reason, "database unreachable");
    facts = healthy;
    facts.writers_up = false;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_str_eq(reason, "database unreachable");
    facts = healthy;
    facts.schema_compatible = false;
    ck_assert(!readiness_decide(&facts, &reason));
    ck_assert_str_eq(reason, "schema incompatible");
}
END_TEST

/* Releases 5 (runs on 4..5) around a database at various schemas. */
static const struct migration five[] = {
    {1, "a", "", 0}, {2, "b", "", 0}, {3, "c", "", 0}, {4, "d", "", 0}, {5, "e", "", 4},
};

START_TEST(test_schema_policy_judges_older_equal_and_newer_schemas)
{
    const struct schema_policy policy = {five, 5, NULL, 0, 4};
    char *detail = NULL;
    struct schema_state state = {5, 0};
    ck_assert(schema_policy_judge(&policy, &state, &detail));
    ck_assert_str_eq(detail, "ok");
    free(detail);
    state = (struct schema_state){4, 0}; /* a contraction to 5 waits: it still runs */
    ck_assert(schema_policy_judge(&policy, &state, NULL));
    state = (struct schema_state){3, 0};
    ck_assert(!schema_policy_judge(&policy, &state, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "leadhubd migrate"));
    free(detail);
    state = (struct schema_state){7, 5}; /* newer, declared to run with release 5 */
    ck_assert(schema_policy_judge(&policy, &state, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "declares release 5 and later compatible"));
    free(detail);
    state = (struct schema_state){7, 6};
    ck_assert(!schema_policy_judge(&policy, &state, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "upgrade it"));
    free(detail);
}
END_TEST

START_TEST(test_schema_policy_runs_from_header_then_table_then_own_version)
{
    const struct schema_compat compat[] = {{3, 2}, {5, 1}};
    const struct schema_policy policy = {five, 5, compat, 2, 4};
    ck_assert_int_eq(schema_policy_runs_from(&policy, 5), 4); /* the file's header wins */
    ck_assert_int_eq(schema_policy_runs_from(&policy, 3), 2);
    ck_assert_int_eq(schema_policy_runs_from(&policy, 4), 4);
    ck_assert_int_eq(schema_policy_runs_from(&policy, 9), 9);
    /* this release: each migration either keeps its predecessor or says it does not */
    const struct schema_policy *current = schema_policy_current();
    for (size_t i = 0; i < current->migration_count; i++) {
        int version = current->migrations[i].version;
        ck_assert_int_le(schema_policy_runs_from(current, version), version);
    }
    ck_assert_int_le(current->oldest_schema, schema_policy_latest(current));
}
END_TEST

START_TEST(test_schema_policy_application_name_round_trips)
{
    const char *name = schema_policy_application_name();
    ck_assert_ptr_nonnull(strstr(name, "leadhubd/"));
    ck_assert_int_eq(schema_policy_parse_application_name(name),
                     schema_policy_latest(schema_policy_current()));
    ck_assert_int_eq(schema_policy_parse_application_name("leadhubd"), 0);
    ck_assert_int_eq(schema_policy_parse_application_name("leadhubd/0.0.1 schema=x"), 0);
    ck_assert_int_eq(schema_policy_parse_application_name("psql"), -1);
    ck_assert_int_eq(schema_policy_parse_application_name("leadhubdx schema=3"), -1);
}
END_TEST

static char *fake_root(const char *self_cgroup)
{
    char *root = tu_tmpdir();
    char *proc = util_printf("%s/proc/self", root);
    char *mkdir = util_printf("mkdir -p '%s'", proc);
    ck_assert_int_eq(tu_run(mkdir, NULL), 0);
    tu_write_file(proc, "cgroup", self_cgroup);
    free(mkdir);
    free(proc);
    return root;
}

static void fake_file(const char *root, const char *dir, const char *name, const char *content)
{
    char *path = util_printf("%s/sys/fs/cgroup%s", root, dir);
    char *mkdir = util_printf("mkdir -p '%s'", path);
    ck_assert_int_eq(tu_run(mkdir, NULL), 0);
    tu_write_file(path, name, content);
    free(mkdir);
    free(path);
}

START_TEST(test_cpu_quota_reads_cgroup_v2_cpu_max_up_the_tree)
{
    char *root = fake_root("0::/kubepods/pod1/ctr\n");
    ck_assert_uint_eq(cpu_quota_limit_at(root), 0); /* nothing there: no limit */
    fake_file(root, "/kubepods/pod1/ctr", "cpu.max", "max 100000\n");
    ck_assert_uint_eq(cpu_quota_limit_at(root), 0);
    fake_file(root, "/kubepods/pod1", "cpu.max", "150000 100000\n"); /* 1.5 CPUs: 2 */
    ck_assert_uint_eq(cpu_quota_limit_at(root), 2);
    fake_file(root, "/kubepods/pod1/ctr", "cpu.max", "50000 100000\n"); /* tighter below */
    ck_assert_uint_eq(cpu_quota_limit_at(root), 1);
    tu_rmrf(root);
    free(root);
    /* a container's own namespace: "0::/" and cpu.max at the mount */
    root = fake_root("0::/\n");
    fake_file(root, "", "cpu.max", "400000 100000\n");
    ck_assert_uint_eq(cpu_quota_limit_at(root), 4);
    tu_rmrf(root);
    free(root);
}
END_TEST

START_TEST(test_cpu_quota_reads_cgroup_v1_cfs_quota)
{
    char *root = fake_root("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
    fake_file(root, "/cpu,cpuacct", "cpu.cfs_quota_us", "-1\n");
    fake_file(root, "/cpu,cpuacct", "cpu.cfs_period_us", "100000\n");
    ck_assert_uint_eq(cpu_quota_limit_at(root), 0); /* -1: no quota */
    fake_file(root, "/cpu,cpuacct/docker/abc", "cpu.cfs_quota_us", "250000\n");
    fake_file(root, "/cpu,cpuacct/docker/abc", "cpu.cfs_period_us", "100000\n");
    ck_assert_uint_eq(cpu_quota_limit_at(root), 3);
    tu_rmrf(root);
    free(root);
    ck_assert_uint_ge(cpu_quota_cpus(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_readiness_a_failed_connector_is_reported_not_unready);
    tcase_add_test(tc, test_readiness_require_connectors_restores_the_strict_rule);
    tcase_add_test(tc, test_readiness_unready_only_when_it_cannot_take_webhooks);
    tcase_add_test(tc, test_schema_policy_judges_older_equal_and_newer_schemas);
    tcase_add_test(tc, test_schema_policy_runs_from_header_then_table_then_own_version);
    tcase_add_test(tc, test_schema_policy_application_name_round_trips);
    suite_add_tcase(s, tc);
    TCase *cpu = tcase_create("cpu_quota");
    tcase_add_test(cpu, test_cpu_quota_reads_cgroup_v2_cpu_max_up_the_tree);
    tcase_add_test(cpu, test_cpu_quota_reads_cgroup_v1_cfs_quota);
    suite_add_tcase(s, cpu);
    return tu_run_suite(s);
}
