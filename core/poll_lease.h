/*
 * poll_lease.h - who polls a source instance, as a fence (core/migrations/0009).
 *
 * A replica takes an instance's lease by taking its advisory lock on its poll session
 * (pg_try_advisory_lock(POLL_LEASE_LOCK_CLASS, lock_id), lock_id from poll_leases: unique
 * per instance) and then raising the instance's fence; the fence it got goes with every
 * batch of its polls and is checked in the commit (store_write_batch_fenced): once another
 * replica took the lease, the old owner's commits fail (STORE_FENCED) and it stops.
 *
 * While replicas of the previous release (which lock on a 32-bit hash of the name and know
 * no fence) may still run, a new replica also holds that old lock, so the two never poll
 * one instance together; it is skipped only when another new replica's instance holds it
 * (a hash collision), which the old scheme could not tell apart.
 */
#ifndef LEADHUB_POLL_LEASE_H
#define LEADHUB_POLL_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#define POLL_LEASE_LOCK_CLASS   0x4c50 /* "LP": the leases' advisory locks */
#define POLL_LEASE_LEGACY_CLASS 0x4c48 /* "LH": the previous release's, on a name hash */

/* A lease held: the fence its commits carry. */
struct poll_lease {
    int64_t fence;
    int32_t lock_id;
    bool legacy_held; /* the previous release's lock is held too */
};

/*
 * poll_lease_acquire - try to take the lease of `instance` on the poll session `conn`.
 *   owner: this replica's name (connector_status.owner).
 * Returns 1 when taken (*lease filled), 0 when another session holds it, -1 when the
 * database failed (*error_out malloc'd).
 */
int poll_lease_acquire(PGconn *conn, const char *instance, const char *owner,
                       struct poll_lease *lease, char **error_out);

/* poll_lease_legacy_key - the previous release's lock key of an instance (a name hash). */
int32_t poll_lease_legacy_key(const char *instance);

#endif
