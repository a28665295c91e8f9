-- The final list of each finalized period (PeriodFinalized): each firm's class as finalized
-- (the published ranking amended by the upheld objections). Where a period has one, the
-- rounds' class conditions read it.
CREATE TABLE finalizations (
    period       text PRIMARY KEY,
    finalized_at timestamptz NOT NULL
);

CREATE TABLE final_classes (
    period text NOT NULL REFERENCES finalizations (period),
    uscc   text NOT NULL,
    class  text CHECK (class IN ('A', 'B', 'C')),
    PRIMARY KEY (period, uscc)
);
