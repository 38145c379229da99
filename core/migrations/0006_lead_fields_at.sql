-- 0006 lead fields in event time order: fields_at is the occurred_at of the newest event
-- whose fields a lead holds. A newer event's fields overwrite; an older one that arrives
-- late (a provider's out-of-order redelivery, a poll catching up) only fills fields the
-- lead lacks. NULL for leads written before this migration: the next event is newer.

ALTER TABLE leads ADD COLUMN fields_at timestamptz;
