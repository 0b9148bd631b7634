-- Credit commitments (信用承诺) at :as_of: commitments in force and fulfilled in the window
-- (_commitments_in_force), breaches found in the window (_commitment_breaches_known) and whether one breached
-- a 告知承诺.
WITH cm AS (
  SELECT uscc,
         SUM(CASE WHEN state_at = 'in_force' THEN 1 ELSE 0 END) AS commitment_in_force_count,
         SUM(CASE WHEN state_at = 'fulfilled' AND ended_date >= :start_730d THEN 1 ELSE 0 END) AS commitment_fulfilled_count_730d
  FROM _commitments_in_force
  GROUP BY uscc
), br AS (
  SELECT uscc,
         COUNT(*) AS commitment_breach_count_730d,
         MAX(CASE WHEN kind = 'notify_commit' THEN 1 ELSE 0 END) AS commitment_notify_breached_flag_730d
  FROM _commitment_breaches_known
  WHERE found_date >= :start_730d
  GROUP BY uscc
)
SELECT s.uscc,
       COALESCE(cm.commitment_in_force_count, 0) AS commitment_in_force_count,
       COALESCE(cm.commitment_fulfilled_count_730d, 0) AS commitment_fulfilled_count_730d,
       COALESCE(br.commitment_breach_count_730d, 0) AS commitment_breach_count_730d,
       COALESCE(br.commitment_notify_breached_flag_730d, 0) AS commitment_notify_breached_flag_730d
FROM _spine s
LEFT JOIN cm ON cm.uscc = s.uscc
LEFT JOIN br ON br.uscc = s.uscc
