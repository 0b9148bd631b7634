-- Public-opinion items of the 365 days before :as_of, each counted only for the entity it is matched to
-- (uscc set by the vendor or by an exact unique name match at ingest). Its negative probability is the
-- vendor label when present (negative = 1, else 0), otherwise the classifier's (_opinion_scores). Items
-- voided by an upheld objection (_records_voided) do not count.
SELECT o.opinion_id, o.uscc, o.published_date, o.title, COALESCE(o.reach, 0) AS reach,
       CASE WHEN o.vendor_sentiment = 'negative' THEN 1.0
            WHEN o.vendor_sentiment IS NOT NULL THEN 0.0
            ELSE sc.negative_probability END AS p_negative
FROM _pit_opinions o
LEFT JOIN _opinion_scores sc ON sc.opinion_id = o.opinion_id
WHERE o.uscc IS NOT NULL AND o.published_date < :as_of AND o.known_date < :as_of
  AND o.published_date >= :start_365d
  AND NOT EXISTS (
    SELECT 1 FROM _records_voided v WHERE v.record_kind = 'opinion' AND v.record_id = o.opinion_id)
