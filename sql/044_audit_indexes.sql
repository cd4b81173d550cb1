-- 044: the access log's indexes, cheaper for the read path that writes a row
-- per page view (README, "The access log's cost"). No unique index on id:
-- it is an identity column (GENERATED ALWAYS: an INSERT cannot choose one),
-- and every B-tree is paid by each page view. Ids grow with time: a BRIN
-- index serves "what is new since id N" (a SIEM's pull). Left: B-trees by
-- user and by conversation (the reports), BRIN by time (--since, the purge).
ALTER TABLE messaging.audit_log DROP CONSTRAINT IF EXISTS audit_log_pkey;
CREATE INDEX IF NOT EXISTS audit_log_id ON messaging.audit_log USING brin (id);
