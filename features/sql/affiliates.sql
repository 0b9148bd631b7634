-- Affiliated enterprises (关联企业) at :as_of: the pairs of affiliate_pairs.sql (a shared person, an
-- enterprise link or a parent) with their listings, penalties and revocations. Entities at the same
-- registered address (一址多企) are counted by aggregation, not pairing.
WITH recent_pen AS (
  SELECT uscc, COUNT(*) AS n FROM _penalties_in_effect WHERE decided_date >= :start_365d GROUP BY uscc
), aff AS (
  SELECT pa.uscc,
         COUNT(*) AS affiliate_count,
         SUM(COALESCE(ls.abnormal_current, 0)) AS n_abnormal,
         SUM(COALESCE(ls.serious_current, 0)) AS n_serious,
         SUM(COALESCE(rp.n, 0)) AS affiliate_penalty_count_365d,
         SUM(CASE WHEN e.status = 'revoked' AND e.status_date < :as_of AND e.status_date >= :start_1095d
                  THEN 1 ELSE 0 END) AS affiliate_revoked_count_1095d
  FROM _affiliate_pairs pa
  JOIN _pit_entities e ON e.uscc = pa.other
    AND e.established <= :as_of AND (e.known_date IS NULL OR e.known_date < :as_of)
  LEFT JOIN _list_status ls ON ls.uscc = pa.other
  LEFT JOIN recent_pen rp ON rp.uscc = pa.other
  GROUP BY pa.uscc
), person_max AS (
  SELECT uscc, MAX(n_entities) AS linked_person_max_entity_count
  FROM _person_links
  GROUP BY uscc
), addr AS (
  SELECT s.address, COUNT(*) AS n, SUM(COALESCE(ls.abnormal_current, 0)) AS n_abnormal
  FROM _spine s LEFT JOIN _list_status ls ON ls.uscc = s.uscc
  WHERE s.address IS NOT NULL AND s.address <> ''
  GROUP BY s.address
)
SELECT s.uscc,
       COALESCE(aff.affiliate_count, 0) AS affiliate_count,
       CASE WHEN aff.affiliate_count > 0 THEN CAST(aff.n_abnormal AS DOUBLE) / aff.affiliate_count END
         AS affiliate_abnormal_list_share,
       CASE WHEN aff.affiliate_count > 0 THEN CAST(aff.n_serious AS DOUBLE) / aff.affiliate_count END
         AS affiliate_serious_list_share,
       COALESCE(aff.affiliate_penalty_count_365d, 0) AS affiliate_penalty_count_365d,
       COALESCE(aff.affiliate_revoked_count_1095d, 0) AS affiliate_revoked_count_1095d,
       COALESCE(pm.linked_person_max_entity_count, 0) AS linked_person_max_entity_count,
       ad.n - 1 AS address_other_entity_count,
       CASE WHEN ad.n > 1 THEN CAST(ad.n_abnormal - COALESCE(ls.abnormal_current, 0) AS DOUBLE) / (ad.n - 1) END
         AS address_other_abnormal_list_share
FROM _spine s
LEFT JOIN aff ON aff.uscc = s.uscc
LEFT JOIN person_max pm ON pm.uscc = s.uscc
LEFT JOIN addr ad ON ad.address = s.address
LEFT JOIN _list_status ls ON ls.uscc = s.uscc
