-- Penalties as the bureau holds them at :as_of (each as known then: _pit_penalties): a field corrected by an
-- upheld objection (异议成立, repair/objections.py; written by the repair sync step into record_corrections)
-- takes its corrected value once the
-- correction took effect and was known; the latest correction of a field wins. Read by penalties_in_effect.sql.
WITH latest AS (
  SELECT c.record_id, c.field, c.value,
         ROW_NUMBER() OVER (PARTITION BY c.record_id, c.field ORDER BY c.effective_date DESC, c.case_id DESC) AS rn
  FROM record_corrections c
  WHERE c.record_kind = 'penalty' AND c.outcome = 'correct' AND c.effective_date <= :as_of
    AND COALESCE(c.known_date, c.effective_date) <= :as_of
), fix AS (
  SELECT record_id,
         MAX(CASE WHEN field = 'domain' THEN value END) AS domain,
         MAX(CASE WHEN field = 'procedure' THEN value END) AS procedure,
         MAX(CASE WHEN field = 'severity' THEN value END) AS severity,
         MAX(CASE WHEN field = 'sanctions' THEN value END) AS sanctions,
         MAX(CASE WHEN field = 'fine_amount' THEN value END) AS fine_amount,
         MAX(CASE WHEN field = 'publicity_end' THEN value END) AS publicity_end
  FROM latest
  WHERE rn = 1
  GROUP BY record_id
)
SELECT p.penalty_id, p.uscc, p.decided_date, p.known_date, p.leniency, p.fine_paid_date, p.published_date,
       p.restriction_end,
       COALESCE(f.domain, p.domain) AS domain,
       COALESCE(f.procedure, p.procedure) AS procedure,
       COALESCE(f.severity, p.severity) AS severity,
       COALESCE(f.sanctions, p.sanctions) AS sanctions,
       COALESCE(CAST(f.fine_amount AS DOUBLE), p.fine_amount) AS fine_amount,
       COALESCE(CAST(f.publicity_end AS DATE), p.publicity_end) AS publicity_end
FROM _pit_penalties p
LEFT JOIN fix f ON f.record_id = p.penalty_id
