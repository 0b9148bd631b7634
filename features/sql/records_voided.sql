-- Records voided at :as_of by an upheld objection (异议成立, repair/objections.py; written by the repair
-- sync step): the void took effect and was known by then. A voided record is not "repaired": it stops
-- counting in every feature that reads its table (penalties_in_effect.sql, list_status.sql,
-- compliance.sql, opinion.sql), as if the bureau had never held it. Corrections: penalties_held.sql.
SELECT DISTINCT v.record_kind, v.record_id
FROM record_corrections v
WHERE v.outcome = 'void' AND v.effective_date <= :as_of
  AND COALESCE(v.known_date, v.effective_date) <= :as_of
