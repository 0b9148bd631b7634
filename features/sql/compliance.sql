-- Compliance (合规信息) at :as_of: penalties still in effect (_penalties_in_effect), current abnormal and
-- serious listings (_list_status), inspection findings in a window (not voided by an objection): results
-- that are findings, adverse events or an unreachable entity by core/rules/inspection_results.toml; and
-- other departments' dishonesty lists in effect (_dept_lists_in_effect).
WITH pen AS (
  SELECT p.uscc,
         COUNT(*) AS penalty_in_effect_count,
         SUM(CASE WHEN p.decided_date >= :start_365d THEN 1 ELSE 0 END) AS penalty_count_365d,
         SUM(CASE WHEN p.procedure = 'ordinary' THEN 1 ELSE 0 END) AS penalty_ordinary_count_in_effect,
         SUM(CASE WHEN p.severity = 'serious' THEN 1 ELSE 0 END) AS penalty_serious_count_in_effect,
         SUM(p.fine_amount) AS penalty_fine_yuan_in_effect,
         COUNT(DISTINCT p.domain) AS penalty_domain_count_in_effect,
         DATE_DIFF('day', MAX(p.decided_date), :as_of) AS penalty_days_since_last
  FROM _penalties_in_effect p
  GROUP BY p.uscc
), insp AS (
  SELECT i.uscc,
         COUNT(*) AS inspection_count_730d,
         SUM(CASE WHEN i.result IN (:finding_results) THEN 1 ELSE 0 END)
           AS inspection_issue_count_730d,
         SUM(CASE WHEN i.result IN (:adverse_results) THEN 1 ELSE 0 END) AS inspection_case_opened_count_730d,
         SUM(CASE WHEN i.result IN (:unreachable_results) THEN 1 ELSE 0 END) AS inspection_not_found_count_730d
  FROM _inspections_recent i
  GROUP BY i.uscc
), dept AS (  -- other departments' lists in effect (dept_lists_in_effect.sql)
  SELECT d.uscc,
         COUNT(*) AS dept_list_in_effect_count,
         COUNT(DISTINCT d.list_kind) AS dept_list_kind_count_in_effect,
         MAX(CASE WHEN d.list_kind = 'court_dishonest' THEN 1 ELSE 0 END) AS dept_list_court_dishonest_flag,
         SUM(CASE WHEN d.list_kind IN ('tax_abnormal', 'tax_major_violation') THEN 1 ELSE 0 END)
           AS dept_list_tax_count_in_effect,
         DATE_DIFF('day', MAX(d.listed_date), :as_of) AS dept_list_days_since_last
  FROM _dept_lists_in_effect d
  GROUP BY d.uscc
)
SELECT s.uscc,
       COALESCE(pen.penalty_in_effect_count, 0) AS penalty_in_effect_count,
       COALESCE(pen.penalty_count_365d, 0) AS penalty_count_365d,
       COALESCE(pen.penalty_ordinary_count_in_effect, 0) AS penalty_ordinary_count_in_effect,
       COALESCE(pen.penalty_serious_count_in_effect, 0) AS penalty_serious_count_in_effect,
       COALESCE(pen.penalty_fine_yuan_in_effect, 0) AS penalty_fine_yuan_in_effect,
       COALESCE(pen.penalty_domain_count_in_effect, 0) AS penalty_domain_count_in_effect,
       pen.penalty_days_since_last AS penalty_days_since_last,
       COALESCE(ls.abnormal_current, 0) AS abnormal_list_current_flag,
       COALESCE(ls.abnormal_unreachable, 0) AS abnormal_list_unreachable_flag,
       CASE WHEN ls.abnormal_since IS NOT NULL THEN DATE_DIFF('day', ls.abnormal_since, :as_of) ELSE 0 END
         AS abnormal_list_days_listed,
       COALESCE(ls.serious_current, 0) AS serious_list_current_flag,
       COALESCE(insp.inspection_count_730d, 0) AS inspection_count_730d,
       COALESCE(insp.inspection_issue_count_730d, 0) AS inspection_issue_count_730d,
       COALESCE(insp.inspection_case_opened_count_730d, 0) AS inspection_case_opened_count_730d,
       COALESCE(insp.inspection_not_found_count_730d, 0) AS inspection_not_found_count_730d,
       COALESCE(dept.dept_list_in_effect_count, 0) AS dept_list_in_effect_count,
       COALESCE(dept.dept_list_kind_count_in_effect, 0) AS dept_list_kind_count_in_effect,
       COALESCE(dept.dept_list_court_dishonest_flag, 0) AS dept_list_court_dishonest_flag,
       COALESCE(dept.dept_list_tax_count_in_effect, 0) AS dept_list_tax_count_in_effect,
       dept.dept_list_days_since_last AS dept_list_days_since_last
FROM _spine s
LEFT JOIN pen ON pen.uscc = s.uscc
LEFT JOIN _list_status ls ON ls.uscc = s.uscc
LEFT JOIN insp ON insp.uscc = s.uscc
LEFT JOIN dept ON dept.uscc = s.uscc
