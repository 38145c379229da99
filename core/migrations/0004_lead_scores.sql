-- 0004 lead scores: the current score of each lead per scorer, with its explanation,
-- and every change in a history table. Unchanged scores write nothing.

CREATE TABLE lead_scores (
    lead_id     bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    scorer      text NOT NULL,              -- the scorer instance's name
    score       double precision NOT NULL CHECK (score >= 0 AND score <= 100),
    band        text NOT NULL,              -- the threshold band it falls in, or 'none'
    explanation jsonb NOT NULL,             -- [{rule, points, why}, ...]
    version     integer NOT NULL DEFAULT 1, -- changes so far; names lead.scored events
    scored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lead_id, scorer)
);
CREATE INDEX lead_scores_rank_idx ON lead_scores (scorer, score DESC, lead_id);

CREATE TABLE lead_score_history (
    id          bigserial PRIMARY KEY,
    lead_id     bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    scorer      text NOT NULL,
    score       double precision NOT NULL,
    band        text NOT NULL,
    explanation jsonb NOT NULL,
    scored_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_score_history_lead_idx ON lead_score_history (lead_id, scorer, scored_at);
