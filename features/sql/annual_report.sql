-- Annual reports (年报公示) at :as_of, over each entity's due years (report_years.sql): a report counts as
-- filed once it was filed and known before :as_of; a missing one counts as missing only after its deadline.
WITH per_entity AS (
  SELECT s.uscc,
         COUNT(y.year) AS due_count,
         COUNT(y.filed_date) AS filed_count,
         SUM(CASE WHEN y.late_days = 0 THEN 1 ELSE 0 END) AS on_time_count,
         MAX(CASE WHEN y.filed_date IS NOT NULL THEN y.year END) AS last_filed_year,
         MAX(CASE WHEN y.year = :last_due_year THEN y.late_days END) AS late_days_last_filed
  FROM _spine s
  LEFT JOIN _report_years y ON y.uscc = s.uscc
  GROUP BY s.uscc
), latest AS (
  SELECT k.uscc,
         (CASE WHEN k.employees IS NULL THEN 1 ELSE 0 END + CASE WHEN k.social_insurance_staff IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.revenue IS NULL THEN 1 ELSE 0 END + CASE WHEN k.assets IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.liabilities IS NULL THEN 1 ELSE 0 END + CASE WHEN k.tax IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.profit IS NULL THEN 1 ELSE 0 END) / CAST(7 AS DOUBLE) AS undisclosed_share,
         CASE WHEN k.revenue = 0 AND k.tax = 0 AND k.employees = 0 THEN 1 ELSE 0 END AS zero_filled
  FROM _reports_known k
  WHERE k.rn = 1
)
SELECT p.uscc,
       p.due_count - p.filed_count AS annual_report_missing_count_3y,
       CASE WHEN p.due_count = 0 THEN 0
            WHEN p.last_filed_year IS NULL THEN p.due_count
            ELSE :last_due_year - p.last_filed_year END AS annual_report_consecutive_missing_years,
       CASE WHEN p.due_count = 0 THEN NULL
            WHEN p.late_days_last_filed IS NOT NULL THEN p.late_days_last_filed
            ELSE DATE_DIFF('day', :last_due_date, :as_of) END AS annual_report_late_days_last,
       CASE WHEN p.due_count > 0 THEN CAST(p.on_time_count AS DOUBLE) / p.due_count END
         AS annual_report_on_time_share_3y,
       CASE WHEN p.due_count = 0 THEN 1 ELSE 0 END AS annual_report_not_yet_due_flag,
       l.undisclosed_share AS annual_report_undisclosed_share_last,
       COALESCE(l.zero_filled, 0) AS annual_report_zero_filled_flag_last
FROM per_entity p
LEFT JOIN latest l ON l.uscc = p.uscc
