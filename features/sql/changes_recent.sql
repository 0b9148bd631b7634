-- Registration changes of the 730 days before :as_of, known before it.
SELECT c.change_id, c.uscc, c.change_date, c.item
FROM _pit_changes c
WHERE c.change_date < :as_of AND c.known_date < :as_of AND c.change_date >= :start_730d
