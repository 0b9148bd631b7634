-- Complaints (12315) received in the 730 days before :as_of, known before it, not voided by an upheld objection.
SELECT c.complaint_id, c.uscc, c.received_date, c.category, c.upheld, c.handled_date
FROM _pit_complaints c
WHERE c.received_date < :as_of AND c.known_date < :as_of AND c.received_date >= :start_730d
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v WHERE v.record_kind = 'complaint' AND v.record_id = c.complaint_id)
