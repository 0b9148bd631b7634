-- The two latest annual reports of each entity filed and known before :as_of (rn 1 = latest).
SELECT uscc, year, rn, employees, social_insurance_staff, revenue, assets, liabilities, tax, profit
FROM (
  SELECT r.uscc, r.year, r.employees, r.social_insurance_staff, r.revenue, r.assets, r.liabilities,
         r.tax, r.profit,
         ROW_NUMBER() OVER (PARTITION BY r.uscc ORDER BY r.year DESC) AS rn
  FROM _pit_annual_reports r
  WHERE r.filed_date IS NOT NULL AND r.filed_date < :as_of AND r.known_date < :as_of
) t
WHERE rn <= 2
