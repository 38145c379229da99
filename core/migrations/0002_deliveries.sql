-- 0002 deliveries: the outbox. One row per (event, destination) a route sends it to,
-- written in the same transaction as the event; dispatcher workers claim due rows with
-- FOR UPDATE SKIP LOCKED and record each attempt's outcome here.

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    destination     text NOT NULL,            -- sink instance name
    route           text NOT NULL,            -- the route that matched (replay --route)
    lead_id         bigint,                   -- per-lead ordering for sinks that ask for it
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'retrying', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    CONSTRAINT deliveries_event_destination UNIQUE (event_id, destination)
);

-- What a worker claims: the due rows of its destination, oldest first.
CREATE INDEX deliveries_due_idx ON deliveries (destination, next_attempt_at, id)
    WHERE status IN ('pending', 'retrying');
-- Per-lead ordering: is an older delivery of this lead still open?
CREATE INDEX deliveries_open_lead_idx ON deliveries (destination, lead_id, id)
    WHERE status IN ('pending', 'retrying');
-- Replay and listings by status.
CREATE INDEX deliveries_status_idx ON deliveries (status, destination, updated_at);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);

-- `leadhubd replay --route NAME --since T` pages through events by arrival.
CREATE INDEX events_received_at_idx ON events (received_at, id);
