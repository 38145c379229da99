-- 0008 oauth_consents: consents begun through the REST API
-- (POST /v1/connectors/{instance}/connect), waiting for the provider to send the admin's
-- browser back to /oauth/callback, whichever replica that reaches. The first callback
-- naming a row takes it (DELETE ... RETURNING), so a state works once; a row past
-- expires_at is refused and swept. The state itself is never stored, only its SHA-256;
-- the PKCE verifier is sealed with secrets_key, bound to the row.
-- Expanding: a new table the previous release never touches.
-- leadhub: runs_from 7

CREATE TABLE oauth_consents (
    state_sha256  text PRIMARY KEY,      -- hex SHA-256 of the state parameter
    instance      text NOT NULL,
    redirect_uri  text NOT NULL,         -- sent again, as RFC 6749 4.1.3 requires
    code_verifier jsonb NOT NULL,        -- sealed
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE INDEX oauth_consents_expires_at_idx ON oauth_consents (expires_at);
