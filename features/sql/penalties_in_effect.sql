-- Penalties that count at :as_of: decided and known before it, not first-violation leniency, published
-- (their publicity class has a period: a warning alone or a simple-procedure penalty is never "in
-- publicity"), still in their publicity period, not repaired (unless the repair was revoked by then) and
-- not voided.
-- The period is the recorded publicity end; without one, it runs the class's months from the publication
-- date (recorded, else decision + the publication deadline: a publication or decision after the class's
-- publication_cutoff / decision_cutoff is still in publicity) and at least until a recorded restriction ends.
WITH pen AS (
  SELECT p.penalty_id, p.uscc, p.decided_date, p.domain, p.procedure, p.severity, p.sanctions, p.fine_amount,
         p.published_date, p.restriction_end, p.publicity_end, :penalty_class AS publicity_class
  FROM _penalties_held p  -- penalties as known at as_of with corrections applied (penalties_held.sql)
  LEFT JOIN _pit_entities e ON e.uscc = p.uscc
  WHERE p.decided_date < :as_of
    AND p.known_date < :as_of
    AND (p.leniency IS NULL OR p.leniency = FALSE)
)
SELECT p.penalty_id, p.uscc, p.decided_date, p.domain, p.procedure, p.severity, p.sanctions,
       COALESCE(p.fine_amount, 0) AS fine_amount, p.publicity_class
FROM pen p
WHERE :penalty_class_months > 0
  AND COALESCE(
        p.publicity_end > :as_of,
        COALESCE(p.restriction_end > :as_of, FALSE)
          OR COALESCE(p.published_date > :publication_cutoff, p.decided_date > :decision_cutoff))
  AND NOT EXISTS (
        SELECT 1 FROM _repairs_in_effect r
        WHERE r.record_kind = 'penalty' AND r.record_id = p.penalty_id)
  AND NOT EXISTS (
        SELECT 1 FROM _records_voided v
        WHERE v.record_kind = 'penalty' AND v.record_id = p.penalty_id)
