-- Relations current at :as_of and known before it (read by person_links.sql and affiliate_pairs.sql).
SELECT r.uscc, r.person_key, r.related_uscc
FROM _pit_relations r
WHERE r.known_date < :as_of
  AND (r.start_date IS NULL OR r.start_date < :as_of)
  AND (r.end_date IS NULL OR r.end_date >= :as_of)
