-- 0014 reports: what GET /v1/reports/funnel and the connector health read, so that a
-- report never aggregates the events table (docs/api.md, "Reports"). Expanding: a new
-- table, its triggers (which keep it whichever release writes the events), new columns
-- that the previous release leaves at their defaults.
-- leadhub: runs_from 6
--
-- lead_milestones: one row per lead that has events (lead.scored aside): when and from
-- which source it was first seen (its earliest event by occurred_at, then id), and when it
-- first replied (email.replied) and first became a customer (customer.created,
-- payment.succeeded, subscription.started). A statement trigger on events keeps it: the
-- rows each INSERT statement added, aggregated per lead, lower a lead's milestones only
-- when they are earlier, so an event that arrives late (out of order) moves them back and
-- a redelivery (never inserted) changes nothing.
--
-- booked and held say whether a meeting names the lead (as its lead or an attendee), and
-- whether one of those has the status 'held', as the meetings tables say now: statement
-- triggers on meetings and meeting_attendees count them again for the leads a statement
-- touched (a few index probes each; meetings change far less often than events arrive),
-- so a funnel reads its cohort's rows and nothing else.
--
-- No foreign key to leads: its check would lock the lead row at the end of the statement,
-- after the milestone rows, and two writers could then wait on each other; a statement
-- trigger on leads removes the milestones of deleted leads instead. The milestone rows
-- themselves are written in lead_id order, as every ingest statement writes its rows.
CREATE TABLE lead_milestones (
    lead_id        bigint PRIMARY KEY,
    first_seen_at  timestamptz NOT NULL,
    first_source   text NOT NULL,
    first_event_id bigint NOT NULL,
    replied_at     timestamptz,
    customer_at    timestamptz,
    booked         boolean NOT NULL DEFAULT false,
    held           boolean NOT NULL DEFAULT false
);
CREATE INDEX lead_milestones_first_seen_idx ON lead_milestones (first_seen_at);
-- The reports group by UTC week: with statistics on that expression PostgreSQL expects
-- about 53 groups a year, not one per distinct time, and hashes instead of sorting.
CREATE STATISTICS lead_milestones_week ON (date_trunc('week', first_seen_at AT TIME ZONE 'UTC'))
    FROM lead_milestones;
CREATE STATISTICS meetings_week ON (date_trunc('week', starts_at AT TIME ZONE 'UTC'))
    FROM meetings;

CREATE FUNCTION lead_milestones_note_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_milestones AS m (lead_id, first_seen_at, first_source, first_event_id,
                                      replied_at, customer_at)
    SELECT f.lead_id, f.occurred_at, f.source, f.id, s.replied_at, s.customer_at
    FROM (SELECT DISTINCT ON (n.lead_id) n.lead_id, n.occurred_at, n.source, n.id
          FROM new_events n WHERE n.lead_id IS NOT NULL AND n.type <> 'lead.scored'
          ORDER BY n.lead_id, n.occurred_at, n.id) f
    JOIN (SELECT n.lead_id,
                 min(n.occurred_at) FILTER (WHERE n.type = 'email.replied') AS replied_at,
                 min(n.occurred_at) FILTER (WHERE n.type IN ('customer.created',
                     'payment.succeeded', 'subscription.started')) AS customer_at
          FROM new_events n WHERE n.lead_id IS NOT NULL AND n.type <> 'lead.scored'
          GROUP BY n.lead_id) s ON s.lead_id = f.lead_id
    -- only what changes a milestone goes on: most events change none, and ON CONFLICT
    -- would lock each of their rows just to find that out
    LEFT JOIN lead_milestones o ON o.lead_id = f.lead_id
    WHERE o.lead_id IS NULL
       OR (f.occurred_at, f.id) < (o.first_seen_at, o.first_event_id)
       OR s.replied_at < coalesce(o.replied_at, 'infinity')
       OR s.customer_at < coalesce(o.customer_at, 'infinity')
    ORDER BY f.lead_id
    -- a concurrent writer may have changed or added the row since: decided again here
    ON CONFLICT (lead_id) DO UPDATE SET
        first_seen_at = CASE WHEN (EXCLUDED.first_seen_at, EXCLUDED.first_event_id)
            < (m.first_seen_at, m.first_event_id) THEN EXCLUDED.first_seen_at
            ELSE m.first_seen_at END,
        first_source = CASE WHEN (EXCLUDED.first_seen_at, EXCLUDED.first_event_id)
            < (m.first_seen_at, m.first_event_id) THEN EXCLUDED.first_source
            ELSE m.first_source END,
        first_event_id = CASE WHEN (EXCLUDED.first_seen_at, EXCLUDED.first_event_id)
            < (m.first_seen_at, m.first_event_id) THEN EXCLUDED.first_event_id
            ELSE m.first_event_id END,
        replied_at = least(m.replied_at, EXCLUDED.replied_at),
        customer_at = least(m.customer_at, EXCLUDED.customer_at)
    WHERE (EXCLUDED.first_seen_at, EXCLUDED.first_event_id) < (m.first_seen_at, m.first_event_id)
       OR EXCLUDED.replied_at < coalesce(m.replied_at, 'infinity')
       OR EXCLUDED.customer_at < coalesce(m.customer_at, 'infinity');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_note_lead_milestones AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_note_events();

CREATE FUNCTION lead_milestones_forget_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_milestones m USING old_leads o WHERE m.lead_id = o.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER leads_forget_lead_milestones AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_leads
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_forget_leads();

-- booked and held of the leads in `ids`, counted again from the meetings tables. Their rows
-- are locked in lead_id order first, as every other writer of them does.
CREATE FUNCTION lead_milestones_recount_meetings(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM lead_milestones WHERE lead_id = ANY (ids) ORDER BY lead_id FOR UPDATE;
    UPDATE lead_milestones m SET booked = n.booked, held = n.held
    FROM (SELECT l.id,
                 EXISTS (SELECT 1 FROM meetings x WHERE x.lead_id = l.id)
                 OR EXISTS (SELECT 1 FROM meeting_attendees a WHERE a.lead_id = l.id) AS booked,
                 EXISTS (SELECT 1 FROM meetings x WHERE x.lead_id = l.id AND x.status = 'held')
                 OR EXISTS (SELECT 1 FROM meeting_attendees a JOIN meetings x
                            ON x.id = a.meeting_id WHERE a.lead_id = l.id
                            AND x.status = 'held') AS held
          FROM unnest(ids) AS l(id)) n
    WHERE m.lead_id = n.id AND (m.booked, m.held) IS DISTINCT FROM (n.booked, n.held);
END
$$;

-- A meeting's leads: its own and its attendees' (and, after an update, its former lead).
CREATE FUNCTION lead_milestones_note_new_meetings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lead_milestones_recount_meetings(ARRAY(
        SELECT n.lead_id FROM new_meetings n WHERE n.lead_id IS NOT NULL
        UNION SELECT a.lead_id FROM new_meetings n JOIN meeting_attendees a
            ON a.meeting_id = n.id WHERE a.lead_id IS NOT NULL));
    RETURN NULL;
END
$$;

CREATE FUNCTION lead_milestones_note_changed_meetings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lead_milestones_recount_meetings(ARRAY(
        SELECT n.lead_id FROM new_meetings n WHERE n.lead_id IS NOT NULL
        UNION SELECT o.lead_id FROM old_meetings o WHERE o.lead_id IS NOT NULL
        UNION SELECT a.lead_id FROM new_meetings n JOIN meeting_attendees a
            ON a.meeting_id = n.id WHERE a.lead_id IS NOT NULL));
    RETURN NULL;
END
$$;

CREATE FUNCTION lead_milestones_note_attendees() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lead_milestones_recount_meetings(ARRAY(
            SELECT DISTINCT a.lead_id FROM new_attendees a WHERE a.lead_id IS NOT NULL));
    ELSE
        PERFORM lead_milestones_recount_meetings(ARRAY(
            SELECT DISTINCT a.lead_id FROM old_attendees a WHERE a.lead_id IS NOT NULL));
    END IF;
    RETURN NULL;
END
$$;

-- (a trigger with transition tables takes one event: one trigger per event)
CREATE TRIGGER meetings_note_lead_milestones_insert AFTER INSERT ON meetings
    REFERENCING NEW TABLE AS new_meetings
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_note_new_meetings();
CREATE TRIGGER meetings_note_lead_milestones_update AFTER UPDATE ON meetings
    REFERENCING OLD TABLE AS old_meetings NEW TABLE AS new_meetings
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_note_changed_meetings();
CREATE TRIGGER meeting_attendees_note_lead_milestones_insert AFTER INSERT ON meeting_attendees
    REFERENCING NEW TABLE AS new_attendees
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_note_attendees();
CREATE TRIGGER meeting_attendees_note_lead_milestones_delete AFTER DELETE ON meeting_attendees
    REFERENCING OLD TABLE AS old_attendees
    FOR EACH STATEMENT EXECUTE FUNCTION lead_milestones_note_attendees();

-- The events and meetings stored before this migration.
INSERT INTO lead_milestones (lead_id, first_seen_at, first_source, first_event_id, replied_at,
                             customer_at)
SELECT f.lead_id, f.occurred_at, f.source, f.id, s.replied_at, s.customer_at
FROM (SELECT DISTINCT ON (e.lead_id) e.lead_id, e.occurred_at, e.source, e.id
      FROM events e WHERE e.lead_id IS NOT NULL AND e.type <> 'lead.scored'
      ORDER BY e.lead_id, e.occurred_at, e.id) f
JOIN (SELECT e.lead_id,
             min(e.occurred_at) FILTER (WHERE e.type = 'email.replied') AS replied_at,
             min(e.occurred_at) FILTER (WHERE e.type IN ('customer.created',
                 'payment.succeeded', 'subscription.started')) AS customer_at
      FROM events e WHERE e.lead_id IS NOT NULL AND e.type <> 'lead.scored'
      GROUP BY e.lead_id) s ON s.lead_id = f.lead_id;
UPDATE lead_milestones m SET booked = true, held = x.held
FROM (SELECT y.lead_id, bool_or(y.held) AS held FROM (
          SELECT lead_id, status = 'held' AS held FROM meetings WHERE lead_id IS NOT NULL
          UNION ALL SELECT a.lead_id, x.status = 'held' FROM meeting_attendees a
              JOIN meetings x ON x.id = a.meeting_id WHERE a.lead_id IS NOT NULL) y
      GROUP BY y.lead_id) x
WHERE m.lead_id = x.lead_id;

-- Connector health: when a source last polled successfully, and how many polls in a row
-- have failed since (the poller writes both with each poll's outcome).
ALTER TABLE connector_status ADD COLUMN last_success_at timestamptz;
ALTER TABLE connector_status ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
