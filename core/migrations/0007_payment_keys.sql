-- 0007 payments keyed by what was paid. A provider may report one payment through two
-- of its events (Stripe: the checkout that started a subscription names its first
-- invoice, and invoice.paid reports that invoice), each with its own event id. The store
-- fills payment_key from data.payment of payment.succeeded and payment.failed events and
-- keeps one per (source, type, payment_key): the first event to report a payment stores
-- it, the other is a duplicate. Rows written before this migration have no key.

ALTER TABLE events ADD COLUMN payment_key text;
CREATE UNIQUE INDEX events_payment_key_idx ON events (source, type, payment_key)
    WHERE payment_key IS NOT NULL;
