-- Breaches of a commitment found and known before :as_of (each row as known then: _pit_<table>), with the kind
-- of the commitment breached. Read by commitments.sql and reason_records.sql.
SELECT b.breach_id, b.commitment_id, b.uscc, b.found_date, b.found_by, b.record_id, c.kind, c.licence_type
FROM _pit_commitment_breaches b
LEFT JOIN _pit_commitments c ON c.commitment_id = b.commitment_id
WHERE b.found_date < :as_of AND b.known_date < :as_of
