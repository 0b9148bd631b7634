-- Sampling failures (抽检不合格) known before :as_of, one row per failed sample (each as known then:
-- _pit_sampling_results), with whether its follow-up (核查处置) was closed before :as_of (a closed follow-up without
-- a date counts from the date the row became known). Read by sampling.sql and reason_records.sql.
SELECT s.sample_id, s.uscc, s.sample_date, s.category, s.product, s.batch, s.failing_item, s.followup_status,
       CASE WHEN s.followup_status = 'closed' AND COALESCE(s.followup_date, s.known_date) < :as_of THEN 1 ELSE 0 END
         AS resolved
FROM _pit_sampling_results s
WHERE s.result = 'fail' AND s.sample_date < :as_of AND s.known_date < :as_of
