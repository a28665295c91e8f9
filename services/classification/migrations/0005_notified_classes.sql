-- Net notices. `notified_classes` holds, per firm and period, the class in force that the
-- last settle announced (announced even where no rule fired for it) and how many settled
-- transitions the firm has had there: that count is part of each notice id, so a second
-- genuine A->B gets new ids while a retried settle of the same transition repeats them.
-- `unsettled_periods` holds the periods whose classes changed since their last settle.
CREATE TABLE notified_classes (
    period        text NOT NULL,
    uscc          text NOT NULL,
    class         smallint NOT NULL,   -- haicheng.common.v1.EnterpriseClass, 0 = none
    model_version bigint NOT NULL,
    sequence      bigint NOT NULL CHECK (sequence > 0),
    notified_at   timestamptz NOT NULL,
    PRIMARY KEY (period, uscc)
);

CREATE TABLE unsettled_periods (
    period         text PRIMARY KEY,
    last_change_at timestamptz NOT NULL
);

-- Firms classified before this migration were notified as they changed, so their class in
-- force is what the departments know: no notice is sent again for it.
INSERT INTO notified_classes (period, uscc, class, model_version, sequence, notified_at)
SELECT period, uscc, class, model_version, 1, classified_at
FROM classifications WHERE class <> 0;
