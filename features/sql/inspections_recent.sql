-- Inspections of the 730 days before :as_of, known before it, not voided by an upheld objection.
SELECT i.inspection_id, i.uscc, i.inspection_date, i.kind, i.result
FROM _pit_inspections i
WHERE i.inspection_date < :as_of AND i.known_date < :as_of AND i.inspection_date >= :start_730d
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v WHERE v.record_kind = 'inspection' AND v.record_id = i.inspection_id)
