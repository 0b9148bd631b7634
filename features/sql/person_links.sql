-- Entities linked to a person (legal representative, shareholder, executive) at :as_of, with the number of
-- entities that person is linked to (a grouped count joined back: linear, unlike a window over every person).
WITH links AS (
  SELECT DISTINCT uscc, person_key FROM _relations_current WHERE person_key IS NOT NULL
), groups AS (
  SELECT person_key, COUNT(*) AS n_entities FROM links GROUP BY person_key
)
SELECT l.uscc, l.person_key, g.n_entities
FROM links l JOIN groups g ON g.person_key = l.person_key
