-- 0013 meeting outcomes. A meeting is scheduled, rescheduled (its start moved: the start
-- before is kept in previous_starts_at), canceled, held or no_show: from a source that
-- says so (a CRM's outcome), else derived by the hub (core/meeting_outcomes.c: held once it
-- ended uncanceled while an attendee had accepted). Replicas of the previous version write
-- only scheduled and canceled, which this constraint still allows.
-- leadhub: runs_from 9

ALTER TABLE meetings DROP CONSTRAINT meetings_status_check;
ALTER TABLE meetings ADD CONSTRAINT meetings_status_check
    CHECK (status IN ('scheduled', 'rescheduled', 'canceled', 'held', 'no_show'));
ALTER TABLE meetings ADD COLUMN previous_starts_at timestamptz;

-- What the outcome sweep reads: meetings not settled yet, by their end.
CREATE INDEX meetings_open_ends_at_idx ON meetings (ends_at, id)
    WHERE status IN ('scheduled', 'rescheduled');
