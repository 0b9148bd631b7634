-- Entities linked to a person (legal representative, shareholder, executive) at :as_of, with the number of
-- entities that person is linked to.
SELECT uscc, person_key, COUNT(*) OVER (PARTITION BY person_key) AS n_entities
FROM (SELECT DISTINCT uscc, person_key FROM _relations_current WHERE person_key IS NOT NULL) t
