-- Each licence issued and known before :as_of with its state then, from its status date and expiry.
SELECT l.licence_id, l.uscc, l.licence_type, l.expires, l.status_date,
       CASE WHEN l.status IN ('cancelled', 'revoked') AND l.status_date < :as_of THEN l.status
            WHEN l.status = 'expired' AND l.status_date < :as_of THEN 'expired'
            WHEN l.expires IS NOT NULL AND l.expires < :as_of THEN 'expired'
            ELSE 'valid' END AS state_at
FROM _pit_licences l
WHERE l.issued < :as_of AND l.known_date < :as_of
