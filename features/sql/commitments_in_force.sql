-- Commitments at :as_of, one row per commitment made and known before it, with its state then: 'breached' (a
-- breach found and known: _commitment_breaches_known; a breached status dated before :as_of only when no breach
-- record exists for it, since the record says when the breach became known), 'withdrawn',
-- 'fulfilled' (marked fulfilled before :as_of, or its term over), else 'in_force'; ended_date: when it was
-- fulfilled.
SELECT c.commitment_id, c.uscc, c.kind, c.licence_type, c.made_date, c.term_end,
       CASE WHEN EXISTS (SELECT 1 FROM _commitment_breaches_known b WHERE b.commitment_id = c.commitment_id)
              OR (c.status = 'breached' AND c.status_date < :as_of
                  AND NOT EXISTS (SELECT 1 FROM _pit_commitment_breaches b WHERE b.commitment_id = c.commitment_id))
              THEN 'breached'
            WHEN c.status = 'withdrawn' AND c.status_date < :as_of THEN 'withdrawn'
            WHEN (c.status = 'fulfilled' AND c.status_date < :as_of) OR c.term_end < :as_of THEN 'fulfilled'
            ELSE 'in_force' END AS state_at,
       COALESCE(CASE WHEN c.status = 'fulfilled' AND c.status_date < :as_of THEN c.status_date END, c.term_end)
         AS ended_date
FROM _pit_commitments c
WHERE c.made_date < :as_of AND c.known_date < :as_of
