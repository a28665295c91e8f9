-- The census: "one enterprise, one file" (一企一档). Nothing here is ever updated in place
-- except the pointer to an enterprise's current version: every registry change is a new
-- row of enterprise_versions and every correction of a return a new revision, so a file
-- can be shown as it was known at any time.

-- One row per enterprise ever registered; never deleted.
CREATE TABLE enterprises (
    uscc            TEXT        PRIMARY KEY,
    -- The version rows below that is current (the only column that changes).
    current_version BIGINT      NOT NULL CHECK (current_version >= 1),
    created_at      TIMESTAMPTZ NOT NULL
);

-- Every version of every registry record, append only.
CREATE TABLE enterprise_versions (
    uscc                    TEXT        NOT NULL REFERENCES enterprises (uscc),
    version                 BIGINT      NOT NULL CHECK (version >= 1),
    name                    TEXT        NOT NULL,
    legal_representative    TEXT        NOT NULL,
    park                    TEXT        NOT NULL CHECK (park IN ('XILIU', 'NANTAI', 'GANWANG', 'ZHONGXIAO')),
    industry_class          TEXT        NOT NULL CHECK (industry_class ~ '^[0-9]{4}$'),
    -- Derived from industry_class when written; kept for filters and statistics.
    segment                 TEXT        NOT NULL CHECK (segment IN ('TEXTILE', 'APPAREL', 'LUGGAGE_LEATHER', 'TRADE')),
    size                    TEXT        NOT NULL CHECK (size IN ('LARGE', 'MEDIUM', 'SMALL', 'MICRO')),
    registration_date       DATE        NOT NULL,
    status                  TEXT        NOT NULL CHECK (status IN ('ACTIVE', 'DEREGISTERED')),
    deregistration_reason   TEXT,
    safety_violation        BOOLEAN     NOT NULL,
    environmental_violation BOOLEAN     NOT NULL,
    tax_credit_violation    BOOLEAN     NOT NULL,
    -- When this version became known (clock time after the enterprise's row lock, so it
    -- grows with the version), and who recorded it.
    recorded_at             TIMESTAMPTZ NOT NULL,
    recorded_by             TEXT        NOT NULL,
    PRIMARY KEY (uscc, version),
    CHECK ((status = 'DEREGISTERED') = (deregistration_reason IS NOT NULL))
);

-- Every revision of every census return, append only.
CREATE TABLE census_returns (
    uscc                     TEXT             NOT NULL REFERENCES enterprises (uscc),
    period                   TEXT             NOT NULL CHECK (period ~ '^[0-9]{4}(Q[1-4])?$'),
    revision                 BIGINT           NOT NULL CHECK (revision >= 1),
    -- The submitter's idempotency key: a repeat finds this row instead of adding one.
    client_request_id        TEXT             NOT NULL UNIQUE,
    employees_total          BIGINT           NOT NULL CHECK (employees_total >= 0),
    production_staff         BIGINT           NOT NULL CHECK (production_staff >= 0),
    rd_technical_staff       BIGINT           NOT NULL CHECK (rd_technical_staff >= 0),
    management_sales_staff   BIGINT           NOT NULL CHECK (management_sales_staff >= 0),
    college_educated_staff   BIGINT           NOT NULL CHECK (college_educated_staff >= 0),
    rd_spend_fen             BIGINT           NOT NULL CHECK (rd_spend_fen >= 0),
    revenue_fen              BIGINT           NOT NULL CHECK (revenue_fen >= 0),
    industrial_output_fen    BIGINT           NOT NULL CHECK (industrial_output_fen >= 0),
    tax_paid_fen             BIGINT           NOT NULL CHECK (tax_paid_fen >= 0),
    export_sales_fen         BIGINT           NOT NULL CHECK (export_sales_fen >= 0),
    equipment_value_fen      BIGINT           NOT NULL CHECK (equipment_value_fen >= 0),
    automation_share_percent DOUBLE PRECISION NOT NULL CHECK (automation_share_percent BETWEEN 0 AND 100),
    equipment_level          TEXT             NOT NULL,
    invention_patents        BIGINT           NOT NULL CHECK (invention_patents >= 0),
    utility_model_patents    BIGINT           NOT NULL CHECK (utility_model_patents >= 0),
    design_patents           BIGINT           NOT NULL CHECK (design_patents >= 0),
    land_used_centi_mu       BIGINT           NOT NULL CHECK (land_used_centi_mu >= 0),
    energy_use_tce           DOUBLE PRECISION CHECK (energy_use_tce >= 0),
    rd_exceeds_revenue_flag  BOOLEAN          NOT NULL,
    -- Indicator name -> source, for the figures that are not self-reported.
    sources                  JSONB            NOT NULL DEFAULT '{}',
    -- The enterprise version the return was checked against.
    enterprise_version       BIGINT           NOT NULL,
    submitted_at             TIMESTAMPTZ      NOT NULL,
    submitted_by             TEXT             NOT NULL,
    PRIMARY KEY (uscc, period, revision),
    CHECK (production_staff + rd_technical_staff + management_sales_staff <= employees_total)
);

-- Statistics: the latest revision per enterprise for one period.
CREATE INDEX census_returns_by_period ON census_returns (period, uscc, revision DESC);

-- Audit: every read of an enterprise file, who read it and which view.
CREATE TABLE file_reads (
    id            BIGSERIAL   PRIMARY KEY,
    -- The principal (`department:finance`, `service:…`).
    reader        TEXT        NOT NULL,
    uscc          TEXT        NOT NULL,
    -- The time the file was shown as of; NULL for "now".
    as_of         TIMESTAMPTZ,
    all_revisions BOOLEAN     NOT NULL,
    read_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX file_reads_by_enterprise ON file_reads (uscc, read_at);
