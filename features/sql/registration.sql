-- Registration and licences (登记许可) at :as_of: registration changes in windows, licences held,
-- lapsed and revoked at :as_of (licence_states.sql).
WITH ch AS (
  SELECT c.uscc,
         SUM(CASE WHEN c.change_date >= :start_365d THEN 1 ELSE 0 END) AS change_count_365d,
         SUM(CASE WHEN c.item = 'legal_rep' THEN 1 ELSE 0 END) AS legal_rep_change_count_730d,
         SUM(CASE WHEN c.item = 'address' THEN 1 ELSE 0 END) AS address_change_count_730d,
         SUM(CASE WHEN c.item = 'capital' THEN 1 ELSE 0 END) AS capital_change_count_730d,
         SUM(CASE WHEN c.item = 'shareholder' THEN 1 ELSE 0 END) AS shareholder_change_count_730d
  FROM _changes_recent c
  GROUP BY c.uscc
), lic_type AS (
  SELECT uscc, licence_type,
         SUM(CASE WHEN state_at = 'valid' THEN 1 ELSE 0 END) AS n_valid,
         SUM(CASE WHEN state_at = 'revoked' THEN 1 ELSE 0 END) AS n_revoked
  FROM _licence_states
  GROUP BY uscc, licence_type
), lic_agg AS (
  SELECT uscc,
         SUM(n_valid) AS licence_valid_count,
         SUM(CASE WHEN n_valid = 0 THEN 1 ELSE 0 END) AS licence_lapsed_type_count,
         SUM(n_revoked) AS licence_revoked_count,
         MAX(CASE WHEN n_valid > 0 AND licence_type IN ('food_business', 'food_production') THEN 1 ELSE 0 END)
           AS food_licence_flag,
         MAX(CASE WHEN n_valid > 0 AND licence_type = 'special_equipment' THEN 1 ELSE 0 END)
           AS special_equipment_licence_flag
  FROM lic_type
  GROUP BY uscc
)
SELECT s.uscc,
       COALESCE(ch.change_count_365d, 0) AS change_count_365d,
       COALESCE(ch.legal_rep_change_count_730d, 0) AS legal_rep_change_count_730d,
       COALESCE(ch.address_change_count_730d, 0) AS address_change_count_730d,
       COALESCE(ch.capital_change_count_730d, 0) AS capital_change_count_730d,
       COALESCE(ch.shareholder_change_count_730d, 0) AS shareholder_change_count_730d,
       COALESCE(la.licence_valid_count, 0) AS licence_valid_count,
       COALESCE(la.licence_lapsed_type_count, 0) AS licence_lapsed_type_count,
       COALESCE(la.licence_revoked_count, 0) AS licence_revoked_count,
       COALESCE(la.food_licence_flag, 0) AS food_licence_flag,
       COALESCE(la.special_equipment_licence_flag, 0) AS special_equipment_licence_flag
FROM _spine s
LEFT JOIN ch ON ch.uscc = s.uscc
LEFT JOIN lic_agg la ON la.uscc = s.uscc
