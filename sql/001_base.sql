-- 001: extension, schema, the reply type every operation returns.
-- Migrations run inside a transaction opened by scripts/migrate.sh: no
-- BEGIN/COMMIT here. Every statement is safe to run twice.

-- Accent-insensitive user search (postgresql-contrib).
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE SCHEMA IF NOT EXISTS messaging;

-- Also created by scripts/migrate.sh before the first migration runs.
CREATE TABLE IF NOT EXISTS messaging.schema_migrations (
  version    text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- What every operation returns: the HTTP status and the complete JSON body
-- (success shape or {"error":{"code","message"}}), relayed as is by callers.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'messaging' AND t.typname = 'reply') THEN
    CREATE TYPE messaging.reply AS (status integer, body text);
  END IF;
END $$;
