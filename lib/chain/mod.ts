/**
 * Tamper evidence: every audit event is sealed into a SHA-256 hash chain as it is written,
 * and the chain can be checked offline.
 *
 * - `encoding.ts`: what a seal covers (the canonical encoding) and how it is computed;
 * - `seal.ts`: the chain's newest seal, and sealing events in the transaction that writes
 *   them;
 * - `verify.ts` and `classify.ts`: the walk over the whole chain, anchors, and what happened
 *   to the first event that fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { chainHead, verifyChain } from "./mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * assert.match(chainHead(db)!.hash, /^[0-9a-f]{64}$/);
 * assert.equal((await verifyChain(db)).intact, true);
 * ```
 *
 * @module
 */
export { chainHash, GENESIS_HASH, type SealedFields } from "./encoding.ts";
export { CHAIN_SCHEMA_VERSION, type ChainHead, chainHead } from "./seal.ts";
export { type ChainFailure, type TamperKind } from "./classify.ts";
export { parseAnchor, verifyChain, type VerifyChainOptions } from "./verify.ts";
export type { ArchiveCheck, ChainVerifyResult } from "./walk.ts";
