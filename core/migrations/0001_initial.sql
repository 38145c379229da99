-- 0001 initial: events, leads and their identities, meetings, connector checkpoints.
-- Applied by `leadhubd migrate` (and at start) in one transaction, under an advisory lock.

-- People the hub knows of. One row per normalized email (trimmed, lowercased); a lead
-- known only by a provider id has no email yet.
CREATE TABLE leads (
    id           bigserial PRIMARY KEY,
    email        text UNIQUE CHECK (email = lower(btrim(email)) AND email <> ''),
    first_name   text,
    last_name    text,
    company      text,
    title        text,
    phone        text,
    linkedin_url text,
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_updated_at_idx ON leads (updated_at, id);
CREATE INDEX leads_company_idx ON leads (lower(company)) WHERE company IS NOT NULL;

-- A lead's id in a connector instance (a HubSpot contact id, a Stripe customer id).
CREATE TABLE lead_identities (
    source      text NOT NULL,
    external_id text NOT NULL,
    lead_id     bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_id)
);
CREATE INDEX lead_identities_lead_idx ON lead_identities (lead_id);

-- The append-only log of normalized events. (source, source_id, type) is the
-- idempotency key: a provider's redelivery stores nothing new.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    source_id   text NOT NULL,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lead_id     bigint REFERENCES leads (id) ON DELETE SET NULL,
    payload     jsonb NOT NULL,
    CONSTRAINT events_idempotency_key UNIQUE (source, source_id, type)
);
CREATE INDEX events_lead_idx ON events (lead_id, occurred_at) WHERE lead_id IS NOT NULL;
CREATE INDEX events_occurred_at_idx ON events (occurred_at, id);
CREATE INDEX events_type_idx ON events (type, occurred_at);

-- Meetings, one row per (source instance, provider's id), updated in event time order.
CREATE TABLE meetings (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    external_id     text NOT NULL,
    title           text,
    starts_at       timestamptz,
    ends_at         timestamptz,
    timezone        text,
    organizer_email text,
    organizer_name  text,
    location        text,
    online_url      text,
    status          text NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'canceled')),
    lead_id         bigint REFERENCES leads (id) ON DELETE SET NULL,
    last_event_at   timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT meetings_source_external_id UNIQUE (source, external_id)
);
CREATE INDEX meetings_starts_at_idx ON meetings (starts_at, id);
CREATE INDEX meetings_lead_idx ON meetings (lead_id) WHERE lead_id IS NOT NULL;

-- Attendees, linked to a lead when one with that email exists.
CREATE TABLE meeting_attendees (
    meeting_id bigint NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    email      text NOT NULL,
    name       text,
    response   text CHECK (response IN ('accepted', 'declined', 'tentative', 'needs_action')),
    lead_id    bigint REFERENCES leads (id) ON DELETE SET NULL,
    PRIMARY KEY (meeting_id, email)
);
CREATE INDEX meeting_attendees_lead_idx ON meeting_attendees (lead_id) WHERE lead_id IS NOT NULL;

-- Cursors a source saves with checkpoint_put, committed with the events they produced.
CREATE TABLE connector_state (
    instance   text NOT NULL,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, key)
);
