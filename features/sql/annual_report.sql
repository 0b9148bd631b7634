-- Annual reports (年报公示) at :as_of. Only due years count: the report for year Y is due on its
-- deadline (_report_deadlines), and the years looked at are the due years :first_due_year ..
-- :last_due_year from the year the entity was established. A report counts as filed once it was filed
-- and known before :as_of; a missing one counts as missing only after its deadline.
WITH span AS (
  SELECT s.uscc,
         CASE WHEN EXTRACT(YEAR FROM s.established) > :first_due_year THEN EXTRACT(YEAR FROM s.established)
              ELSE :first_due_year END AS first_year
  FROM _spine s
), filed AS (
  SELECT r.uscc, r.year,
         CASE WHEN r.filed_date <= d.due_date THEN 0 ELSE DATE_DIFF('day', d.due_date, r.filed_date) END
           AS late_days
  FROM _pit_annual_reports r
  JOIN _report_deadlines d ON d.year = r.year
  WHERE r.filed_date IS NOT NULL AND r.filed_date < :as_of AND r.known_date < :as_of
    AND r.year BETWEEN :first_due_year AND :last_due_year
), per_entity AS (
  SELECT sp.uscc,
         CASE WHEN sp.first_year <= :last_due_year THEN :last_due_year - sp.first_year + 1 ELSE 0 END
           AS due_count,
         COUNT(f.year) AS filed_count,
         SUM(CASE WHEN f.late_days = 0 THEN 1 ELSE 0 END) AS on_time_count,
         MAX(f.year) AS last_filed_year,
         MAX(CASE WHEN f.year = :last_due_year THEN f.late_days END) AS late_days_last_filed
  FROM span sp
  LEFT JOIN filed f ON f.uscc = sp.uscc AND f.year >= sp.first_year
  GROUP BY sp.uscc, sp.first_year
), latest AS (
  SELECT k.uscc,
         (CASE WHEN k.employees IS NULL THEN 1 ELSE 0 END + CASE WHEN k.social_insurance_staff IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.revenue IS NULL THEN 1 ELSE 0 END + CASE WHEN k.assets IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.liabilities IS NULL THEN 1 ELSE 0 END + CASE WHEN k.tax IS NULL THEN 1 ELSE 0 END
          + CASE WHEN k.profit IS NULL THEN 1 ELSE 0 END) / 7.0 AS undisclosed_share,
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
