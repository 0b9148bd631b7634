-- First-violation leniency and minor-violation exemption decisions (首违不罚 / 轻微免罚: penalties rows with
-- leniency = true, as held at :as_of: _penalties_held) decided and known before :as_of and not voided, each with
-- the first later offence of the same domain within the repeat window (core/rules/leniency.toml): a penalty or
-- another leniency decision, decided and known before :as_of, not voided. These are never penalties
-- (penalties_in_effect.sql leaves them out). Read by leniency.sql and reason_records.sql.
WITH held AS (
  SELECT p.penalty_id, p.uscc, p.decided_date, p.domain, COALESCE(p.leniency, FALSE) AS leniency
  FROM _penalties_held p
  WHERE p.decided_date < :as_of AND p.known_date < :as_of
    AND NOT EXISTS (
      SELECT 1 FROM _records_voided v WHERE v.record_kind = 'penalty' AND v.record_id = p.penalty_id)
)
SELECT l.penalty_id, l.uscc, l.decided_date, l.domain,
       MIN(o.decided_date) AS next_offence_date,
       MIN(o.penalty_id) AS next_offence_id
FROM held l
LEFT JOIN held o ON o.uscc = l.uscc AND o.domain = l.domain AND o.decided_date > l.decided_date
  AND o.decided_date < l.decided_date + :leniency_repeat_window
WHERE l.leniency
GROUP BY l.penalty_id, l.uscc, l.decided_date, l.domain
