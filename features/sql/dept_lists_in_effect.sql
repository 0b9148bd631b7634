-- Other departments' dishonesty-list entries (dept_lists) in effect at :as_of, one row per entry: an entry
-- counts once listed and known, until removed (a removal counts once it happened before :as_of) and while
-- :as_of is not after its `effect_end` — the end date the department stated, else the listing date plus its
-- kind's effect period (:dept_list_end, core/rules/dept_lists.toml; NULL for kinds without a fixed period:
-- until removed) —, unless voided by an upheld objection (records_voided.sql). Rows are as known at :as_of
-- (_pit_dept_lists).
SELECT * FROM (
  SELECT d.listing_id, d.uscc, d.list_kind, d.department, d.document_number, d.listed_date,
         COALESCE(d.end_date, :dept_list_end) AS effect_end
  FROM _pit_dept_lists d
  WHERE d.listed_date < :as_of AND d.known_date < :as_of
    AND (d.removed_date IS NULL OR d.removed_date >= :as_of)
    AND NOT EXISTS (
      SELECT 1 FROM _records_voided v
      WHERE v.record_kind = 'dept_list' AND v.record_id = d.listing_id)
) t
WHERE t.effect_end IS NULL OR t.effect_end >= :as_of
