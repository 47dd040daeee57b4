/**
 * The SQL `query --central` sends: every filter bound as a parameter, and an id cursor only
 * within a site (ids are numbered per site). The library names values; the CLI adds its flags.
 */
import assert from "node:assert/strict";
import { UsageError } from "../lib/errors.ts";
import { planCentralQuery } from "./internals.ts";

Deno.test("planCentralQuery: an id cursor needs a site, and says so without naming a flag", () => {
  for (const filter of [{ afterId: 3 }, { beforeId: 3 }]) {
    assert.throws(() => planCentralQuery(filter), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /need a site: event ids are numbered per site/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /--/);
      return true;
    });
  }
});

Deno.test("planCentralQuery: the cursor, site and filters are parameters, never SQL text", () => {
  const plan = planCentralQuery({
    site: "WH-A",
    afterId: 7,
    beforeId: 20,
    sku: "SKU'; DROP TABLE x; --",
    order: "asc",
    limit: 5,
  });
  assert.deepEqual(plan.params, ["WH-A", "SKU'; DROP TABLE x; --", 7, 20]);
  assert.match(plan.text, /site = \$1 AND sku = \$2 AND audit_id > \$3 AND audit_id < \$4/);
  assert.match(plan.text, /ORDER BY e\."timestamp" ASC, e\.site ASC, e\.audit_id ASC/);
  assert.doesNotMatch(plan.text, /DROP/);
});
