-- Public-opinion items of the 365 days before :as_of, one row per item and enterprise it names with a credit
-- code (_opinion_mentions: the vendor's code, or an exact unique name match at ingest); is_target = 1 where the
-- item, when negative, counts against that enterprise (the sole named one, the attribution model's targets, or
-- every named one when no model decided). Its negative probability is the vendor label when present
-- (negative = 1, else 0), otherwise the classifier's (_opinion_scores). Items voided by an upheld objection
-- (_records_voided) do not count, for any enterprise they name. handling is the 舆情台账 verification of the item
-- decided and known before :as_of (_pit_opinion_handling: verified | unfounded), NULL while unverified.
WITH named AS (
  SELECT opinion_id, uscc, MAX(CASE WHEN is_target THEN 1 ELSE 0 END) AS is_target
  FROM _opinion_mentions
  WHERE uscc IS NOT NULL
  GROUP BY opinion_id, uscc
), handled AS (
  SELECT opinion_id, MAX(outcome) AS outcome  -- one row per item (its key); MAX: verified over unfounded
  FROM _pit_opinion_handling
  WHERE decided_date < :as_of AND COALESCE(known_date, decided_date) < :as_of
  GROUP BY opinion_id
)
SELECT o.opinion_id, m.uscc, o.published_date, o.title, COALESCE(o.reach, 0) AS reach, m.is_target,
       CASE WHEN o.vendor_sentiment = 'negative' THEN 1.0
            WHEN o.vendor_sentiment IS NOT NULL THEN 0.0
            ELSE sc.negative_probability END AS p_negative,
       h.outcome AS handling
FROM _pit_opinions o
JOIN named m ON m.opinion_id = o.opinion_id
LEFT JOIN _opinion_scores sc ON sc.opinion_id = o.opinion_id
LEFT JOIN handled h ON h.opinion_id = o.opinion_id
WHERE o.published_date < :as_of AND o.known_date < :as_of
  AND o.published_date >= :start_365d
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v WHERE v.record_kind = 'opinion' AND v.record_id = o.opinion_id)
