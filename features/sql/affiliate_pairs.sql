-- Affiliated pairs (关联企业) at :as_of, both directions, with how they are linked: a shared person
-- (legal representative, shareholder or executive), an enterprise link (enterprise shareholder,
-- parent/branch relation) or a parent_uscc. A person linked to more than :person_group_cap entities is
-- not used for pairing (k entities would make k*k pairs).
-- Both sides of the person self-join are the links of persons with 2..cap entities (grouped once in
-- _person_links), so the join's build side holds no hub and the pairs grow with the entities, not faster.
WITH small_groups AS (
  SELECT uscc, person_key FROM _person_links WHERE n_entities BETWEEN 2 AND :person_group_cap
), pairs_raw AS (
  SELECT a.uscc, b.uscc AS other, 'person' AS via
  FROM small_groups a
  JOIN small_groups b ON b.person_key = a.person_key AND b.uscc <> a.uscc
  UNION ALL
  SELECT uscc, related_uscc, 'enterprise' FROM _relations_current WHERE related_uscc IS NOT NULL AND related_uscc <> uscc
  UNION ALL
  SELECT related_uscc, uscc, 'enterprise' FROM _relations_current WHERE related_uscc IS NOT NULL AND related_uscc <> uscc
  UNION ALL
  SELECT uscc, parent_uscc, 'branch' FROM _spine WHERE parent_uscc IS NOT NULL AND parent_uscc <> uscc
  UNION ALL
  SELECT parent_uscc, uscc, 'branch' FROM _spine WHERE parent_uscc IS NOT NULL AND parent_uscc <> uscc
)
SELECT uscc, other, MIN(via) AS via FROM pairs_raw GROUP BY uscc, other
