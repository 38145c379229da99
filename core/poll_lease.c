/* poll_lease.c - taking an instance's poll lease (see poll_lease.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poll_lease.h"
#include "store_pg.h"
#include "util.h"

static const char sql_lock_id[] = "SELECT lock_id FROM poll_leases WHERE instance = $1";
static const char sql_add[] = "INSERT INTO poll_leases (instance) VALUES ($1) "
                              "ON CONFLICT (instance) DO NOTHING RETURNING lock_id";
static const char sql_try_lock[] = "SELECT pg_try_advisory_lock($1::int, $2::int)";
static const char sql_unlock[] = "SELECT pg_advisory_unlock($1::int, $2::int)";
/* Whether a session that holds none of the leases' locks holds the old lock: a replica of
 * the previous release, polling the instance (not a new one whose name hash collides). */
static const char sql_old_holder[] =
    "SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = $1::int::oid AND l.objid = $2::int::oid AND l.objsubid = 2 "
    "AND NOT EXISTS (SELECT 1 FROM pg_locks n WHERE n.pid = l.pid AND n.locktype = "
    "'advisory' AND n.granted AND n.classid = $3::int::oid AND n.objsubid = 2))";
static const char sql_raise[] =
    "UPDATE poll_leases SET fence = fence + 1, owner = $2, acquired_at = now() "
    "WHERE instance = $1 RETURNING fence";

/* Runs a statement; its result (PQclear it) or NULL with *error_out set. */
static PGresult *run(PGconn *conn, const char *sql, int count, const char *const *params,
                     char **error_out)
{
    PGresult *res = PQexecParams(conn, sql, count, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        *error_out = store_error_message(conn, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* "t" in the first column of the first row. */
static bool first_true(const PGresult *res)
{
    return PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
}

int32_t poll_lease_legacy_key(const char *instance)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, as the previous release had it */
    for (const unsigned char *p = (const unsigned char *)instance; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return (int32_t)(uint32_t)h;
}

/* The instance's lock id, its row added when new. -1 on failure. */
static int64_t lock_id_of(PGconn *conn, const char *instance, char **error_out)
{
    const char *params[] = {instance};
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res = run(conn, attempt == 0 ? sql_lock_id : sql_add, 1, params, error_out);
        if (res == NULL) {
            return -1;
        }
        int64_t id = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
        PQclear(res);
        if (id > 0) {
            return id;
        }
    }
    /* added by another replica between the two: it is there now */
    PGresult *res = run(conn, sql_lock_id, 1, params, error_out);
    if (res == NULL) {
        return -1;
    }
    int64_t id = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    PQclear(res);
    if (id <= 0) {
        *error_out = util_printf("no poll lease row for %s", instance);
    }
    return id;
}

/* Tries lock (class, key); 1 taken, 0 held elsewhere, -1 failed. */
static int try_lock(PGconn *conn, int32_t class_id, int32_t key, char **error_out)
{
    char a[16], b[16];
    snprintf(a, sizeof(a), "%d", class_id);
    snprintf(b, sizeof(b), "%d", key);
    const char *params[] = {a, b};
    PGresult *res = run(conn, sql_try_lock, 2, params, error_out);
    if (res == NULL) {
        return -1;
    }
    int taken = first_true(res) ? 1 : 0;
    PQclear(res);
    return taken;
}

static void unlock(PGconn *conn, int32_t class_id, int32_t key)
{
    char a[16], b[16];
    snprintf(a, sizeof(a), "%d", class_id);
    snprintf(b, sizeof(b), "%d", key);
    const char *params[] = {a, b};
    char *ignored = NULL;
    PQclear(run(conn, sql_unlock, 2, params, &ignored));
    free(ignored);
}

/* Whether a replica of the previous release holds the old lock of `key`. -1 failed. */
static int old_replica_holds(PGconn *conn, int32_t key, char **error_out)
{
    char a[16], b[16], c[16];
    snprintf(a, sizeof(a), "%d", POLL_LEASE_LEGACY_CLASS);
    snprintf(b, sizeof(b), "%d", key);
    snprintf(c, sizeof(c), "%d", POLL_LEASE_LOCK_CLASS);
    const char *params[] = {a, b, c};
    PGresult *res = run(conn, sql_old_holder, 3, params, error_out);
    if (res == NULL) {
        return -1;
    }
    int held = first_true(res) ? 1 : 0;
    PQclear(res);
    return held;
}

int poll_lease_acquire(PGconn *conn, const char *instance, const char *owner,
                       struct poll_lease *lease, char **error_out)
{
    *error_out = NULL;
    memset(lease, 0, sizeof(*lease));
    int64_t id = lock_id_of(conn, instance, error_out);
    if (id <= 0) {
        return -1;
    }
    lease->lock_id = (int32_t)id;
    int taken = try_lock(conn, POLL_LEASE_LOCK_CLASS, lease->lock_id, error_out);
    if (taken != 1) {
        return taken;
    }
    int32_t legacy = poll_lease_legacy_key(instance);
    int legacy_taken = try_lock(conn, POLL_LEASE_LEGACY_CLASS, legacy, error_out);
    int old = legacy_taken == 0 ? old_replica_holds(conn, legacy, error_out) : 0;
    if (legacy_taken < 0 || old != 0) {
        /* an old replica polls it (or the database failed): leave it */
        unlock(conn, POLL_LEASE_LOCK_CLASS, lease->lock_id);
        return old > 0 ? 0 : -1;
    }
    lease->legacy_held = legacy_taken == 1;
    /* waits for a commit under the previous fence still in flight, then outdates it */
    const char *params[] = {instance, owner};
    PGresult *res = run(conn, sql_raise, 2, params, error_out);
    if (res == NULL || PQntuples(res) != 1) {
        if (res != NULL) {
            *error_out = util_printf("no poll lease row for %s", instance);
        }
        PQclear(res);
        unlock(conn, POLL_LEASE_LOCK_CLASS, lease->lock_id);
        if (lease->legacy_held) {
            unlock(conn, POLL_LEASE_LEGACY_CLASS, legacy);
        }
        return -1;
    }
    lease->fence = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 1;
}
