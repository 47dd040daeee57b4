/**
 * The central store: every site's events gathered in one PostgreSQL database, sent by
 * `sync` exactly once, checked by the database as they arrive and by `verify --central`
 * afterwards.
 *
 * - `url.ts`: the `postgres://` URL and its redaction; `passfile.ts`: libpq's password file;
 *   `service.ts`: libpq's connection service file; `saslprep.ts`: the password as SCRAM prepares it;
 * - `connection.ts`: the client (loaded lazily) and PostgreSQL's failures as audit-trail errors;
 * - `schema.ts` and `schema_1.sql`: the central schema, `central init`, `grant`, `sites`;
 * - `local.ts`: reading sealed events and the database's record of its site;
 * - `sync.ts`: sending batches; `query.ts` and `verify.ts`: reading and proving across sites.
 *
 * @module
 */
export {
  type CentralConnection,
  CentralDivergenceError,
  connectCentral,
  type ConnectCentralOptions,
  DEFAULT_ANSWER_SECONDS,
} from "./connection.ts";
export { type CentralRecord, centralRecord } from "./local.ts";
export { passwordFromPassfile } from "./passfile.ts";
export {
  CENTRAL_EVENT_COLUMNS,
  type CentralEvent,
  type CentralFilter,
  type CentralRow,
  explainCentralQuery,
  streamCentralRows,
} from "./query.ts";
export {
  CENTRAL_SCHEMA_VERSION,
  type CentralGrant,
  type CentralInitResult,
  type CentralSite,
  checkSiteName,
  grantCentral,
  initCentral,
  listCentralSites,
} from "./schema.ts";
export { SiteNotNamedError, type SyncOptions, type SyncResult, syncToCentral } from "./sync.ts";
export { type ServiceSettings, serviceSettings } from "./service.ts";
export {
  type CentralTarget,
  parseCentralUrl,
  redactUrl,
  serviceOfUrl,
  type SslMode,
} from "./url.ts";
export { type CentralSiteVerdict, type CentralVerifyResult, verifyCentral } from "./verify.ts";
