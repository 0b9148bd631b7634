-- The records behind each dimension's reasons at :as_of for the active entities (_spine), one row per
-- record, read from the same stages as the features (penalties, listings and other departments' lists in
-- effect, due report years, current affiliates, ...), newest and most serious first; at most :records_per_dimension per entity and
-- dimension. `detail` holds what the record says (codes), put into Chinese and English by
-- features/reason_records.py.
WITH rec AS (
  SELECT uscc, 'compliance' AS dimension, list_kind AS kind, listing_id AS ref, listed_date AS record_date,
         COALESCE(reason, domain) AS detail, CASE WHEN list_kind = 'serious_list' THEN 0 ELSE 1 END AS prio
  FROM _listings_in_effect
  UNION ALL
  SELECT uscc, 'compliance', 'dept_list', listing_id, listed_date,
         list_kind || '|' || COALESCE(department, '') || '|' || COALESCE(document_number, '') || '|'
         || COALESCE(CAST(effect_end AS VARCHAR), ''),
         CASE WHEN list_kind IN ('court_dishonest', 'tax_major_violation', 'safety_production') THEN 1 ELSE 2 END
  FROM _dept_lists_in_effect
  UNION ALL
  SELECT uscc, 'compliance', 'penalty', penalty_id, decided_date,
         domain || '|' || severity || '|' || sanctions || '|' || CAST(fine_amount AS VARCHAR),
         CASE WHEN severity = 'serious' THEN 2 ELSE 3 END
  FROM _penalties_in_effect
  UNION ALL
  SELECT uscc, 'compliance', 'inspection', inspection_id, inspection_date, kind || '|' || result, 4
  FROM _inspections_recent WHERE result IN (:finding_results)
  -- credit commitments, sampling failures and leniency decisions (features/commitments.py, sampling.py,
  -- leniency.py): a breach, a failed sample in the window or with its follow-up open, a leniency decision
  -- (shown, never counted as a penalty) and the later offence that made a second one
  UNION ALL
  SELECT uscc, 'compliance', 'commitment_breach', breach_id, found_date,
         COALESCE(kind, '') || '|' || found_by || '|' || commitment_id || '|' || COALESCE(record_id, ''), 3
  FROM _commitment_breaches_known WHERE found_date >= :start_730d
  UNION ALL
  SELECT uscc, 'compliance', 'sampling', sample_id, sample_date,
         category || '|' || COALESCE(product, '') || '|' || COALESCE(failing_item, '') || '|'
         || CAST(resolved AS VARCHAR), CASE WHEN resolved = 0 THEN 3 ELSE 4 END
  FROM _sampling_failures WHERE sample_date >= :start_730d OR resolved = 0
  UNION ALL
  SELECT uscc, 'compliance', 'leniency', penalty_id, decided_date,
         domain || '|' || COALESCE(next_offence_id, '') || '|' || COALESCE(CAST(next_offence_date AS VARCHAR), ''),
         CASE WHEN next_offence_date >= :start_730d THEN 3 ELSE 5 END
  FROM _leniency_known WHERE decided_date >= :start_730d OR next_offence_date >= :start_730d
  UNION ALL
  SELECT uscc, 'annual_report', 'annual_report', CAST(year AS VARCHAR), due_date,
         CASE WHEN filed_date IS NULL THEN 'missing' ELSE 'late|' || CAST(late_days AS VARCHAR) END,
         CASE WHEN filed_date IS NULL THEN 0 ELSE 1 END
  FROM _report_years WHERE filed_date IS NULL OR late_days > 0
  UNION ALL
  SELECT uscc, 'operations', 'annual_report', CAST(year AS VARCHAR), NULL,
         'figures|' || COALESCE(CAST(employees AS VARCHAR), '') || '|' || COALESCE(CAST(revenue AS VARCHAR), '')
         || '|' || COALESCE(CAST(tax AS VARCHAR), ''), rn
  FROM _reports_known
  UNION ALL
  SELECT s.uscc, 'operations', 'annual_report', NULL, NULL, 'no_report', 9
  FROM _spine s WHERE NOT EXISTS (SELECT 1 FROM _reports_known k WHERE k.uscc = s.uscc)
  UNION ALL
  SELECT uscc, 'registration', 'change', change_id, change_date, item, 1
  FROM _changes_recent
  UNION ALL
  SELECT uscc, 'registration', 'licence', licence_id, COALESCE(status_date, expires), licence_type || '|' || state_at,
         CASE WHEN state_at = 'revoked' THEN 0 ELSE 2 END
  FROM _licence_states WHERE state_at <> 'valid'
  UNION ALL
  SELECT uscc, 'opinion', 'opinion', opinion_id, published_date, title, 1
  FROM _opinion_items WHERE p_negative >= :negative_threshold AND is_target = 1  -- only the item's targets
  UNION ALL
  SELECT uscc, 'opinion', 'complaint', complaint_id, received_date,
         COALESCE(category, '') || '|' || CASE WHEN upheld AND handled_date < :as_of THEN 'upheld' ELSE 'received' END,
         CASE WHEN upheld AND handled_date < :as_of THEN 0 ELSE 2 END
  FROM _complaints_recent WHERE received_date >= :start_365d
  UNION ALL
  SELECT pa.uscc, 'affiliates', 'affiliate', pa.other, NULL,
         pa.via || '|' || COALESCE(CAST(ls.serious_current AS VARCHAR), '0') || '|'
         || COALESCE(CAST(ls.abnormal_current AS VARCHAR), '0'),
         CASE WHEN ls.serious_current = 1 THEN 0 WHEN ls.abnormal_current = 1 THEN 1 ELSE 2 END
  FROM _affiliate_pairs pa LEFT JOIN _list_status ls ON ls.uscc = pa.other
  UNION ALL
  SELECT uscc, 'attributes', 'entity', uscc, established,
         entity_type || '|' || COALESCE(CAST(registered_capital AS VARCHAR), ''), 1
  FROM _spine
)
SELECT uscc, dimension, kind, ref, record_date, detail
FROM (
  -- kind and detail break the last ties (one affiliate reached two ways): the same order on every run
  SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc, dimension
                               ORDER BY prio, record_date DESC NULLS LAST, ref, kind, detail) AS rn
  FROM rec
  WHERE (:all_entities OR uscc = :uscc) AND uscc IN (SELECT uscc FROM _spine)
) t
WHERE rn <= :records_per_dimension
ORDER BY uscc, dimension, rn
