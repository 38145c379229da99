/* schema_policy.c - this release's schema declarations and the rule that judges them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_policy.h"
#include "util.h"

/*
 * The oldest schema this release runs on. It writes events.payment_key (0010),
 * lead_addresses (0011), delivery holds (0012) and meeting outcomes (0013), and its
 * reports read lead_milestones and the connector health columns (0014), so nothing
 * older; all five expand, so migrate never holds them back and this release applies them
 * before it runs. Raise it only in a release whose predecessor already carried the
 * migration, or for expanding ones: otherwise a contracting migration held back for older
 * replicas would stop it starting.
 */
#define SCHEMA_OLDEST 14

/*
 * runs_from of the migrations that predate "-- leadhub: runs_from" headers (their files
 * are immutable). New migrations declare it in their header instead; one that declares
 * nothing counts as contracting (runs_from = its version), the safe reading.
 *   0001-0004 made the previous release wrong (events not routed, leads not scored), so
 *   they count as contracting. 0005 adds indexes only. 0006 adds a nullable column that
 *   the previous release leaves NULL, which this one reads as "the next event is newer".
 */
static const struct schema_compat compat[] = {
    {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 4}, {6, 5},
};

/* migration_count is not a constant expression: filled once, on first use. */
static struct schema_policy current;
static char application_name[64];
static pthread_once_t current_once = PTHREAD_ONCE_INIT;

static void current_init(void)
{
    current = (struct schema_policy){
        .migrations = migrations,
        .migration_count = migration_count,
        .compat = compat,
        .compat_count = UTIL_ARRAY_LEN(compat),
        .oldest_schema = SCHEMA_OLDEST,
    };
    snprintf(application_name, sizeof(application_name), "leadhubd/%s schema=%d", LEADHUB_VERSION,
             schema_policy_latest(&current));
}

const struct schema_policy *schema_policy_current(void)
{
    pthread_once(&current_once, current_init);
    return &current;
}

int schema_policy_latest(const struct schema_policy *policy)
{
    return policy->migration_count > 0 ? policy->migrations[policy->migration_count - 1].version
                                       : 0;
}

int schema_policy_runs_from(const struct schema_policy *policy, int version)
{
    for (size_t i = 0; i < policy->migration_count; i++) {
        if (policy->migrations[i].version == version && policy->migrations[i].runs_from > 0) {
            return policy->migrations[i].runs_from;
        }
    }
    for (size_t i = 0; i < policy->compat_count; i++) {
        if (policy->compat[i].version == version) {
            return policy->compat[i].runs_from;
        }
    }
    return version;
}

bool schema_policy_judge(const struct schema_policy *policy, const struct schema_state *state,
                         char **detail_out)
{
    int latest = schema_policy_latest(policy);
    /* A release never needs more than it carries, whatever it declares. */
    int oldest = policy->oldest_schema < latest ? policy->oldest_schema : latest;
    bool ok;
    char *detail;
    if (state->current < oldest) {
        ok = false;
        detail = util_printf("schema at version %d; this leadhubd runs on %d to %d: run "
                             "`leadhubd migrate`",
                             state->current, oldest, latest);
    } else if (state->current <= latest) {
        ok = true;
        detail = state->current == latest
                     ? util_printf("ok")
                     : util_printf("ok (schema %d; this leadhubd carries up to %d)", state->current,
                                   latest);
    } else if (state->newer_runs_from <= latest) {
        ok = true;
        detail = util_printf("ok (schema %d, newer than this leadhubd's %d, declares release %d "
                             "and later compatible)",
                             state->current, latest, state->newer_runs_from);
    } else {
        ok = false;
        detail = util_printf("schema at version %d runs only with releases carrying schema %d or "
                             "later; this leadhubd carries %d: upgrade it",
                             state->current, state->newer_runs_from, latest);
    }
    if (detail_out != NULL) {
        *detail_out = detail;
    } else {
        free(detail);
    }
    return ok;
}

const char *schema_policy_application_name(void)
{
    pthread_once(&current_once, current_init);
    return application_name;
}

int schema_policy_parse_application_name(const char *name)
{
    if (name == NULL || strncmp(name, "leadhubd", 8) != 0 ||
        (name[8] != '\0' && name[8] != '/' && name[8] != ' ')) {
        return -1;
    }
    const char *at = strstr(name, " schema=");
    if (at == NULL) {
        return 0;
    }
    char *end = NULL;
    long value = strtol(at + 8, &end, 10);
    if (end == at + 8 || value < 0 || value > 1000000) {
        return 0;
    }
    return (int)value;
}
