-- Product and food sampling (监督抽检) at :as_of: samples taken in the last 730 days, failures in the last 365 and
-- 730 days, whether one was a food failure (food or edible agricultural product), and failures whose follow-up
-- (核查处置) is still open, whenever sampled (_sampling_failures).
WITH n AS (
  SELECT uscc, COUNT(*) AS sampling_count_730d
  FROM _pit_sampling_results
  WHERE sample_date < :as_of AND known_date < :as_of AND sample_date >= :start_730d
  GROUP BY uscc
), f AS (
  SELECT uscc,
         SUM(CASE WHEN sample_date >= :start_365d THEN 1 ELSE 0 END) AS sampling_fail_count_365d,
         SUM(CASE WHEN sample_date >= :start_730d THEN 1 ELSE 0 END) AS sampling_fail_count_730d,
         MAX(CASE WHEN sample_date >= :start_730d AND category IN ('food', 'edible_agri') THEN 1 ELSE 0 END)
           AS sampling_food_fail_flag_730d,
         SUM(1 - resolved) AS sampling_followup_open_count
  FROM _sampling_failures
  GROUP BY uscc
)
SELECT s.uscc,
       COALESCE(n.sampling_count_730d, 0) AS sampling_count_730d,
       COALESCE(f.sampling_fail_count_365d, 0) AS sampling_fail_count_365d,
       COALESCE(f.sampling_fail_count_730d, 0) AS sampling_fail_count_730d,
       COALESCE(f.sampling_food_fail_flag_730d, 0) AS sampling_food_fail_flag_730d,
       COALESCE(f.sampling_followup_open_count, 0) AS sampling_followup_open_count
FROM _spine s
LEFT JOIN n ON n.uscc = s.uscc
LEFT JOIN f ON f.uscc = s.uscc
