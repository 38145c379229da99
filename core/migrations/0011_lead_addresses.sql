-- 0011 who a lead is, whichever address an event brings.
-- leadhub: runs_from 9
--
-- lead_addresses: the other addresses an event about a lead brought, when it named the
-- lead by its id or by an identity and carried an email that is not the lead's (a Checkout
-- for a known lead paid by the accounts department's address; a CRM contact whose address
-- changed). The lead keeps its email; the address is recorded here, never made a second
-- lead.
CREATE TABLE lead_addresses (
    lead_id       bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    email         text NOT NULL CHECK (email = lower(btrim(email)) AND email <> ''),
    source        text NOT NULL,            -- the instance whose event brought it first
    first_seen_at timestamptz NOT NULL,     -- that event's occurred_at
    PRIMARY KEY (lead_id, email)
);
CREATE INDEX lead_addresses_email_idx ON lead_addresses (email);

-- Events whose lead is known only by an identity nobody has an email or a name for yet
-- (a Stripe customer without an email) are stored without a lead; when an event brings
-- that identity with an email, they are attached to the lead it makes. This finds them.
CREATE INDEX events_pending_identity_idx ON events (source, (payload #>> '{lead,external_id}'))
    WHERE lead_id IS NULL AND payload #> '{lead,external_id}' IS NOT NULL;
