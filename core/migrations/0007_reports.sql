-- 0007 reports: what GET /v1/reports/funnel and the connector health read, so that a
-- report never aggregates the events table (docs/api.md, "Reports").
--
-- lead_milestones: one row per lead that has events (lead.scored aside): when and from
-- which source it was first seen (its earliest event by occurred_at, then id), and when it
-- first replied (email.replied) and first became a customer (customer.created,
-- payment.succeeded, subscription.started). A statement trigger on events keeps it: the
-- rows each INSERT statement added, aggregated per lead, lower a lead's milestones only
-- when they are earlier, so an event that arrives late (out of order) moves them back and
-- a redelivery (never inserted) changes nothing.
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
    customer_at    timestamptz
);
CREATE INDEX lead_milestones_first_seen_idx ON lead_milestones (first_seen_at);

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
    ORDER BY f.lead_id
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
    -- an unchanged row is not written again (most events change no milestone)
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

-- The events stored before this migration.
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

-- Connector health: when a source last polled successfully, and how many polls in a row
-- have failed since (the poller writes both with each poll's outcome).
ALTER TABLE connector_status ADD COLUMN last_success_at timestamptz;
ALTER TABLE connector_status ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
