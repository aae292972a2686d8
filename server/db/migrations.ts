// Numbered migrations, the same SQL on PostgreSQL and PGlite. Applied in order inside one
// transaction each, under an advisory lock so hub instances starting together do not race.
// A database migrated by a newer hub is refused (the hub would not understand it).
import { REPORT_STATES, ROLES as LIFECYCLE_ROLES, SIGNATURE_MEANINGS, SIGNED_STATES, TRANSITIONS, type ReportState } from '../../common/lifecycle.ts';
import type { HubDb } from './adapter.ts';
import { DEMO_USERS } from '../demo.ts';
import { ALERT_CATEGORIES } from '../../common/report.ts';
import { auditHashSql } from '../audit.ts';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

// Frozen with migration 1 as shipped (a shipped migration's text never changes). Migrations from
// 3 on generate their lists from common/lifecycle.ts (`sqlList` below).
const ROLES = "'radiologist','radiographer','locum','trainee','trainer','referrer','safety-lead'";

/** A SQL string literal. Only ever applied to constants of common/lifecycle.ts. */
const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
/** A SQL list of string literals, for CHECK (x IN (…)). */
const sqlList = (values: readonly string[]): string => values.map(lit).join(', ');

/**
 * How a stored signed report may move: (from, to, the meaning of the signature that makes the
 * move), for each transition that starts from a signed state and changes it.
 */
const signedStateMoves = (): string =>
  Object.values(TRANSITIONS)
    .flatMap((t) => (t.from as readonly ReportState[]).filter((f) => SIGNED_STATES.includes(f) && f !== t.to && t.meaning !== null)
      .map((f) => `(${lit(f)}, ${lit(t.to)}, ${lit(t.meaning!)})`))
    .join(', ');

/** Rejects UPDATE, DELETE and TRUNCATE on a table: signed records and audit rows never change. */
const immutable = (table: string, what: string): string => `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE OR DELETE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION failsafe_reject_change('${what}');
CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION failsafe_reject_change('${what}');
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'users, sessions, signed reports, addenda, idempotency, drafts, audit, events',
    sql: `
CREATE FUNCTION failsafe_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'failsafe: % is immutable (% refused)', TG_ARGV[0], TG_OP USING ERRCODE = 'raise_exception';
END $$;

CREATE TABLE users (
  id bigserial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN (${ROLES})),
  registration text NOT NULL,
  password_hash text NOT NULL,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  token_hash text PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  ended_at timestamptz,
  ended_reason text
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE idempotency (
  key text PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id),
  request_hash text NOT NULL,
  status integer NOT NULL,
  -- The exact JSON text of the first answer: a replay is byte-identical.
  response text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE signed_reports (
  id text PRIMARY KEY,
  patient_id text NOT NULL,
  study_uid text NOT NULL,
  content jsonb NOT NULL,
  signer_name text NOT NULL,
  signer_role text NOT NULL,
  signer_registration text NOT NULL,
  signed_at text NOT NULL,
  content_hash text NOT NULL,
  author text NOT NULL,
  created_at text NOT NULL,
  stored_at timestamptz NOT NULL,
  stored_by bigint NOT NULL REFERENCES users(id),
  idempotency_key text NOT NULL
);
CREATE INDEX signed_reports_study ON signed_reports (study_uid);
${immutable('signed_reports', 'a signed report')}

CREATE TABLE addenda (
  id text PRIMARY KEY,
  report_id text NOT NULL REFERENCES signed_reports(id),
  original_hash text NOT NULL,
  text text NOT NULL,
  signer_name text NOT NULL,
  signer_role text NOT NULL,
  signer_registration text NOT NULL,
  signed_at text NOT NULL,
  content_hash text NOT NULL,
  stored_at timestamptz NOT NULL,
  stored_by bigint NOT NULL REFERENCES users(id),
  idempotency_key text NOT NULL
);
CREATE INDEX addenda_report ON addenda (report_id);
${immutable('addenda', 'a signed addendum')}

CREATE TABLE drafts (
  report_id text PRIMARY KEY,
  patient_id text NOT NULL,
  study_uid text NOT NULL,
  content jsonb NOT NULL,
  revision integer NOT NULL,
  owner_id bigint NOT NULL REFERENCES users(id),
  session_hash text,
  created_at timestamptz NOT NULL,
  last_activity timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  closed boolean NOT NULL DEFAULT false,
  signed_at timestamptz
);
CREATE INDEX drafts_unfinished ON drafts (last_activity) WHERE signed_at IS NULL;

CREATE TABLE draft_revisions (
  report_id text NOT NULL REFERENCES drafts(report_id),
  revision integer NOT NULL,
  author_id bigint NOT NULL REFERENCES users(id),
  content jsonb NOT NULL,
  saved_at timestamptz NOT NULL,
  last_activity timestamptz NOT NULL,
  PRIMARY KEY (report_id, revision)
);
${immutable('draft_revisions', 'a draft revision')}

-- Snapshots refused because the draft had been taken over: kept so no typed text is lost.
CREATE TABLE late_snapshots (
  id bigserial PRIMARY KEY,
  report_id text NOT NULL REFERENCES drafts(report_id),
  author_id bigint NOT NULL REFERENCES users(id),
  revision integer NOT NULL,
  content jsonb NOT NULL,
  received_at timestamptz NOT NULL
);
${immutable('late_snapshots', 'a late snapshot')}

CREATE TABLE audit (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  actor_id bigint REFERENCES users(id),
  action text NOT NULL,
  report_id text,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_report ON audit (report_id, seq);
${immutable('audit', 'the audit trail')}

CREATE TABLE events (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  type text NOT NULL,
  report_id text NOT NULL,
  body jsonb NOT NULL
);
`,
  },
  {
    id: 2,
    name: 'ingest fast path: signed reports stored in batches, one round trip per batch',
    // The common case (a new report, a new key, no take-over) for a batch of reports in one
    // statement and one commit: the hub groups concurrent deliveries (ingest.ts), so N reports
    // cost one round trip and one WAL flush. Items that are not the common case write nothing
    // (their claim is undone) and the hub answers them on its general path.
    sql: `
CREATE FUNCTION failsafe_ingest_report(it jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_owner bigint;
  v_key text := it->>'key';
  v_id text := it->>'id';
  v_user bigint := (it->>'userId')::bigint;
  v_at timestamptz := (it->>'at')::timestamptz;
BEGIN
  INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at)
    VALUES (v_key, v_user, it->>'requestHash', 201, it->>'response', v_at)
    ON CONFLICT (key) DO NOTHING;
  IF NOT FOUND THEN RETURN 'key-exists'; END IF;
  SELECT owner_id INTO v_owner FROM drafts WHERE report_id = v_id FOR UPDATE;
  IF FOUND AND v_owner <> v_user THEN
    DELETE FROM idempotency WHERE key = v_key;
    RETURN 'taken-over';
  END IF;
  INSERT INTO signed_reports (id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at,
      content_hash, author, created_at, stored_at, stored_by, idempotency_key)
    VALUES (v_id, it->>'patientId', it->>'studyUid', it->'content', it->>'signerName', it->>'signerRole', it->>'signerRegistration',
      it->>'signedAt', it->>'contentHash', it->>'author', it->>'createdAt', v_at, v_user, v_key)
    ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    DELETE FROM idempotency WHERE key = v_key;
    RETURN 'report-exists';
  END IF;
  INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES (v_at, v_user, 'ingest-report', v_id, it->'audit');
  INSERT INTO events (at, type, report_id, body) VALUES (v_at, 'report-signed', v_id, it->'event');
  UPDATE drafts SET signed_at = v_at, updated_at = v_at WHERE report_id = v_id AND signed_at IS NULL;
  IF FOUND THEN
    INSERT INTO events (at, type, report_id, body) VALUES (v_at, 'unfinished-changed', v_id, it->'unfinishedEvent');
  END IF;
  RETURN 'stored';
END $$;

-- One outcome per item, in the items' order.
CREATE FUNCTION failsafe_ingest_reports(items jsonb) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) LOOP
    RETURN NEXT failsafe_ingest_report(it);
  END LOOP;
END $$;
`,
  },
  {
    id: 3,
    name: 'report life cycle: state, exam details, signature records (existing signatures moved in, hashes intact); one ingest path',
    // Lists come from common/lifecycle.ts. A signed report's row stays immutable except for its
    // state, which may only move along the life cycle (provisional → final → appended); every
    // signature is a row of its own in `signatures`, never changed or removed.
    sql: `
ALTER TABLE signed_reports
  ADD COLUMN state text NOT NULL DEFAULT ${lit(TRANSITIONS['sign-final'].to)} CHECK (state IN (${sqlList(REPORT_STATES)})),
  ADD COLUMN exam jsonb,
  ADD COLUMN accession text,
  ADD COLUMN referring_physician text,
  ADD COLUMN requesting_service text,
  ADD COLUMN modality text,
  ADD COLUMN study_date text,
  ADD COLUMN requester_unknown boolean NOT NULL DEFAULT true;
CREATE INDEX signed_reports_accession ON signed_reports (accession);
CREATE INDEX signed_reports_referrer ON signed_reports (referring_physician);
CREATE INDEX signed_reports_service ON signed_reports (requesting_service);
CREATE INDEX signed_reports_modality_date ON signed_reports (modality, study_date);
CREATE INDEX signed_reports_requester_unknown ON signed_reports (stored_at) WHERE requester_unknown;

-- Only the state of a signed report may change: forward along the life cycle, and only once the
-- signature that makes the move (a verification, an addendum) is stored.
CREATE FUNCTION failsafe_signed_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR (to_jsonb(NEW) - 'state') IS DISTINCT FROM (to_jsonb(OLD) - 'state') THEN
    RAISE EXCEPTION 'failsafe: a signed report is immutable (% refused)', TG_OP USING ERRCODE = 'raise_exception';
  END IF;
  IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
      SELECT 1 FROM signatures s WHERE s.report_id = NEW.id AND (OLD.state, NEW.state, s.meaning) IN (${signedStateMoves()})) THEN
    RAISE EXCEPTION 'failsafe: a signed report cannot move from % to % without the signature that makes that move', OLD.state, NEW.state
      USING ERRCODE = 'raise_exception';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER signed_reports_no_update ON signed_reports;
CREATE TRIGGER signed_reports_state_only BEFORE UPDATE OR DELETE ON signed_reports
  FOR EACH ROW EXECUTE FUNCTION failsafe_signed_report_change();

CREATE TABLE signatures (
  seq bigserial UNIQUE,
  id text PRIMARY KEY,
  report_id text NOT NULL REFERENCES signed_reports(id),
  meaning text NOT NULL CHECK (meaning IN (${sqlList(SIGNATURE_MEANINGS)})),
  signer_id bigint NOT NULL REFERENCES users(id),
  signer_name text NOT NULL,
  signer_role text NOT NULL CHECK (signer_role IN (${sqlList(LIFECYCLE_ROLES)})),
  signer_registration text NOT NULL,
  signed_at text NOT NULL,
  content_hash text NOT NULL,
  addendum_id text REFERENCES addenda(id),
  -- A verification's hashed payload names the provisional signature it verifies.
  verifies_hash text,
  stored_at timestamptz NOT NULL,
  CHECK ((meaning = ${lit(TRANSITIONS.addendum.meaning)}) = (addendum_id IS NOT NULL)),
  CHECK ((meaning = ${lit(TRANSITIONS.verify.meaning)}) = (verifies_hash IS NOT NULL))
);
CREATE INDEX signatures_report ON signatures (report_id, seq);
-- One first signature (provisional or final) and at most one verification per report.
CREATE UNIQUE INDEX signatures_one_first ON signatures (report_id)
  WHERE meaning IN (${lit(TRANSITIONS['sign-provisional'].meaning)}, ${lit(TRANSITIONS['sign-final'].meaning)});
CREATE UNIQUE INDEX signatures_one_verification ON signatures (report_id) WHERE meaning = ${lit(TRANSITIONS.verify.meaning)};
${immutable('signatures', 'a signature record')}

-- Every signature made before this migration, moved in with its hash as stored.
INSERT INTO signatures (id, report_id, meaning, signer_id, signer_name, signer_role, signer_registration, signed_at, content_hash, stored_at)
  SELECT gen_random_uuid()::text, id, ${lit(TRANSITIONS['sign-final'].meaning)}, stored_by, signer_name, signer_role, signer_registration, signed_at, content_hash, stored_at
    FROM signed_reports ORDER BY stored_at, id;
INSERT INTO signatures (id, report_id, meaning, signer_id, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id, stored_at)
  SELECT gen_random_uuid()::text, report_id, ${lit(TRANSITIONS.addendum.meaning)}, stored_by, signer_name, signer_role, signer_registration, signed_at, content_hash, id, stored_at
    FROM addenda ORDER BY stored_at, id;
UPDATE signed_reports r SET state = ${lit(TRANSITIONS.addendum.to)} WHERE EXISTS (SELECT 1 FROM addenda a WHERE a.report_id = r.id);

-- Ingest is written once, in server/ingest.ts: the batched plpgsql path of migration 2 goes.
DROP FUNCTION failsafe_ingest_reports(jsonb);
DROP FUNCTION failsafe_ingest_report(jsonb);
`,
  },
  {
    id: 4,
    name: 'one signed report per study: study keys (study UID; patient ID + accession) held by the first report; drafts found by study',
    // Keys as server/ingest.ts studyReportKeys writes them: 'uid:<study UID>' and, when the exam
    // has an accession, 'acc:<patient ID>|<accession>' (two studies of one patient sharing an
    // accession are one exam). A key, once held, never moves: a later report for the study is
    // refused and must be an addendum. Reports stored twice before this migration stay as they
    // are; the first of them holds the keys.
    sql: `
CREATE TABLE study_reports (
  study_key text PRIMARY KEY,
  report_id text NOT NULL REFERENCES signed_reports(id),
  stored_at timestamptz NOT NULL
);
CREATE INDEX study_reports_report ON study_reports (report_id);
INSERT INTO study_reports (study_key, report_id, stored_at)
  SELECT k, id, stored_at FROM (
      SELECT 'uid:' || study_uid AS k, id, stored_at FROM signed_reports
      UNION ALL
      SELECT 'acc:' || patient_id || '|' || btrim(accession), id, stored_at FROM signed_reports WHERE btrim(coalesce(accession, '')) <> ''
    ) keys
   ORDER BY stored_at, id
  ON CONFLICT (study_key) DO NOTHING;
${immutable('study_reports', 'the report that holds a study')}
CREATE INDEX drafts_study ON drafts (study_uid);
`,
  },
  {
    id: 5,
    name: 'failed logins under names no account has: counted and locked like an account, so the answer never tells which names exist',
    sql: `
CREATE TABLE login_failures (
  username text PRIMARY KEY,
  failed_logins integer NOT NULL,
  locked_until timestamptz,
  last_failure_at timestamptz NOT NULL
);
CREATE INDEX login_failures_age ON login_failures (last_failure_at);
`,
  },
  {
    id: 6,
    name: 'demo accounts marked: they exist only while the embedded hub runs in demo mode, disabled otherwise',
    // The accounts server/demo.ts creates (published password) are marked, those made before this
    // migration by their username and registration together; a hub started out of demo mode
    // disables every marked account (server/hub.ts startEmbeddedHub).
    sql: `
ALTER TABLE users ADD COLUMN demo boolean NOT NULL DEFAULT false;
UPDATE users SET demo = true WHERE (username, registration) IN (${DEMO_USERS.map((u) => `(${lit(u.username)}, ${lit(u.registration)})`).join(', ')});
`,
  },
  {
    id: 7,
    name: 'alerts: one per alert-coded report, created in the statement that stores the report (issue 9 line 1)',
    // What the alert is about and when it is due, fixed when the report is stored: the category,
    // the finding text, the patient and exam, the requester (unknown flagged), the timed
    // escalation ladder from the site policy (common/alertDeadline.ts) and, for a critical
    // finding, the verbal-communication record. Routing to teams and acknowledgement come later.
    sql: `
CREATE TABLE alerts (
  report_id text PRIMARY KEY REFERENCES signed_reports(id),
  category text NOT NULL CHECK (category IN (${sqlList(ALERT_CATEGORIES.filter((c) => c !== 'none'))})),
  finding text NOT NULL,
  patient_id text NOT NULL,
  study_uid text NOT NULL,
  accession text,
  requester text,
  requesting_service text,
  requester_unknown boolean NOT NULL,
  signed_at text NOT NULL,
  created_at timestamptz NOT NULL,
  due_by timestamptz,
  ladder jsonb NOT NULL,
  verbal jsonb,
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open'))
);
CREATE INDEX alerts_open_due ON alerts (due_by) WHERE state = 'open';
`,
  },
  {
    id: 8,
    name: 'alert routing (site directory, teams, duties), acknowledgement, escalation state, timeline and notification queue (issue 9)',
    // Routing happens in the statement that stores the alert (a BEFORE INSERT trigger on alerts),
    // so an alert is never stored unrouted: its requester (Referring Physician Name as written in
    // DICOM, else the requesting service) is looked up in the site directory; unknown or not in
    // the directory, it goes to the duty radiologist with the reason kept on the alert. The
    // recipients of each rung are resolved by one SQL function, used when the alert is created
    // (its first notifications), by the escalation scheduler and by the acknowledgement check.
    sql: `
ALTER TABLE users ADD COLUMN email text;

CREATE TABLE teams (
  id text PRIMARY KEY,
  name text NOT NULL,
  consultant_id bigint REFERENCES users(id)
);
CREATE TABLE team_members (
  team_id text NOT NULL REFERENCES teams(id),
  user_id bigint NOT NULL REFERENCES users(id),
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- How a requester is written differs between systems ("SMITH^JOHN^^DR", "Smith John Dr"): the key
-- is case-folded, with DICOM's ^ and runs of spaces as one space, trimmed.
CREATE FUNCTION failsafe_requester_key(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT NULLIF(btrim(regexp_replace(lower(coalesce(s, '')), '[\\s^=]+', ' ', 'g')), '')
$$;

CREATE TABLE directory_requesters (
  kind text NOT NULL CHECK (kind IN ('name', 'service')),
  written text NOT NULL,
  key text NOT NULL,
  team_id text NOT NULL REFERENCES teams(id),
  PRIMARY KEY (kind, key)
);

CREATE TABLE site_duties (
  duty text NOT NULL CHECK (duty IN ('duty-radiologist', 'cancer-pathway-lead', 'imaging-safety-lead')),
  user_id bigint NOT NULL REFERENCES users(id),
  PRIMARY KEY (duty, user_id)
);

ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
ALTER TABLE alerts
  ADD CONSTRAINT alerts_state_check CHECK (state IN ('open', 'acknowledged')),
  ADD COLUMN team_id text REFERENCES teams(id),
  ADD COLUMN routing_reason text,
  ADD COLUMN rung integer NOT NULL DEFAULT 0,
  ADD COLUMN next_due timestamptz,
  ADD COLUMN acknowledged_at timestamptz,
  ADD COLUMN acknowledged_by bigint REFERENCES users(id),
  ADD COLUMN action_plan text,
  ADD CONSTRAINT alerts_acknowledged CHECK ((state = 'acknowledged') = (acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL AND action_plan IS NOT NULL));
DROP INDEX alerts_open_due;
-- The scheduler's pass: open alerts whose current rung is due.
CREATE INDEX alerts_open_next_due ON alerts (next_due) WHERE state = 'open';
CREATE INDEX alerts_team ON alerts (team_id, state);
UPDATE alerts SET next_due = due_by;

CREATE TABLE alert_events (
  seq bigserial PRIMARY KEY,
  report_id text NOT NULL REFERENCES alerts(report_id),
  at timestamptz NOT NULL,
  type text NOT NULL CHECK (type IN ('created', 'routed', 'unrouted', 'notified', 'notify-failed', 'opened', 'acknowledged', 'escalated', 'phone-call')),
  actor_id bigint REFERENCES users(id),
  rung integer,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX alert_events_report ON alert_events (report_id, seq);
${immutable('alert_events', 'the timeline of an alert')}

-- Every timeline entry is also a pushed event (alert-changed), in the same transaction: referrer
-- pages and workstations learn of it within a second, on every hub instance.
CREATE FUNCTION failsafe_alert_event_pushed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (at, type, report_id, body)
    SELECT NEW.at, 'alert-changed', NEW.report_id, jsonb_build_object(
      'type', 'alert-changed', 'at', to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'reportId', NEW.report_id,
      'change', NEW.type, 'rung', a.rung, 'state', a.state, 'teamId', a.team_id)
      FROM alerts a WHERE a.report_id = NEW.report_id;
  RETURN NULL;
END $$;
CREATE TRIGGER alert_events_pushed AFTER INSERT ON alert_events FOR EACH ROW EXECUTE FUNCTION failsafe_alert_event_pushed();

-- Phone calls recorded on a workstation, synced: once per workstation record id.
CREATE TABLE alert_phone_calls (
  report_id text NOT NULL REFERENCES alerts(report_id),
  id text NOT NULL,
  clinician text NOT NULL,
  role text NOT NULL,
  time text NOT NULL,
  note text NOT NULL,
  recorded_by text NOT NULL,
  recorded_at text NOT NULL,
  stored_at timestamptz NOT NULL,
  stored_by bigint NOT NULL REFERENCES users(id),
  PRIMARY KEY (report_id, id)
);
${immutable('alert_phone_calls', 'a phone call record')}

-- Notifications to send: one per person and channel per rung reached. Claimed by one sender at a
-- time (FOR UPDATE SKIP LOCKED), retried with backoff; every outcome is on the alert's timeline.
CREATE TABLE notifications (
  id bigserial PRIMARY KEY,
  report_id text NOT NULL REFERENCES alerts(report_id),
  rung integer NOT NULL,
  user_id bigint NOT NULL REFERENCES users(id),
  channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz,
  UNIQUE (report_id, rung, user_id, channel)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';

-- Who is responsible for rung p_rung of an alert: the team (rung 'requester'), the team's
-- consultant, or the holders of a site duty. Where a team-based rung has no team (unrouted) or no
-- consultant, the duty radiologist; where nobody holds the duty, the imaging safety lead; where
-- nobody holds that either, every active safety-lead account. Never nobody while such an account exists.
CREATE FUNCTION failsafe_rung_recipients(p_report_id text, p_rung integer) RETURNS TABLE (user_id bigint) LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_to text;
  v_team text;
  v_hit boolean := false;
BEGIN
  SELECT a.ladder -> p_rung ->> 'to', a.team_id INTO v_to, v_team FROM alerts a WHERE a.report_id = p_report_id;
  IF v_to IS NULL THEN RETURN; END IF;
  IF v_to = 'requester' AND v_team IS NOT NULL THEN
    RETURN QUERY SELECT m.user_id FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = v_team AND NOT u.disabled
      UNION SELECT t.consultant_id FROM teams t JOIN users u ON u.id = t.consultant_id WHERE t.id = v_team AND NOT u.disabled;
    v_hit := FOUND;
  ELSIF v_to = 'requester-consultant' AND v_team IS NOT NULL THEN
    RETURN QUERY SELECT t.consultant_id FROM teams t JOIN users u ON u.id = t.consultant_id WHERE t.id = v_team AND NOT u.disabled;
    v_hit := FOUND;
  ELSIF v_to IN ('duty-radiologist', 'cancer-pathway-lead', 'imaging-safety-lead') THEN
    RETURN QUERY SELECT d.user_id FROM site_duties d JOIN users u ON u.id = d.user_id WHERE d.duty = v_to AND NOT u.disabled;
    v_hit := FOUND;
  END IF;
  IF v_hit THEN RETURN; END IF;
  IF v_to IN ('requester', 'requester-consultant') THEN
    RETURN QUERY SELECT d.user_id FROM site_duties d JOIN users u ON u.id = d.user_id WHERE d.duty = 'duty-radiologist' AND NOT u.disabled;
    IF FOUND THEN RETURN; END IF;
  END IF;
  RETURN QUERY SELECT d.user_id FROM site_duties d JOIN users u ON u.id = d.user_id WHERE d.duty = 'imaging-safety-lead' AND NOT u.disabled;
  IF FOUND THEN RETURN; END IF;
  RETURN QUERY SELECT u.id FROM users u WHERE u.role = 'safety-lead' AND NOT u.disabled;
END $$;

-- Queues the notifications of a rung reached (each recipient: e-mail when an address is on file,
-- and the site webhook), and records on the timeline when nobody can be notified.
CREATE FUNCTION failsafe_notify_rung(p_report_id text, p_rung integer, p_at timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  v_ids bigint[];
  v_n integer;
BEGIN
  -- The recipients once (the escalation scheduler calls this for every alert it moves).
  SELECT array_agg(r.user_id) INTO v_ids FROM failsafe_rung_recipients(p_report_id, p_rung) r;
  IF v_ids IS NULL THEN
    INSERT INTO alert_events (report_id, at, type, rung, detail)
      VALUES (p_report_id, p_at, 'notify-failed', p_rung, jsonb_build_object('error', 'nobody holds this duty in the site directory, and no account is an imaging safety lead'));
    RETURN 0;
  END IF;
  INSERT INTO notifications (report_id, rung, user_id, channel, next_attempt_at, created_at)
    SELECT p_report_id, p_rung, u.id, c.channel, p_at, p_at
      FROM users u
      CROSS JOIN (VALUES ('email'), ('webhook')) AS c(channel)
     WHERE u.id = ANY (v_ids) AND (c.channel = 'webhook' OR u.email IS NOT NULL)
    ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

CREATE FUNCTION failsafe_route_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.team_id := (SELECT d.team_id FROM directory_requesters d WHERE d.kind = 'name' AND d.key = failsafe_requester_key(NEW.requester));
  IF NEW.team_id IS NULL THEN
    NEW.team_id := (SELECT d.team_id FROM directory_requesters d WHERE d.kind = 'service' AND d.key = failsafe_requester_key(NEW.requesting_service));
  END IF;
  IF NEW.team_id IS NULL THEN
    NEW.routing_reason := CASE
      WHEN failsafe_requester_key(NEW.requester) IS NULL AND failsafe_requester_key(NEW.requesting_service) IS NULL
        THEN 'Requester unknown: the study names no referring physician and no requesting service.'
      ELSE format('Requester not in the site directory: %s.', concat_ws(', ',
        CASE WHEN failsafe_requester_key(NEW.requester) IS NOT NULL THEN format('referring physician "%s"', left(NEW.requester, 120)) END,
        CASE WHEN failsafe_requester_key(NEW.requesting_service) IS NOT NULL THEN format('requesting service "%s"', left(NEW.requesting_service, 120)) END))
    END;
  END IF;
  NEW.rung := 0;
  NEW.next_due := NEW.due_by;
  RETURN NEW;
END $$;
CREATE TRIGGER alerts_route BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION failsafe_route_alert();

CREATE FUNCTION failsafe_alert_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alert_events (report_id, at, type, rung, detail) VALUES (NEW.report_id, NEW.created_at, 'created', 0, jsonb_build_object('dueBy', NEW.due_by));
  IF NEW.team_id IS NOT NULL THEN
    INSERT INTO alert_events (report_id, at, type, rung, detail)
      SELECT NEW.report_id, NEW.created_at, 'routed', 0, jsonb_build_object('team', t.id, 'teamName', t.name) FROM teams t WHERE t.id = NEW.team_id;
  ELSE
    INSERT INTO alert_events (report_id, at, type, rung, detail) VALUES (NEW.report_id, NEW.created_at, 'unrouted', 0, jsonb_build_object('reason', NEW.routing_reason));
  END IF;
  PERFORM failsafe_notify_rung(NEW.report_id, 0, NEW.created_at);
  RETURN NULL;
END $$;
CREATE TRIGGER alerts_created AFTER INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION failsafe_alert_created();

-- An alert's facts never change; only its rung (forward), its next deadline and, once, its acknowledgement.
CREATE FUNCTION failsafe_alert_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' THEN
    RAISE EXCEPTION 'failsafe: an alert is never removed (% refused)', TG_OP USING ERRCODE = 'raise_exception';
  END IF;
  IF (NEW.report_id, NEW.category, NEW.finding, NEW.patient_id, NEW.study_uid, NEW.accession, NEW.requester, NEW.requesting_service,
      NEW.requester_unknown, NEW.signed_at, NEW.created_at, NEW.due_by, NEW.ladder, NEW.verbal, NEW.team_id, NEW.routing_reason)
     IS DISTINCT FROM
     (OLD.report_id, OLD.category, OLD.finding, OLD.patient_id, OLD.study_uid, OLD.accession, OLD.requester, OLD.requesting_service,
      OLD.requester_unknown, OLD.signed_at, OLD.created_at, OLD.due_by, OLD.ladder, OLD.verbal, OLD.team_id, OLD.routing_reason) THEN
    RAISE EXCEPTION 'failsafe: what an alert says and where it was routed never change' USING ERRCODE = 'raise_exception';
  END IF;
  IF NEW.rung < OLD.rung THEN
    RAISE EXCEPTION 'failsafe: an alert never de-escalates' USING ERRCODE = 'raise_exception';
  END IF;
  IF OLD.state = 'acknowledged' AND (NEW.state, NEW.acknowledged_at, NEW.acknowledged_by, NEW.action_plan, NEW.rung)
     IS DISTINCT FROM (OLD.state, OLD.acknowledged_at, OLD.acknowledged_by, OLD.action_plan, OLD.rung) THEN
    RAISE EXCEPTION 'failsafe: an acknowledged alert never changes' USING ERRCODE = 'raise_exception';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER alerts_no_change BEFORE UPDATE OR DELETE ON alerts FOR EACH ROW EXECUTE FUNCTION failsafe_alert_change();
CREATE TRIGGER alerts_no_truncate BEFORE TRUNCATE ON alerts FOR EACH STATEMENT EXECUTE FUNCTION failsafe_reject_change('an alert');
`,
  },
  {
    id: 9,
    name: 'audit chain: every audit row holds its predecessor\'s hash, sealed after commit in sealing order (issue 9 line 8)',
    // Writers insert audit rows unsealed (chain_pos, prev_hash, hash NULL) and take no lock, so
    // every writer (auth, drafts, ingest's set-based statement, migration 2's function) is covered
    // unchanged and none waits for another's commit. failsafe_seal_audit() chains the committed
    // unsealed rows in seq order from the one-row audit_chain_head, which it holds FOR UPDATE
    // SKIP LOCKED (one sealer at a time; another returns at once). A row of a transaction still
    // in flight is not visible to it and is sealed by a later pass, after the rows sealed before
    // it: chain order is sealing order, not seq order. The hub runs it every second
    // (server/audit.ts startAuditSealer) and verify-audit runs it before verifying. The head also
    // tells rows removed at the end (server/audit.ts verifyAuditChain). Existing rows are chained
    // in seq order here.
    //
    // The audit trail's no-update trigger now lets exactly one UPDATE through: sealing (an unsealed
    // row given all three chain columns, nothing else changed) while failsafe.sealing is 'on', which
    // only the seal function sets, for its own run; the head's guard likewise. Anyone may set that
    // setting by hand: it guards against accidental writes, not malicious ones. A row chained by
    // hand is caught by the chain itself (its hash, its link, or the head).
    sql: `
ALTER TABLE audit ADD COLUMN chain_pos bigint, ADD COLUMN prev_hash text, ADD COLUMN hash text;
CREATE TABLE audit_chain_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  pos bigint NOT NULL,
  hash text NOT NULL
);

DROP TRIGGER audit_no_update ON audit;
DO $$
DECLARE
  r audit%ROWTYPE;
  p bigint := 0;
  h text := repeat('0', 64);
BEGIN
  FOR r IN SELECT * FROM audit ORDER BY seq LOOP
    p := p + 1;
    r.chain_pos := p;
    r.prev_hash := h;
    h := ${auditHashSql('r')};
    UPDATE audit SET chain_pos = p, prev_hash = r.prev_hash, hash = h WHERE seq = r.seq;
  END LOOP;
  INSERT INTO audit_chain_head (pos, hash) VALUES (p, h);
END $$;
ALTER TABLE audit ADD CONSTRAINT audit_sealed_whole CHECK (
  (chain_pos IS NULL AND prev_hash IS NULL AND hash IS NULL) OR (chain_pos IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL));
CREATE UNIQUE INDEX audit_chain_pos ON audit (chain_pos);
CREATE INDEX audit_unsealed ON audit (seq) WHERE chain_pos IS NULL;

-- A writer never chains its own row: only the sealer does.
CREATE FUNCTION failsafe_audit_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.chain_pos IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
    RAISE EXCEPTION 'failsafe: an audit row is written unsealed; only the sealer chains it (chain columns given)' USING ERRCODE = 'raise_exception';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION failsafe_audit_unsealed();

-- Immutable, but for sealing (see above: the setting guards against accidents only).
CREATE FUNCTION failsafe_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('failsafe.sealing', true) = 'on'
     AND OLD.chain_pos IS NULL AND NEW.chain_pos IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
     AND to_jsonb(NEW) - 'chain_pos' - 'prev_hash' - 'hash' = to_jsonb(OLD) - 'chain_pos' - 'prev_hash' - 'hash' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'failsafe: the audit trail is immutable (% refused)', TG_OP USING ERRCODE = 'raise_exception';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION failsafe_audit_change();

CREATE FUNCTION failsafe_seal_audit(p_max integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  head audit_chain_head%ROWTYPE;
  r audit%ROWTYPE;
  n integer := 0;
BEGIN
  SELECT * INTO head FROM audit_chain_head FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN 0; -- another sealer holds the head (or it is missing, which verify-audit reports)
  END IF;
  PERFORM set_config('failsafe.sealing', 'on', true);
  -- Committed rows only: a row still in flight is sealed by a later pass, after these.
  FOR r IN SELECT * FROM audit WHERE chain_pos IS NULL ORDER BY seq LIMIT p_max LOOP
    r.chain_pos := head.pos + 1;
    r.prev_hash := head.hash;
    r.hash := ${auditHashSql('r')};
    UPDATE audit SET chain_pos = r.chain_pos, prev_hash = r.prev_hash, hash = r.hash WHERE seq = r.seq;
    head.pos := r.chain_pos;
    head.hash := r.hash;
    n := n + 1;
  END LOOP;
  IF n > 0 THEN
    UPDATE audit_chain_head SET pos = head.pos, hash = head.hash;
  END IF;
  PERFORM set_config('failsafe.sealing', 'off', true);
  RETURN n;
END $$;

CREATE FUNCTION failsafe_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'UPDATE' OR current_setting('failsafe.sealing', true) IS DISTINCT FROM 'on' THEN
    RAISE EXCEPTION 'failsafe: the audit chain head moves only when audit rows are sealed (% refused)', TG_OP USING ERRCODE = 'raise_exception';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain_head_guard BEFORE INSERT OR UPDATE ON audit_chain_head
  FOR EACH ROW EXECUTE FUNCTION failsafe_audit_head_guard();
${immutable('audit_chain_head', 'the audit chain head').replace(/BEFORE UPDATE OR DELETE/, 'BEFORE DELETE')}
`,
  },
];

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies every pending migration. Returns the ids applied now. */
export async function migrate(db: HubDb, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    // One hub at a time migrates (the key is arbitrary but fixed: "failsafe" in ASCII).
    await tx.query('SELECT pg_advisory_xact_lock(7020746865)');
    // Created only when missing: the hub's own login may not create tables (docs/postgres.md: the
    // schema and its triggers belong to an owner role; the application's login only reads and writes rows).
    const { rows: has } = await tx.query<{ e: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS e`);
    if (!has[0]?.e) {
      await tx.query(`CREATE TABLE schema_migrations (
        id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    }
    const { rows } = await tx.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
    const done = new Set(rows.map((r) => r.id));
    const newest = Math.max(0, ...migrations.map((m) => m.id));
    const unknown = rows.filter((r) => r.id > newest);
    if (unknown.length > 0) {
      throw new MigrationError(`This database was migrated by a newer hub (migration ${unknown.map((r) => r.id).join(', ')}); this hub knows up to ${newest}. Upgrade the hub.`);
    }
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      try {
        await tx.exec(m.sql);
      } catch (err) {
        if ((err as { code?: string }).code === '42501') {
          throw new MigrationError(`This hub's database login may not change the schema (migration ${m.id} is pending: ${(err as Error).message}). Run \`npm run hub -- migrate\` once with the owner login, then start the hub again (docs/postgres.md).`);
        }
        throw err;
      }
      await tx.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
      applied.push(m.id);
    }
  });
  return applied;
}

/**
 * What the application's login (`role`) may do in the hub's schema, granted by the owner after
 * migrating (`npm run hub -- grant-app ROLE`): read and write rows, use the sequences. Nothing
 * more: it owns no table, trigger or function, so it can neither drop, disable nor replace the
 * triggers that keep signed reports, signatures, addenda and the audit trail immutable, and it
 * cannot TRUNCATE.
 */
export async function grantAppRole(db: HubDb, role: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new MigrationError(`invalid role name "${role}": lower-case letters, digits and _ only`);
  const { rows } = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
  const schema = rows[0]!.schema;
  await db.exec(`
GRANT USAGE ON SCHEMA "${schema}" TO ${role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "${schema}" TO ${role};
`);
}
