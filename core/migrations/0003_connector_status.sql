-- 0003 connector_status: what each source instance's polls did, and which replica polls
-- it. Written by the poller at the start and end of every poll; read by
-- `leadhubd sync` (to wait for a poll it asked for) and by operators.

CREATE TABLE connector_status (
    instance              text PRIMARY KEY,
    owner                 text,        -- the replica polling it (host:pid)
    last_poll_started_at  timestamptz,
    last_poll_finished_at timestamptz,
    last_poll_outcome     text,        -- ok, retry, retry_after, auth, permanent, config,
                                       -- commit_failed
    last_poll_events      integer,     -- new events the last poll stored
    last_error            text,
    polls                 bigint NOT NULL DEFAULT 0,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
