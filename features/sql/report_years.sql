-- Each due year of each entity at :as_of: the years :first_due_year .. :last_due_year (_report_deadlines)
-- from the year the entity was established, with the report filed and known before :as_of, if any, and
-- its late days (NULL while missing). A missing report counts as missing only after its deadline.
SELECT s.uscc, d.year, d.due_date, f.filed_date,
       CASE WHEN f.filed_date IS NULL THEN NULL
            WHEN f.filed_date <= d.due_date THEN 0
            ELSE DATE_DIFF('day', d.due_date, f.filed_date) END AS late_days
FROM _spine s
JOIN _report_deadlines d ON d.year >= EXTRACT(YEAR FROM s.established)
LEFT JOIN _pit_annual_reports f
  ON f.uscc = s.uscc AND f.year = d.year
 AND f.filed_date IS NOT NULL AND f.filed_date < :as_of AND f.known_date < :as_of
