-- The central store, schema version 2: a site's grant belongs to the role it was made to, not
-- to whichever role holds that name later. PostgreSQL keys its own privileges by the role's OID
-- (DROP ROLE refuses while any remain); version 1 keyed grants by name alone, so a role
-- dropped and created again under the same name (a new person, a new PC) read and appended to
-- the old role's sites. Each grant now also records the OID of the role it was made to, and the
-- policies and audit_trail_start_site() honour it only for that role under that name.

ALTER TABLE audit_trail_grants ADD COLUMN role_oid oid;

-- The grants of version 1 stay with the roles that hold their names at the upgrade. A grant
-- whose role no longer exists keeps no OID: it grants nothing, to a role of that name created
-- later too, until an administrator runs `central grant` again.
UPDATE audit_trail_grants AS g SET role_oid = r.oid FROM pg_roles AS r WHERE r.rolname = g.role;

-- A role's name as one word of a shell command line, for the hints below: as it is when it
-- holds nothing a shell would read, else in single quotes.
CREATE FUNCTION audit_trail_shell_word(word name) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN word ~ '^[A-Za-z0-9_.@%+=:,/-]+$' THEN word::text
              ELSE '''' || replace(word, '''', '''\''''') || '''' END
$$;

-- Refuses an event for a site the current role has no grant of (the append policy asks only
-- then, so at most once per statement). When a grant of that site names the role but was made
-- to another role of that name (dropped, or renamed, since), says so, and what the
-- administrator runs when this role is meant to write the site; otherwise the policy's own
-- refusal stands. `who` is the role asking: the caller's current_user (session_user inside a
-- SECURITY DEFINER function, whose current_user is the owner). A role reads only the grants
-- that name it (audit_trail_grants_own), so it learns nothing of other roles' grants.
CREATE FUNCTION audit_trail_refuse_stale_grant(p_site text, who name)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM audit_trail_grants AS g WHERE g.role = who AND g.site = p_site) THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = format('Role %s may not write site %s: the site was granted to an earlier role named %s, which was dropped or renamed since',
                       who, p_site, who),
      HINT = format('If this role is to write site %s, an administrator grants it again: audit-trail central grant %s --role %s',
                    p_site, p_site,
                    audit_trail_shell_word(who));
  END IF;
  RETURN false;
END
$$;

-- Refuses reading to a role whose every grant was made to an earlier role of its name: it may
-- read nothing, and an empty answer would pass for an empty store. A role with a grant of its
-- own reads its sites, the others' rows hidden as ever. The read policies ask only for a row
-- their grants do not cover, and once per statement (an initplan).
CREATE FUNCTION audit_trail_refuse_stale_reader() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
  stale text[];
BEGIN
  IF EXISTS (SELECT 1 FROM audit_trail_grants AS g
             WHERE g.role = current_user
               AND g.role_oid = (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = current_user)) THEN
    RETURN false;
  END IF;
  SELECT array_agg(g.site ORDER BY g.site) INTO stale FROM audit_trail_grants AS g
  WHERE g.role = current_user;
  IF stale IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'insufficient_privilege',
      MESSAGE = format('Role %s may not read %s: that was granted to an earlier role named %s, which was dropped or renamed since',
                       current_user,
                       CASE WHEN '*' = ANY (stale) THEN 'every site (as a reader)'
                            ELSE 'site ' || array_to_string(stale, ', ') END,
                       current_user),
      HINT = format('If this role is to read them, an administrator grants them again: audit-trail central grant %s --role %s',
                    CASE WHEN '*' = ANY (stale) THEN '--reader' ELSE stale[1] END,
                    audit_trail_shell_word(current_user));
  END IF;
  RETURN false;
END
$$;

-- The sites the current role may read ('*': every site), from the grants made to it: same
-- name and same OID.
CREATE FUNCTION audit_trail_readable_sites() RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(g.site), '{}') FROM audit_trail_grants AS g
  WHERE g.role = current_user
    AND g.role_oid = (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = current_user)
$$;

-- The current role's grants count only when made to it. Each subquery runs once per
-- statement (an initplan), whatever the number of rows.
ALTER POLICY audit_trail_events_read ON audit_trail_events
  USING ('*' = ANY ((SELECT audit_trail_readable_sites())::text[])
         OR site = ANY ((SELECT audit_trail_readable_sites())::text[])
         OR (SELECT audit_trail_refuse_stale_reader()));
ALTER POLICY audit_trail_events_append ON audit_trail_events
  WITH CHECK (site = ANY (ARRAY(SELECT g.site FROM audit_trail_grants AS g
                                WHERE g.role = current_user AND g.site <> '*'
                                  AND g.role_oid = (SELECT r.oid FROM pg_roles AS r
                                                    WHERE r.rolname = current_user)))
              OR audit_trail_refuse_stale_grant(site, current_user));
ALTER POLICY audit_trail_sites_read ON audit_trail_sites
  USING ('*' = ANY ((SELECT audit_trail_readable_sites())::text[])
         OR site = ANY ((SELECT audit_trail_readable_sites())::text[])
         OR (SELECT audit_trail_refuse_stale_reader()));

-- As in version 1, but a grant counts only for the role it was made to.
CREATE OR REPLACE FUNCTION audit_trail_start_site(p_site text, p_previous_audit_id bigint,
                                                  p_previous_seal bytea)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF NOT (pg_has_role(session_user, (SELECT relowner FROM pg_class
                                     WHERE oid = 'audit_trail_events'::regclass), 'MEMBER')
          OR EXISTS (SELECT 1 FROM audit_trail_grants AS g
                     WHERE g.site = p_site AND g.role = session_user
                       AND g.role_oid = (SELECT r.oid FROM pg_roles AS r
                                         WHERE r.rolname = session_user))
          OR audit_trail_refuse_stale_grant(p_site, session_user)) THEN
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

-- As for the other functions: tables are found in this schema only, never through the
-- caller's search path (a temporary table could otherwise stand in for audit_trail_grants).
-- CREATE OR REPLACE dropped audit_trail_start_site()'s setting: pin it again.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION audit_trail_refuse_stale_grant(text, name) SET search_path = %I, pg_temp',
                 current_schema());
  EXECUTE format('ALTER FUNCTION audit_trail_refuse_stale_reader() SET search_path = %I, pg_temp',
                 current_schema());
  EXECUTE format('ALTER FUNCTION audit_trail_readable_sites() SET search_path = %I, pg_temp',
                 current_schema());
  EXECUTE format('ALTER FUNCTION audit_trail_start_site(text, bigint, bytea) SET search_path = %I, pg_temp',
                 current_schema());
END
$$;
