-- 0010 payments keyed by what was paid. A provider may report one payment through two
-- of its events (Stripe: the checkout that started a subscription names its first
-- invoice, and invoice.paid reports that invoice), each with its own event id. The store
-- fills payment_key from data.payment of payment.succeeded and payment.failed events and
-- keeps one per (source, type, payment_key): the first event to report a payment stores
-- it, the other is a duplicate.
-- leadhub: runs_from 9

ALTER TABLE events ADD COLUMN payment_key text;

-- Stripe payments stored before this migration carry what they paid in data.invoice or
-- data.payment_intent: the first stored of each takes its key, so that a report of the
-- same payment arriving after the upgrade is recognized. (Where two were stored already,
-- the second stays as it was.)
UPDATE events e SET payment_key = k.key FROM (
    SELECT DISTINCT ON (source, key) id, key FROM (
        SELECT id, source,
               coalesce(payload #>> '{data,invoice}', payload #>> '{data,payment_intent}') AS key
        FROM events
        WHERE type = 'payment.succeeded'
          AND payload #>> '{data,stripe_event_type}' IN ('checkout.session.completed',
                                                         'invoice.paid')
    ) x
    WHERE key IS NOT NULL
    ORDER BY source, key, id
) k
WHERE e.id = k.id;

CREATE UNIQUE INDEX events_payment_key_idx ON events (source, type, payment_key)
    WHERE payment_key IS NOT NULL;
