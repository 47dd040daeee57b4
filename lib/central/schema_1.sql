-- The central store, schema version 1: every site's events in one table, kept by the
-- database itself. Only what PostgreSQL 15 and engines built on it (Citus) accept: plain
-- tables, B-tree indexes, row-level security, PL/pgSQL triggers.

-- Which role may write (or, with site '*', read) which site: the policies read this table.
CREATE TABLE audit_trail_grants (
  role text NOT NULL,
  site text NOT NULL CHECK (site = '*' OR site ~ '^[A-Za-z0-9._-]{1,64}$'),
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (role, site)
);

-- One row per site, kept by the trigger below as events arrive: where the site's chain ends
-- centrally. first_previous_seal is the seal before first_audit_id (32 zero bytes when the
-- site's chain starts with its first event).
CREATE TABLE audit_trail_sites (
  site text PRIMARY KEY CHECK (site ~ '^[A-Za-z0-9._-]{1,64}$'),
  last_audit_id bigint,
  last_seal bytea NOT NULL,
  first_sync_at timestamptz NOT NULL DEFAULT now(),
  last_sync_at timestamptz NOT NULL DEFAULT now(),
  hostname text,
  first_audit_id bigint,
  first_previous_seal bytea NOT NULL,
  events bigint NOT NULL DEFAULT 0
);

-- The events, exactly as each site sealed them. local_timestamp is the timestamp text as
-- stored locally (legacy `YYYY-MM-DD HH:MM:SS` included): the seal covers that text.
-- The columns a query filters on compare bytes (COLLATE "C"): they hold codes and names, not
-- prose, and every index insert and lookup then compares with memcmp instead of the
-- database's locale, which costs each insert about a tenth more per index.
CREATE TABLE audit_trail_events (
  site text COLLATE "C" NOT NULL,
  audit_id bigint NOT NULL,
  "timestamp" timestamptz,
  operation text COLLATE "C",
  sku text COLLATE "C",
  details text,
  "user" text COLLATE "C",
  run_id text COLLATE "C",
  seal bytea NOT NULL CHECK (octet_length(seal) = 32),
  received_at timestamptz NOT NULL DEFAULT now(),
  local_timestamp text,
  PRIMARY KEY (site, audit_id)
);

-- Indexes for `query --central`: every filter is an equality on one column or a time range,
-- and results come newest first by timestamp (then site, then audit_id). An index that starts
-- with the filtered column and continues with the timestamp hands rows over already in that
-- order, so a LIMIT stops after reading about that many entries, whatever the table's size.
-- The time index serves time ranges, the order of unfiltered queries, and --site (a site's
-- rows are a large share of the table; a small site is read through the primary key). NULL
-- SKUs and run ids are never searched for, so they are left out of their indexes. Each index
-- costs every insert: there is none that no filter needs.
CREATE INDEX audit_trail_events_time ON audit_trail_events ("timestamp", site, audit_id);
CREATE INDEX audit_trail_events_sku ON audit_trail_events (sku, "timestamp")
  WHERE sku IS NOT NULL;
CREATE INDEX audit_trail_events_operation ON audit_trail_events (operation, "timestamp");
CREATE INDEX audit_trail_events_run_id ON audit_trail_events (run_id, "timestamp")
  WHERE run_id IS NOT NULL;
CREATE INDEX audit_trail_events_user ON audit_trail_events ("user", "timestamp");

-- The canonical encoding of an event (lib/chain/encoding.ts): the UTF-8 bytes of the JSON
-- array [audit_id, timestamp, operation, sku, details, user, run_id] without spaces.
-- array_to_json() writes a text array without spaces and escapes each string exactly as
-- JSON.stringify() does (", \, \b \f \n \r \t, other control characters as lowercase
-- \u00XX), SQL NULL as null; one call per event costs a fifth of six to_json() calls.
CREATE FUNCTION audit_trail_encoding(
  audit_id bigint, local_timestamp text, operation text, sku text, details text,
  "user" text, run_id text
) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT convert_to(
    '[' || audit_id::text || ',' || substr(array_to_json(
      ARRAY[local_timestamp, operation, sku, details, "user", run_id])::text, 2),
    'UTF8')
$$;

-- The timestamp column must say what the sealed text says: `YYYY-MM-DDTHH:MM:SS.sssZ`, or
-- a legacy `YYYY-MM-DD HH:MM:SS` (UTC), or be NULL. Formatting the column (which cannot
-- fail) and comparing texts costs less than parsing the text. STABLE, as to_char() is: the
-- planner then inlines the body into the chain check (declared IMMUTABLE, it would be called
-- as a function for every event, four times the cost).
CREATE FUNCTION audit_trail_timestamp_matches(at timestamptz, sealed text)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT at IS NULL OR (
    date_trunc('milliseconds', at) = at
    AND sealed IN (to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')))
$$;

-- The chain check, once per INSERT statement over the rows it added: for each site, the new
-- events must come after the site's newest central event, and each must carry the seal of
-- its own fields and the seal before it, the first chaining from the site's last seal. Any
-- failure aborts the statement, so nothing at or after the failing event is stored. Then the
-- site's head moves, in the same transaction.
--
-- The costly part (a seal per event) needs nothing but the statement's own rows, so it runs
-- before the site's head is locked: batches sent at once over several connections check
-- side by side, and only the link of each batch's first event to the head, and the head's
-- move, take turns. A batch that arrives at the head before the one it follows finds that
-- its first event does not continue the head, and is refused whole: the sender sends it
-- again once the batches before it are in.
CREATE FUNCTION audit_trail_events_check() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  added_site record;
  head record;
  first_event record;
  bad_id bigint;
  after_batch text;
BEGIN
  FOR added_site IN
    SELECT site, min(audit_id) AS first_id, max(audit_id) AS last_id, count(*) AS n
    FROM added GROUP BY site ORDER BY site
  LOOP
    SELECT min(c.audit_id) INTO bad_id FROM (
      SELECT a.audit_id, a.seal, a."timestamp", a.local_timestamp,
             sha256(lag(a.seal) OVER (ORDER BY a.audit_id)
                    || audit_trail_encoding(a.audit_id, a.local_timestamp, a.operation, a.sku,
                                            a.details, a."user", a.run_id)) AS expected
      FROM added AS a WHERE a.site = added_site.site
    ) AS c
    WHERE c.expected <> c.seal
       OR NOT coalesce(audit_trail_timestamp_matches(c."timestamp", c.local_timestamp), false);
    after_batch := current_setting('audit_trail.after_batch', true);
    IF after_batch <> '' THEN
      PERFORM pg_advisory_xact_lock_shared(split_part(after_batch, ':', 1)::int,
                                           split_part(after_batch, ':', 2)::int);
    END IF;
    SELECT * INTO head FROM audit_trail_sites WHERE site = added_site.site FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO audit_trail_sites (site, last_seal, first_previous_seal, hostname)
      VALUES (added_site.site, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'),
              nullif(current_setting('audit_trail.hostname', true), ''))
      ON CONFLICT (site) DO NOTHING;
      SELECT * INTO head FROM audit_trail_sites WHERE site = added_site.site FOR UPDATE;
    END IF;
    IF added_site.first_id <= head.last_audit_id THEN
      RAISE EXCEPTION USING
        ERRCODE = 'AT001',
        MESSAGE = format('Event %s of site %s comes before the newest event the central store holds for it (%s)',
                         added_site.first_id, added_site.site, head.last_audit_id),
        DETAIL = format('audit_id=%s', added_site.first_id);
    END IF;
    SELECT a.seal, a.audit_id, a.local_timestamp, a.operation, a.sku, a.details, a."user", a.run_id
      INTO first_event
      FROM added AS a WHERE a.site = added_site.site AND a.audit_id = added_site.first_id;
    IF sha256(head.last_seal
              || audit_trail_encoding(first_event.audit_id, first_event.local_timestamp,
                                      first_event.operation, first_event.sku, first_event.details,
                                      first_event."user", first_event.run_id))
       <> first_event.seal THEN
      bad_id := added_site.first_id;
    END IF;
    IF bad_id IS NOT NULL THEN
      RAISE EXCEPTION USING
        ERRCODE = 'AT001',
        MESSAGE = format('Event %s of site %s does not continue the site''s chain in the central store: it differs from what was sealed, or events before it are missing',
                         bad_id, added_site.site),
        DETAIL = format('audit_id=%s', bad_id);
    END IF;
    UPDATE audit_trail_sites SET
      last_audit_id = added_site.last_id,
      last_seal = (SELECT a.seal FROM added AS a
                   WHERE a.site = added_site.site AND a.audit_id = added_site.last_id),
      first_audit_id = coalesce(first_audit_id, added_site.first_id),
      events = events + added_site.n,
      last_sync_at = now(),
      hostname = coalesce(nullif(current_setting('audit_trail.hostname', true), ''), hostname)
    WHERE site = added_site.site;
  END LOOP;
  RETURN NULL;
END
$$;

-- A site whose oldest events were archived before its first sync starts centrally after
-- them: its first event chains from the seal the site's archive checkpoint keeps, not from 32
-- zero bytes. Only for a site the caller may write (or the owner), and only once, before any
-- event of the site arrived.
CREATE FUNCTION audit_trail_start_site(p_site text, p_previous_audit_id bigint,
                                       p_previous_seal bytea)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF NOT (pg_has_role(session_user, (SELECT relowner FROM pg_class
                                     WHERE oid = 'audit_trail_events'::regclass), 'MEMBER')
          OR EXISTS (SELECT 1 FROM audit_trail_grants AS g
                     WHERE g.site = p_site AND g.role = session_user)) THEN
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
      MESSAGE = format('%s may not write site %s', session_user, p_site);
  END IF;
  IF octet_length(p_previous_seal) IS DISTINCT FROM 32 THEN
    RAISE EXCEPTION 'A seal is 32 bytes';
  END IF;
  INSERT INTO audit_trail_sites (site, last_audit_id, last_seal, first_previous_seal, hostname)
  VALUES (p_site, p_previous_audit_id, p_previous_seal, p_previous_seal,
          nullif(current_setting('audit_trail.hostname', true), ''))
  ON CONFLICT (site) DO NOTHING;
END
$$;

CREATE TRIGGER audit_trail_events_chain AFTER INSERT ON audit_trail_events
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_events_check();

-- Append-only, even for the owner: rows can be added, never changed or removed. (A superuser
-- can still disable triggers; `verify --central` recomputes every chain to catch that.)
CREATE FUNCTION audit_trail_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING
    ERRCODE = 'AT002',
    MESSAGE = format('%s is append-only: %s is not allowed', TG_TABLE_NAME, lower(TG_OP)),
    HINT = 'Audit events are evidence: record a correcting event at the site instead.';
END
$$;

CREATE TRIGGER audit_trail_events_no_update BEFORE UPDATE OR DELETE ON audit_trail_events
  FOR EACH ROW EXECUTE FUNCTION audit_trail_refuse_change();
CREATE TRIGGER audit_trail_events_no_truncate BEFORE TRUNCATE ON audit_trail_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_refuse_change();

-- A site's head moves only with its events (the chain check runs one trigger level down).
CREATE FUNCTION audit_trail_sites_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING
    ERRCODE = 'AT002',
    MESSAGE = format('audit_trail_sites is kept by the central store itself: %s is not allowed', lower(TG_OP));
END
$$;

CREATE TRIGGER audit_trail_sites_no_change BEFORE UPDATE OR DELETE ON audit_trail_sites
  FOR EACH ROW EXECUTE FUNCTION audit_trail_sites_guard();
CREATE TRIGGER audit_trail_sites_no_truncate BEFORE TRUNCATE ON audit_trail_sites
  FOR EACH STATEMENT EXECUTE FUNCTION audit_trail_sites_guard();

-- Row-level security: a site role reads and appends the rows of the sites granted to it; a
-- reader (site '*') reads every site. The owner (the administrator who ran `central init`)
-- is not subject to it. Grants are read through their own policy, so a role sees only its own.
ALTER TABLE audit_trail_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_trail_grants_own ON audit_trail_grants FOR SELECT
  USING (role = current_user);

ALTER TABLE audit_trail_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_trail_events_read ON audit_trail_events FOR SELECT
  USING ((SELECT bool_or(g.site = '*') FROM audit_trail_grants AS g WHERE g.role = current_user)
         OR site = ANY (ARRAY(SELECT g.site FROM audit_trail_grants AS g WHERE g.role = current_user)));
CREATE POLICY audit_trail_events_append ON audit_trail_events FOR INSERT
  WITH CHECK (site = ANY (ARRAY(SELECT g.site FROM audit_trail_grants AS g
                                WHERE g.role = current_user AND g.site <> '*')));

ALTER TABLE audit_trail_sites ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_trail_sites_read ON audit_trail_sites FOR SELECT
  USING ((SELECT bool_or(g.site = '*') FROM audit_trail_grants AS g WHERE g.role = current_user)
         OR site = ANY (ARRAY(SELECT g.site FROM audit_trail_grants AS g WHERE g.role = current_user)));

-- Nothing for anyone until `central grant`; the functions run only where the tool calls them.
REVOKE ALL ON audit_trail_grants, audit_trail_sites, audit_trail_events FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_trail_events_check() FROM PUBLIC;

-- A SECURITY DEFINER function must not find tables through the caller's search path (a site
-- role could shadow audit_trail_sites with a temporary table): pin it to this schema.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION audit_trail_events_check() SET search_path = %I, pg_temp',
                 current_schema());
  EXECUTE format('ALTER FUNCTION audit_trail_start_site(text, bigint, bytea) SET search_path = %I, pg_temp',
                 current_schema());
END
$$;
