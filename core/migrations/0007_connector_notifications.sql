-- 0007 connector_notifications: each connector instance's inbox of push notifications
-- (SDK notification_put / notifications_take). A webhook records what a provider's push
-- named (an id to fetch) in its own transaction; the poll that fetches it removes it in
-- the transaction that stores what it fetched. One row per (instance, key): a redelivery
-- with the same value changes nothing; another value replaces it and takes a new seq, so
-- that a poll which took the old value (and deletes by seq) leaves the new one pending.
-- Expanding: a new table the previous release never touches.
-- leadhub: runs_from 6

CREATE SEQUENCE connector_notifications_seq;

CREATE TABLE connector_notifications (
    instance    text NOT NULL,
    key         text NOT NULL,
    value       jsonb NOT NULL,
    seq         bigint NOT NULL DEFAULT nextval('connector_notifications_seq'),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, key)
);

ALTER SEQUENCE connector_notifications_seq OWNED BY connector_notifications.seq;

-- a poll takes an instance's pending notifications oldest first
CREATE INDEX connector_notifications_pending ON connector_notifications (instance, seq);
