-- Operating capacity (经营能力) at :as_of, from the latest annual report filed and known before it and
-- the one before (trends). Undisclosed fields stay NULL: the model sees them as missing, not as zero.
WITH cur AS (SELECT * FROM _reports_known WHERE rn = 1),
     prev AS (SELECT * FROM _reports_known WHERE rn = 2)
SELECT s.uscc,
       cur.employees AS employees_last,
       cur.revenue AS revenue_yuan_last,
       cur.tax AS tax_yuan_last,
       CASE WHEN cur.assets > 0 THEN cur.liabilities / cur.assets END AS liabilities_to_assets_ratio_last,
       CASE WHEN cur.employees > 0 THEN CAST(cur.social_insurance_staff AS DOUBLE) / cur.employees END
         AS social_insurance_coverage_ratio_last,
       CASE WHEN cur.profit < 0 THEN 1 WHEN cur.profit IS NOT NULL THEN 0 END AS profit_negative_flag_last,
       CASE WHEN prev.revenue > 0 THEN cur.revenue / prev.revenue - 1 END AS revenue_change_ratio_last,
       CASE WHEN prev.employees > 0 THEN CAST(cur.employees - prev.employees AS DOUBLE) / prev.employees END
         AS employees_change_ratio_last,
       CASE WHEN cur.uscc IS NULL THEN 1 ELSE 0 END AS financials_no_report_flag
FROM _spine s
LEFT JOIN cur ON cur.uscc = s.uscc
LEFT JOIN prev ON prev.uscc = s.uscc
