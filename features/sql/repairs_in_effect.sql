-- Records repaired at :as_of: the repair took effect and was known by then, and was not revoked by then.
-- Penalties and listings in this set stop counting (penalties_in_effect.sql, list_status.sql).
SELECT DISTINCT r.record_kind, r.record_id
FROM repairs r
WHERE r.repaired_date <= :as_of AND COALESCE(r.known_date, r.repaired_date) <= :as_of
  AND (r.revoked_date IS NULL OR r.revoked_date > :as_of)
