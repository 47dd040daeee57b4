import assert from "node:assert/strict";
import * as mod from "../mod.ts";

Deno.test("mod.ts exports the API SPEC lists and the error classes, nothing internal", () => {
  const functions = [
    "archiveEvents",
    "chainHead",
    "exportDebugBundle",
    "generateRunId",
    "getAuditLog",
    "getBatchOperations",
    "getStats",
    "listBatches",
    "logAuditEvent",
    "logAuditEvents",
    "migrate",
    "openDatabase",
    "syncToCentral",
    "verifyChain",
    "writeReport",
  ];
  const errors = [
    "AuditTrailError",
    "BundleFolderError",
    "CentralDivergenceError",
    "DatabaseBusyError",
    "DatabaseCorruptError",
    "DatabaseNotFoundError",
    "DiskFullError",
    "InvalidInputError",
    "ReadOnlyDatabaseError",
    "SchemaError",
    "TamperingFoundError",
    "UsageError",
  ];
  assert.deepEqual(Object.keys(mod).sort(), [...functions, ...errors].sort());
  for (const name of functions) assert.equal(typeof mod[name as keyof typeof mod], "function");
  for (const name of errors) {
    const ErrorClass = mod[name as keyof typeof mod] as unknown as typeof Error;
    assert.ok(new ErrorClass("x") instanceof mod.AuditTrailError, name);
  }
});
