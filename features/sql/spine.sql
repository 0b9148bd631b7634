-- Entities active at :as_of, as registered then (_pit_entities): established on or before it, known before it
-- (the same known-date rule as every record), not exited before it.
SELECT e.uscc, e.entity_type, e.industry_code, e.town_code, TRIM(e.address) AS address,
       e.registered_capital, e.established, e.is_foreign_invested, e.parent_uscc
FROM _pit_entities e
WHERE e.established <= :as_of
  AND (e.known_date IS NULL OR e.known_date < :as_of)
  AND NOT (e.status IN ('deregistered', 'revoked') AND COALESCE(e.status_date, e.established) < :as_of)
