-- 0012 held deliveries. Waiting out a destination's rate limit, its Retry-After or a
-- record's missing data (the lead's email) is a hold, not an attempt: attempts counts only
-- answers the destination gave. A held row stays 'retrying' (so replicas of the previous
-- version still claim it) with held_since set; it ends dead once held longer than
-- delivery.max_hold. Cleared by the next answer, and by a replay.
-- leadhub: runs_from 9

ALTER TABLE deliveries
    ADD COLUMN held_since  timestamptz,        -- first hold of the current run of holds
    ADD COLUMN hold_reason text,               -- why, as the sink said it
    ADD COLUMN holds       integer NOT NULL DEFAULT 0;  -- holds so far
