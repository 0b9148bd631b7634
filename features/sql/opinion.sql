-- Public opinion and complaints (舆情关联) at :as_of: the items of opinion_items.sql (one row per item and
-- enterprise it names), counted as negative only against the item's targets (is_target), reach weighing an
-- item by LN(1 + reach); an item the 舆情台账 found unfounded (handling, known before :as_of) counts as negative
-- no more; a verified one weighs :handling_weight_verified and one not yet verified :handling_weight_unverified in
-- the handled-weighted count (core/rules/opinion_ledger.toml [feature_weight]); and the complaints of complaints_recent.sql: one counts as upheld once handled
-- before :as_of.
WITH neg AS (
  SELECT i.*, CASE WHEN p_negative >= :negative_threshold AND is_target = 1 AND COALESCE(handling, '') <> 'unfounded'
                   THEN 1 ELSE 0 END AS is_neg
  FROM _opinion_items i
), op AS (
  SELECT uscc,
         COUNT(*) AS opinion_item_count_365d,
         SUM(is_neg) AS opinion_negative_count_365d,
         SUM(CASE WHEN is_neg = 1 AND published_date >= :start_90d THEN 1 ELSE 0 END) AS opinion_negative_count_90d,
         SUM(CASE WHEN is_neg = 1 THEN LN(1 + reach) ELSE 0 END) AS opinion_negative_reach_weighted_365d,
         SUM(CASE WHEN is_neg = 1 AND handling = 'verified' THEN 1 ELSE 0 END) AS opinion_verified_negative_count_365d,
         SUM(CASE WHEN p_negative >= :negative_threshold AND is_target = 1
                  THEN CASE WHEN handling = 'verified' THEN :handling_weight_verified
                            WHEN handling = 'unfounded' THEN :handling_weight_unfounded
                            ELSE :handling_weight_unverified END
                  ELSE 0 END) AS opinion_negative_handled_weighted_365d
  FROM neg
  GROUP BY uscc
), co AS (
  SELECT c.uscc,
         SUM(CASE WHEN c.received_date >= :start_365d THEN 1 ELSE 0 END) AS complaint_count_365d,
         SUM(CASE WHEN c.received_date >= :start_365d AND c.upheld AND c.handled_date < :as_of THEN 1 ELSE 0 END)
           AS complaint_upheld_count_365d,
         COUNT(*) AS complaint_count_730d,
         SUM(CASE WHEN c.upheld AND c.handled_date < :as_of THEN 1 ELSE 0 END) AS upheld_730d,
         SUM(CASE WHEN c.handled_date < :as_of THEN 1 ELSE 0 END) AS handled_730d
  FROM _complaints_recent c
  GROUP BY c.uscc
)
SELECT s.uscc,
       COALESCE(op.opinion_item_count_365d, 0) AS opinion_item_count_365d,
       COALESCE(op.opinion_negative_count_365d, 0) AS opinion_negative_count_365d,
       COALESCE(op.opinion_negative_count_90d, 0) AS opinion_negative_count_90d,
       COALESCE(op.opinion_negative_reach_weighted_365d, 0) AS opinion_negative_reach_weighted_365d,
       COALESCE(op.opinion_verified_negative_count_365d, 0) AS opinion_verified_negative_count_365d,
       COALESCE(op.opinion_negative_handled_weighted_365d, 0) AS opinion_negative_handled_weighted_365d,
       COALESCE(co.complaint_count_365d, 0) AS complaint_count_365d,
       COALESCE(co.complaint_upheld_count_365d, 0) AS complaint_upheld_count_365d,
       COALESCE(co.complaint_count_730d, 0) AS complaint_count_730d,
       CASE WHEN co.handled_730d > 0 THEN CAST(co.upheld_730d AS DOUBLE) / co.handled_730d END
         AS complaint_upheld_share_730d
FROM _spine s
LEFT JOIN op ON op.uscc = s.uscc
LEFT JOIN co ON co.uscc = s.uscc
