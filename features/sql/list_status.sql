-- Abnormal-list and serious-list status at :as_of, one row per listed entity: a listing counts once
-- listed and known, until removed (a removal counts once it happened before :as_of), automatically
-- expired (serious list), repaired (repairs_in_effect.sql) or voided (records_voided.sql). A serious-list
-- entry whose latest version says it was void (removed as listed in error: void_serious_listings) never
-- counts, at any as_of.
WITH abnormal AS (
  SELECT a.uscc, a.reason, a.listed_date
  FROM _pit_abnormal_list a
  WHERE a.listed_date < :as_of AND a.known_date < :as_of
    AND (a.removed_date IS NULL OR a.removed_date >= :as_of)
    AND NOT EXISTS (
      SELECT 1 FROM _repairs_in_effect r
      WHERE r.record_kind = 'abnormal_list' AND r.record_id = a.listing_id)
    AND NOT EXISTS (
      SELECT 1 FROM _records_voided v
      WHERE v.record_kind = 'abnormal_list' AND v.record_id = a.listing_id)
), serious AS (
  SELECT s.uscc, s.listed_date
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
), listed AS (
  SELECT uscc, 1 AS abnormal, CASE WHEN reason = 'unreachable' THEN 1 ELSE 0 END AS unreachable,
         listed_date AS abnormal_since, 0 AS serious
  FROM abnormal
  UNION ALL
  SELECT uscc, 0, 0, NULL, 1 FROM serious
)
SELECT uscc,
       MAX(abnormal) AS abnormal_current,
       SUM(abnormal) AS abnormal_count,
       MAX(unreachable) AS abnormal_unreachable,
       MIN(abnormal_since) AS abnormal_since,
       MAX(serious) AS serious_current
FROM listed
GROUP BY uscc
