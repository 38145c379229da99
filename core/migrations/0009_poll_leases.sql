-- 0009 poll leases: polling ownership as a fence.
--
-- A replica polls an instance while it holds the instance's advisory lock on its poll
-- session, but its events and cursor commit on another connection (ingest). If the lock
-- session dies while the process lives, another replica takes the lock and both poll.
-- So each time a replica takes the lock it raises the instance's `fence`, and a poll's
-- commit checks, in its own transaction and holding the row (FOR SHARE, which the next
-- owner's raise waits for), that the fence is still the one its replica got: a commit from
-- a replica that lost the lock fails, whatever it fetched.
--
-- lock_id is the advisory lock's key: a number the database hands out, unique, so two
-- instance names never share a lock (a 32-bit hash of the name could).
--
-- Expanding: the previous release runs on it (it knows neither the table nor the fence; a
-- new replica also holds that release's hashed lock while it polls, poll_lease.h).
-- leadhub: runs_from 6

CREATE TABLE poll_leases (
    instance text PRIMARY KEY,
    lock_id integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    fence bigint NOT NULL DEFAULT 0,
    owner text,
    acquired_at timestamptz
);

-- Raises LHF01 unless the instance's fence is still p_fence; holds the row until the
-- caller's transaction ends.
CREATE FUNCTION leadhub_poll_fence_check(p_instance text, p_fence bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM poll_leases WHERE instance = p_instance AND fence = p_fence FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the poll lease of % was taken over (fence %): another replica polls it',
            p_instance, p_fence USING ERRCODE = 'LHF01';
    END IF;
END
$$;
