-- Penalties that count at :as_of: decided and known before it, not first-violation leniency, still in
-- their publicity (effect) period, not repaired (unless the repair was revoked by then) and not voided.
-- Without a recorded publicity end the period follows the publicity rules: short for a warning,
-- criticism or low fine, standard otherwise.
SELECT p.penalty_id, p.uscc, p.decided_date, p.domain, p.procedure, p.severity, p.sanctions,
       COALESCE(p.fine_amount, 0) AS fine_amount
FROM _penalties_held p  -- penalties with corrections applied (penalties_held.sql)
LEFT JOIN entities e ON e.uscc = p.uscc
WHERE p.decided_date < :as_of
  AND p.known_date < :as_of
  AND (p.leniency IS NULL OR p.leniency = FALSE)
  AND COALESCE(
        p.publicity_end > :as_of,
        CASE WHEN :light_sanctions_only
                  AND COALESCE(p.fine_amount, 0) <= :low_fine_max_yuan
             THEN p.decided_date > :short_publicity_cutoff
             ELSE p.decided_date > :standard_publicity_cutoff END)
  AND NOT EXISTS (
        SELECT 1 FROM _repairs_in_effect r
        WHERE r.record_kind = 'penalty' AND r.record_id = p.penalty_id)
  AND NOT EXISTS (
        SELECT 1 FROM _records_voided v
        WHERE v.record_kind = 'penalty' AND v.record_id = p.penalty_id)
