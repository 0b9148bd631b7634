-- Abnormal-list and serious-list entries in effect at :as_of, one row per listing: a listing counts once
-- listed and known, until removed (a removal counts once it happened before :as_of), automatically
-- expired (serious list), repaired (repairs_in_effect.sql) or voided (records_voided.sql). A serious-list
-- entry whose latest version says it was void (removed as listed in error: void_serious_listings) never
-- counts, at any as_of. Rows are as known at :as_of (_pit_<table>).
SELECT 'abnormal_list' AS list_kind, a.listing_id, a.uscc, a.listed_date, a.reason,
       CAST(NULL AS VARCHAR) AS domain, CAST(NULL AS VARCHAR) AS penalty_id
FROM _pit_abnormal_list a
WHERE a.listed_date < :as_of AND a.known_date < :as_of
  AND (a.removed_date IS NULL OR a.removed_date >= :as_of)
  AND NOT EXISTS (
    SELECT 1 FROM _repairs_in_effect r
    WHERE r.record_kind = 'abnormal_list' AND r.record_id = a.listing_id)
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v
    WHERE v.record_kind = 'abnormal_list' AND v.record_id = a.listing_id)
UNION ALL
SELECT 'serious_list', s.listing_id, s.uscc, s.listed_date, CAST(NULL AS VARCHAR), s.domain, s.penalty_id
FROM _pit_serious_list s
WHERE s.listed_date < :as_of AND s.known_date < :as_of
  AND (s.removed_date IS NULL OR s.removed_date >= :as_of)
  AND s.listed_date > :serious_auto_removal_cutoff
  AND NOT EXISTS (SELECT 1 FROM (:void_serious_listings) v WHERE v.listing_id = s.listing_id)
  AND NOT EXISTS (
    SELECT 1 FROM _repairs_in_effect r
    WHERE r.record_kind = 'serious_list' AND r.record_id = s.listing_id)
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v
    WHERE v.record_kind = 'serious_list' AND v.record_id = s.listing_id)
