-- Size band (规模) at :as_of: employees of the latest filed report, else registered capital, else unknown.
SELECT s.uscc,
       CASE WHEN k.employees IS NOT NULL THEN
              CASE WHEN k.employees >= :employees_min_large THEN 'large'
                   WHEN k.employees >= :employees_min_medium THEN 'medium'
                   WHEN k.employees >= :employees_min_small THEN 'small'
                   ELSE 'micro' END
            WHEN s.registered_capital > 0 THEN
              CASE WHEN s.registered_capital >= :capital_min_large THEN 'large'
                   WHEN s.registered_capital >= :capital_min_medium THEN 'medium'
                   WHEN s.registered_capital >= :capital_min_small THEN 'small'
                   ELSE 'micro' END
            ELSE 'unknown' END AS size_band
FROM _spine s
LEFT JOIN _reports_known k ON k.uscc = s.uscc AND k.rn = 1
