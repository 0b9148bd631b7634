-- Abnormal-list and serious-list status at :as_of, one row per listed entity, from the listings in
-- effect (listings_in_effect.sql).
SELECT uscc,
       MAX(CASE WHEN list_kind = 'abnormal_list' THEN 1 ELSE 0 END) AS abnormal_current,
       SUM(CASE WHEN list_kind = 'abnormal_list' THEN 1 ELSE 0 END) AS abnormal_count,
       MAX(CASE WHEN list_kind = 'abnormal_list' AND reason = 'unreachable' THEN 1 ELSE 0 END) AS abnormal_unreachable,
       MIN(CASE WHEN list_kind = 'abnormal_list' THEN listed_date END) AS abnormal_since,
       MAX(CASE WHEN list_kind = 'serious_list' THEN 1 ELSE 0 END) AS serious_current
FROM _listings_in_effect
GROUP BY uscc
