-- Enterprise attributes (企业属性) at :as_of: age, capital, type, industry division, town.
SELECT s.uscc,
       CAST(DATE_DIFF('day', s.established, :as_of) AS DOUBLE) / 365.25 AS entity_age_years,
       CASE WHEN s.registered_capital > 0 THEN s.registered_capital END AS registered_capital_yuan,
       CASE WHEN s.registered_capital IS NULL OR s.registered_capital <= 0 THEN 1 ELSE 0 END
         AS registered_capital_missing_flag,
       CASE WHEN s.entity_type = 'branch' OR s.parent_uscc IS NOT NULL THEN 1 ELSE 0 END AS branch_flag,
       CASE WHEN s.is_foreign_invested OR s.entity_type = 'foreign_invested' THEN 1 ELSE 0 END
         AS foreign_invested_flag,
       s.entity_type AS entity_type_cat,
       SUBSTRING(s.industry_code FROM 1 FOR 2) AS industry_division_cat,
       s.town_code AS town_cat
FROM _spine s
