-- 0005 indexes for the REST API's filters, so that list endpoints never scan a large
-- table sequentially (tests/e2e/test_api_plans.c checks the plans).

CREATE INDEX deliveries_destination_idx ON deliveries (destination, id);
CREATE INDEX meetings_source_idx ON meetings (source, id);
CREATE INDEX meetings_status_idx ON meetings (status, id);
CREATE INDEX events_source_id_idx ON events (source, id);
CREATE INDEX events_type_id_idx ON events (type text_pattern_ops, id);
CREATE INDEX lead_identities_source_idx ON lead_identities (source, lead_id);
