-- First-violation leniency (首违不罚) at :as_of: leniency decisions in the last 730 days, and whether a later
-- offence of the same domain within the repeat window of one was decided in the last 730 days (a second
-- offence, not eligible for leniency again: _leniency_known).
WITH l AS (
  SELECT uscc,
         SUM(CASE WHEN decided_date >= :start_730d THEN 1 ELSE 0 END) AS leniency_count_730d,
         MAX(CASE WHEN next_offence_date >= :start_730d THEN 1 ELSE 0 END) AS leniency_then_offence_flag_730d
  FROM _leniency_known
  GROUP BY uscc
)
SELECT s.uscc,
       COALESCE(l.leniency_count_730d, 0) AS leniency_count_730d,
       COALESCE(l.leniency_then_offence_flag_730d, 0) AS leniency_then_offence_flag_730d
FROM _spine s
LEFT JOIN l ON l.uscc = s.uscc
