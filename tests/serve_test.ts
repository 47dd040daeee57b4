/**
 * `serve`: the JSON API answers what the commands print, bad parameters get the command
 * line's message, nothing but GET and HEAD is answered, pages escape what they show, paging
 * uses the id cursor, slow requests are stopped at their limit, and the command line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { logAuditEvents, openDatabase, UsageError } from "../mod.ts";
import { type RunningViewer, startViewer } from "../lib/viewer/server.ts";
import { cliCommand, fingerprint, runCli, runMain, tempDir } from "./helpers.ts";
import { insertRaw, migratedFile } from "./fixtures.ts";
import { viewerFixture } from "./viewer_fixture.ts";

async function withViewer(
  path: string,
  work: (viewer: RunningViewer, get: (path: string) => Promise<Response>) => Promise<void>,
  options: { timeLimitMs?: number; verifyTimeLimitMs?: number } = {},
): Promise<void> {
  await using viewer = await startViewer({ database: path, port: 0, ...options });
  await work(viewer, (address) => fetch(new URL(address, viewer.url)));
}

/** The first line of stderr as `{"error", "hint"}` would carry it. */
function cliError(stderr: string): { error: string; hint: string | null } {
  const [first, second] = stderr.split("\n");
  return {
    error: first.replace(/^audit-trail: error: /, ""),
    hint: second?.startsWith("hint: ") ? second.slice(6) : null,
  };
}

Deno.test("/api/events answers exactly what query prints for the same filters", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const cases: Record<string, string>[] = [
    {},
    { sku: "SKU-1001" },
    { operation: "NOTE", limit: "1" },
    { user: "system" },
    { since: "2026-02-16", until: "2026-02-16" },
    { contains: "order" },
    { contains: "grüsse" },
    { contains: "ÄÖü" },
    { after_id: "3", order: "asc", limit: "0" },
    { before_id: "5", limit: "2" },
    { run_id: "run_20260216_235959_0a1b2c3d" },
    { sku: "nothing" },
  ];
  await withViewer(path, async (_viewer, get) => {
    for (const params of cases) {
      const response = await get(`/api/events?${new URLSearchParams(params)}`);
      const flags = Object.entries(params).flatMap(([k, v]) => [`--${k.replaceAll("_", "-")}`, v]);
      const cli = await runCli(["query", ...flags, "--format", "json", "--db", path]);
      assert.equal(response.status, 200, JSON.stringify(params));
      assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
      assert.equal(await response.text(), cli.stdout, JSON.stringify(params));
    }
  });
});

Deno.test("/api/batches, /api/batches/RUN_ID, /api/stats and /api/verify answer what the commands print", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await withViewer(path, async (_viewer, get) => {
    const same = async (address: string, args: string[]) => {
      const response = await get(address);
      const cli = await runCli([...args, "--format", "json", "--db", path]);
      assert.equal(response.status, 200, address);
      assert.equal(await response.text(), cli.stdout, address);
    };
    await same("/api/batches", ["batch", "list"]);
    await same("/api/batches?limit=1", ["batch", "list", "--limit", "1"]);
    await same(`/api/batches/${encodeURIComponent("a<b>&c/%d'e")}`, [
      "batch",
      "show",
      "a<b>&c/%d'e",
    ]);
    await same("/api/batches/run_unknown", ["batch", "show", "run_unknown"]);
    await same("/api/stats", ["stats"]);
    await same("/api/stats?since=2026-02-16&top=2", [
      "stats",
      "--since",
      "2026-02-16",
      "--top",
      "2",
    ]);
    await same("/api/verify", ["verify"]);
  });
});

Deno.test("Bad or unknown parameters get 400 with the command line's message and hint", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await withViewer(path, async (_viewer, get) => {
    for (
      const [query, flags] of [
        ["limit=ten", ["--limit", "ten"]],
        ["before_id=-5", ["--before-id=-5"]],
        ["since=2026-02-30", ["--since", "2026-02-30"]],
        ["until=tomorrow", ["--until", "tomorrow"]],
        ["order=sideways", ["--order", "sideways"]],
        ["limit=9007199254740993", ["--limit", "9007199254740993"]],
        // Latin-1 "ü" is no UTF-8: it would match nothing, and [] would read as "none".
        ["user=M%FCller", ["--user", "M\uFFFDller"]],
        ["contains=%E4", ["--contains", "\uFFFD"]],
      ] as const
    ) {
      const response = await get(`/api/events?${query}`);
      const cli = await runCli(["query", ...flags, "--db", path]);
      assert.equal(cli.code, 2);
      assert.equal(response.status, 400, query);
      const body = await response.json();
      assert.deepEqual(body, cliError(cli.stderr), query);
      assert.ok(body.hint, `${query}: says what to write instead`);
    }
    const top = await get("/api/stats?top=all");
    assert.deepEqual(
      await top.json(),
      cliError((await runCli(["stats", "--top", "all", "--db", path])).stderr),
    );
    // A run id new batches may not have (an adopted database's) is shown, as batch show does.
    const spacedRun = await get(`/api/batches/${encodeURIComponent("has space")}`);
    const cliRun = await runCli(["batch", "show", "has space", "--db", path]);
    assert.equal(spacedRun.status, 200);
    assert.deepEqual(await spacedRun.json(), JSON.parse(cliRun.stdout));

    const unknown = await get("/api/events?offset=100");
    assert.equal(unknown.status, 400);
    assert.deepEqual(await unknown.json(), {
      error: 'Unknown parameter "offset"',
      hint: "Page with before_id (or after_id with order=asc): the viewer never skips with OFFSET.",
    });
    const twice = await get("/api/events?sku=a&sku=b");
    assert.equal(twice.status, 400);
    assert.equal((await twice.json()).error, 'Parameter "sku" is given twice');
    const page = await get("/events?limit=lots");
    assert.equal(page.status, 400);
    assert.match(
      await page.text(),
      /--limit must be a whole number of 0 or more, not &quot;lots&quot;/,
    );
    const nothing = await get("/api/nothing");
    assert.equal(nothing.status, 404);
    await nothing.body?.cancel();
  });
});

/** Sends `request` as it is over TCP (fetch would set its own Host) and returns the status line. */
async function rawStatus(port: number, request: string): Promise<string> {
  using connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(new TextEncoder().encode(request));
  const buffer = new Uint8Array(4096);
  const n = await connection.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0];
}

Deno.test("The viewer answers GET and HEAD only, never writes, and refuses other host names", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const before = await fingerprint(path);
  await withViewer(path, async (viewer, get) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const response = await fetch(new URL("/api/events", viewer.url), {
        method,
        body: method === "POST" ? "x" : undefined,
      });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get("allow"), "GET, HEAD");
      assert.deepEqual(await response.json(), {
        error: `${method} is not allowed: the viewer is read-only`,
        hint: "Use GET.",
      });
    }
    const head = await fetch(new URL("/api/stats", viewer.url), { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    for (const address of ["/", "/events", "/batches", "/verify", "/api/events?limit=0"]) {
      await (await get(address)).arrayBuffer();
    }
    const request = (host: string) =>
      `GET /api/stats HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    assert.equal(
      await rawStatus(viewer.port, request(`evil.example:${viewer.port}`)),
      "HTTP/1.1 421 Misdirected Request",
    );
    assert.equal(
      await rawStatus(viewer.port, request(`127.0.0.1.nip.io:${viewer.port}`)),
      "HTTP/1.1 421 Misdirected Request",
    );
    assert.equal(
      await rawStatus(viewer.port, request(`localhost:${viewer.port}`)),
      "HTTP/1.1 200 OK",
    );
  });
  assert.equal(await fingerprint(path), before, "the database file is untouched");
});

Deno.test("Pages escape every value and carry a policy that allows no inline script", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await withViewer(path, async (_viewer, get) => {
    for (
      const address of [
        "/",
        "/events",
        "/events?operation=NOTE",
        "/batches",
        `/batches/${encodeURIComponent("a<b>&c/%d'e")}`,
      ]
    ) {
      const response = await get(address);
      assert.equal(response.status, 200, address);
      const csp = response.headers.get("content-security-policy")!;
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      const page = await response.text();
      assert.ok(
        !page.includes("<script>") && !/<[^>]*\son[a-z]+=/i.test(page),
        address,
      );
      assert.ok(!page.includes("<img"), address);
      assert.ok(!page.includes("a<b>"), address);
      if (address.includes("NOTE")) {
        assert.ok(page.includes("&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;"));
      }
    }
  });
});

Deno.test("The event list pages by id cursor, and its links carry every filter", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    await logAuditEvents(
      db,
      Array.from({ length: 25 }, (_, i) => ({
        operation: i % 2 ? "ODD" : "EVEN",
        sku: `SKU-${i % 3}`,
      })),
    );
  }
  await withViewer(path, async (_viewer, get) => {
    const first = await (await get("/events?operation=EVEN&limit=5")).text();
    assert.match(first, /<h2>13 events match operation “EVEN”<\/h2>/);
    const older = /<a class="button" href="([^"]+)">Older →<\/a>/.exec(first)![1].replaceAll(
      "&amp;",
      "&",
    );
    assert.equal(older, "/events?operation=EVEN&before_id=17&limit=5");
    const second = await (await get(older)).text();
    const ids = [...second.matchAll(/<tr><td class="num">(\d+)<\/td>/g)].map((m) => Number(m[1]));
    const cli = await runCli([
      "query",
      "--operation",
      "EVEN",
      "--limit",
      "5",
      "--before-id",
      "17",
      "--db",
      path,
    ]);
    assert.deepEqual(ids, JSON.parse(cli.stdout).map((e: { audit_id: number }) => e.audit_id));
    assert.match(second, /href="\/events\?operation=EVEN&amp;limit=5">Newest<\/a>/);
    // Facets count every matching event, and link to the filter with that value added.
    assert.ok(
      second.includes(
        '<a href="/events?operation=EVEN&amp;user=system&amp;limit=5"><bdi>system</bdi></a> 13',
      ),
    );
    const csv = await get("/events.csv?operation=EVEN&limit=0");
    assert.equal(csv.headers.get("content-disposition"), 'attachment; filename="audit_events.csv"');
    const cliCsv = await runCli([
      "query",
      "--operation",
      "EVEN",
      "--limit",
      "0",
      "--format",
      "csv",
      "--db",
      path,
    ]);
    const bytes = await csv.arrayBuffer();
    assert.equal(
      new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes),
      "\uFEFF" + cliCsv.stdout,
    );
    const ndjson = await get("/events.ndjson?sku=SKU-1&limit=0&order=asc");
    const cliNdjson = await runCli([
      "query",
      "--sku",
      "SKU-1",
      "--limit",
      "0",
      "--order",
      "asc",
      "--format",
      "ndjson",
      "--db",
      path,
    ]);
    assert.equal(await ndjson.text(), cliNdjson.stdout);
  });
});

Deno.test("A request past its time limit gets 503 at once, and the viewer goes on answering", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    await logAuditEvents(
      db,
      Array.from({ length: 300_000 }, (_, i) => ({ operation: "COUNTED", sku: `SKU-${i % 500}` })),
    );
  }
  await withViewer(path, async (_viewer, get) => {
    // While one worker walks the whole chain, the other answers.
    const order: string[] = [];
    const slow = get("/api/verify").then((r) => {
      order.push("verify");
      return r;
    });
    const quick = await get("/api/events?sku=SKU-7&limit=1");
    order.push("events");
    assert.equal(quick.status, 200);
    await quick.body?.cancel();
    const stopped = await slow;
    assert.deepEqual(order, ["events", "verify"]);
    assert.equal(stopped.status, 503);
    assert.deepEqual(await stopped.json(), {
      error: "The request took longer than 0.2 s and was stopped",
      hint:
        "Narrow the filter (a SKU, an operation, a user, a run id or a shorter time range). For a full export use the command line: audit-trail query --limit 0 --format csv",
    });
    // The stopped worker is replaced: every later request is still answered.
    for (let i = 0; i < 4; i++) {
      const again = await get(`/api/events?sku=SKU-${i}&limit=2`);
      assert.equal(again.status, 200);
      assert.equal((await again.json()).length, 2);
    }
    // The limit leaves a busy machine time to answer the quick request first, and is far
    // below what walking 300,000 events takes on any.
  }, { verifyTimeLimitMs: 200 });
});

/** Reads a child's stdout until the first line ends. */
async function firstLine(child: Deno.ChildProcess): Promise<string> {
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

Deno.test("CLI serve prints its address, answers, and stops cleanly on SIGTERM", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const child = cliCommand(["serve", "--port", "0", "--db", path]).spawn();
  try {
    const url = await firstLine(child);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const stats = await fetch(new URL("/api/stats", url));
    assert.equal((await stats.json()).events, 12);
  } finally {
    child.kill("SIGTERM");
  }
  const { code, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));

  const open = cliCommand(["serve", "--port", "0", "--host", "0.0.0.0", "--db", path]).spawn();
  const url = await firstLine(open);
  open.kill("SIGTERM");
  const output = await open.output();
  assert.match(url, /^http:\/\/0\.0\.0\.0:\d+\/$/);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /^audit-trail: warning: listening on 0\.0\.0\.0: anyone who can reach this computer on port \d+ can read the audit log\n/,
  );

  const none = join(dir.path, "none.db");
  for (
    const [args, code, message] of [
      [
        ["--port", "http", "--db", path],
        2,
        '--port must be a whole number of 0 or more, not "http"',
      ],
      [["--port", "70000", "--db", path], 2, '--port must be 65535 or less, not "70000"'],
      [
        ["--time-limit", "0", "--db", path],
        2,
        '--time-limit must be a number of seconds above 0, not "0"',
      ],
      [["--port", "0", "--db", none], 1, `Database not found: "${none}"`],
    ] as const
  ) {
    const bad = await runCli(["serve", ...args]);
    assert.equal(bad.code, code, bad.stderr);
    assert.equal(bad.stderr.split("\n")[0], `audit-trail: error: ${message}`);
    assert.equal(bad.stdout, "");
  }
});

Deno.test("a failure in a viewer worker reaches the server as one line; a typed one keeps its hint", async () => {
  const { workerError } = await import("../lib/viewer/worker.ts");
  assert.deepEqual(workerError(new Error("disk I/O error\n  at page 7")), {
    name: "Error",
    message: "disk I/O error at page 7",
  });
  assert.deepEqual(workerError("gone"), { name: "Error", message: "gone" });
  assert.deepEqual(workerError(new UsageError("Bad limit", { hint: "Give a number." })), {
    name: "UsageError",
    message: "Bad limit",
    hint: "Give a number.",
  });
});

Deno.test("CLI serve --host that is no host name, or names no host, fails in one line naming it", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const cases: [string, number, RegExp][] = [
    ["not a host", 2, /^audit-trail: error: "not a host" is not a host name or address\n/],
    ["::g", 2, /^audit-trail: error: "::g" is not a host name or address\n/],
    // The .invalid domain never resolves (RFC 2606), with or without a network.
    [
      "nowhere.invalid",
      1,
      /^audit-trail: error: Cannot listen on nowhere\.invalid: no address of this computer is known by that name\n/,
    ],
  ];
  const args = (host: string) => ["serve", "--host", host, "--port", "0", "--db", db];
  const results = [
    await runCli(args(cases[0][0])),
    ...await Promise.all(cases.map(([host]) => runMain(args(host)))),
  ];
  results.forEach((result, i) => {
    const [host, code, message] = cases[Math.max(0, i - 1)];
    assert.equal(result.code, code, `${host}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /\nhint: Leave out --host to listen on 127\.0\.0\.1[^\n]*\n$/);
    assert.doesNotMatch(result.stderr, /Unexpected/);
    assert.equal(result.stdout, "");
  });
});

/** Starts `serve` with `args` and returns its address and the running child. */
async function spawnServe(args: string[]): Promise<{ child: Deno.ChildProcess; url: URL }> {
  const child = cliCommand(["serve", "--port", "0", ...args]).spawn();
  return { child, url: new URL(await firstLine(child)) };
}

/** Stops a spawned `serve` and returns its exit code and stderr. */
async function stopServe(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  child.kill("SIGTERM");
  const { code, stderr } = await child.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** Sends `GET path` to `url` with the Host header `host`; returns the status line and body. */
async function rawGet(url: URL, host: string, path = "/api/stats") {
  using connection = await Deno.connect({
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port),
  });
  await connection.write(
    new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
  );
  let text = "";
  const buffer = new Uint8Array(65536);
  for (let n = await connection.read(buffer); n !== null; n = await connection.read(buffer)) {
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  const [head, body] = text.split("\r\n\r\n");
  return { status: head.split("\r\n")[0], body };
}

Deno.test("CLI serve answers a Host header that is no host name with 421 or 400, and logs nothing", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const bad = ["a b", "127.0.0.1:99999", "%", "[::1"];
  const local = await spawnServe(["--db", path]);
  const port = local.url.port;
  for (const host of [...bad, `127.0.0.1:${port}.`]) {
    assert.equal((await rawGet(local.url, host)).status, "HTTP/1.1 421 Misdirected Request", host);
  }
  assert.equal((await rawGet(local.url, `127.0.0.1:${port}`)).status, "HTTP/1.1 200 OK");
  assert.deepEqual(await stopServe(local.child), { code: 0, stderr: "" });

  // Listening on every network, any host name is answered, but one that is none is refused.
  const open = await spawnServe(["--host", "0.0.0.0", "--db", path]);
  for (const host of bad) {
    const answer = await rawGet(open.url, host);
    assert.equal(answer.status, "HTTP/1.1 400 Bad Request", host);
    assert.deepEqual(JSON.parse(answer.body), {
      error: `The request names no valid host: "${host}"`,
      hint: "Open the address the viewer printed.",
    });
  }
  const stopped = await stopServe(open.child);
  assert.equal(stopped.code, 0);
  assert.match(stopped.stderr, /^audit-trail: warning: listening on 0\.0\.0\.0: [^\n]*\n$/);
});

Deno.test("CLI serve knows a loopback address by what it binds", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  // Each is 127.0.0.1 or ::1: no warning, and the check against DNS rebinding stays on.
  for (const host of ["LOCALHOST", "0:0:0:0:0:0:0:1", "127.1"]) {
    const { child, url } = await spawnServe(["--host", host, "--db", path]);
    assert.equal(
      (await rawGet(url, `evil.example:${url.port}`)).status,
      "HTTP/1.1 421 Misdirected Request",
      host,
    );
    assert.deepEqual(await stopServe(child), { code: 0, stderr: "" }, host);
  }
});

Deno.test("A request whose client left gives up its place in the queue and its worker", async () => {
  const { RequestAbandonedError, WorkerPool } = await import("../lib/viewer/pool.ts");
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    await logAuditEvents(db, Array.from({ length: 3000 }, () => ({ operation: "COUNTED" })));
  }
  using pool = await WorkerPool.start({ path, source: "app.db", size: 1 });
  const all = { kind: "records", filter: { limit: 0 }, format: "json" } as const;
  const one = { kind: "records", filter: { limit: 1 }, format: "json" } as const;
  // A download under way holds the only worker.
  const held = await pool.run(all, 60_000);
  const left = new AbortController();
  const queued = pool.run(one, 60_000, left.signal);
  left.abort();
  // Freed only now: had the request that left kept its place, it would get the worker.
  held.cancel();
  await assert.rejects(queued, RequestAbandonedError);
  const next = await pool.run(one, 60_000);
  assert.equal(JSON.parse(next.first + (await next.next() ?? "")).length, 1);
  assert.equal(await next.next(), null);

  // A client that leaves while its job runs stops it; the worker is replaced.
  const leaving = new AbortController();
  const running = pool.run(all, 60_000, leaving.signal);
  await Promise.resolve();
  leaving.abort();
  await assert.rejects(running, RequestAbandonedError);
  const after = await pool.run(one, 60_000);
  assert.equal(JSON.parse(after.first + (await after.next() ?? "")).length, 1);
});

Deno.test("A client that takes no data of a download is cut off at the time limit, and the worker serves others", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    // Some 20 MB of JSON: more than the connection's buffers take in while nobody reads.
    await logAuditEvents(
      db,
      Array.from({ length: 100_000 }, (_, i) => ({ operation: "COUNTED", sku: `SKU-${i}` })),
    );
  }
  await using viewer = await startViewer({
    database: path,
    port: 0,
    workers: 1,
    timeLimitMs: 500,
  });
  // The check of the chain the viewer starts with holds the only worker for a moment: the
  // download must not wait for it (and be told the viewer is busy).
  while (viewer.chain.status.running) await new Promise((resolve) => setTimeout(resolve, 20));
  using stalled = await Deno.connect({ hostname: "127.0.0.1", port: viewer.port });
  await stalled.write(
    new TextEncoder().encode(
      `GET /api/events?limit=0 HTTP/1.1\r\nHost: 127.0.0.1:${viewer.port}\r\n\r\n`,
    ),
  );
  // The only worker is held by the stalled download until it is cut off; a request that
  // waits for a worker meanwhile is told the viewer is busy, and one after gets its answer.
  const statuses: number[] = [];
  for (let tries = 0; tries < 40 && statuses.at(-1) !== 200; tries++) {
    const response = await fetch(new URL("/api/events?limit=1", viewer.url));
    statuses.push(response.status);
    await response.body?.cancel();
  }
  assert.equal(statuses.at(-1), 200, `statuses: ${statuses}`);
  // The stalled client, reading at last, finds its answer broken off, not ended as if whole.
  let text = "";
  const buffer = new Uint8Array(1 << 20);
  const decoder = new TextDecoder();
  for (let n = await stalled.read(buffer); n !== null; n = await stalled.read(buffer)) {
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(!text.endsWith("\r\n0\r\n\r\n"), "no last chunk: the client sees a broken answer");
  assert.ok(text.length < 15_000_000, `${text.length} characters came before the cut`);
});

Deno.test("A database replaced or removed while served is seen as it is now, by every worker", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const restored = migratedFile(dir.path, "restored.db");
  {
    using db = openDatabase(restored);
    await logAuditEvents(db, [{ operation: "RESTORED" }]);
  }
  await withViewer(path, async (_viewer, get) => {
    const events = async () => {
      const response = await get("/api/stats");
      return response.status === 200 ? (await response.json()).events : await response.json();
    };
    assert.equal(await events(), 12);
    // A backup put in its place, as a restore does: renamed over the served file.
    await Deno.rename(restored, path);
    for (let i = 0; i < 4; i++) assert.equal(await events(), 1, "each worker reads the new file");
    await Deno.remove(path);
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(await events(), {
        error: `Database not found: "${path}"`,
        hint:
          `Create it with: audit-trail migrate --db "${path}" (or pass --db / set AUDIT_TRAIL_DB)`,
      });
    }
    viewerFixture(dir.path);
    assert.equal(await events(), 12);
  });
});

Deno.test("Viewer pages show controls and bidirectional overrides as escapes; the API keeps the text as stored", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    await logAuditEvents(db, [{
      operation: "NOTE",
      user: "\u202Enimda",
      details: "a\u200Bb\x1b[2J",
    }]);
  }
  await withViewer(path, async (_viewer, get) => {
    for (const address of ["/", "/events", "/events?user=%E2%80%AEnimda"]) {
      const page = await (await get(address)).text();
      // The filter form keeps the value as typed, to be sent again.
      const shown = page.replace(/ value="[^"]*"/g, "");
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(shown, /[\u202E\u200B\x1b]/, address);
      assert.ok(page.includes("\\u202Enimda"), address);
    }
    const events = await (await get("/events")).text();
    assert.ok(events.includes('<td class="details">a\\u200Bb\\x1b[2J</td>'));
    assert.ok(
      events.includes('<a href="/events?user=%E2%80%AEnimda"><bdi>\\u202Enimda</bdi></a> 1'),
    );
    const api = await (await get("/api/events")).json();
    assert.equal(api[0].user, "\u202Enimda");
    assert.equal(api[0].details, "a\u200Bb\x1b[2J");
  });
});

Deno.test("A page of another site may link to the viewer, but its images, scripts and fetches are refused", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await withViewer(path, async (viewer) => {
    // What a browser sends (Fetch Metadata) when a page elsewhere loads the address.
    const from = (site: string, mode: string, dest: string) =>
      fetch(new URL("/api/verify", viewer.url), {
        headers: { "sec-fetch-site": site, "sec-fetch-mode": mode, "sec-fetch-dest": dest },
      });
    for (const [mode, dest] of [["no-cors", "image"], ["no-cors", "script"], ["cors", "empty"]]) {
      const refused = await from("cross-site", mode, dest);
      assert.equal(refused.status, 403, `${mode} ${dest}`);
      assert.deepEqual(await refused.json(), {
        error: "The viewer does not answer requests of other web sites",
        hint: "Open its address in the browser.",
      });
    }
    for (
      const [site, mode, dest] of [
        ["cross-site", "navigate", "document"],
        ["same-origin", "cors", "empty"],
        ["none", "navigate", "document"],
      ]
    ) {
      const answered = await from(site, mode, dest);
      assert.equal(answered.status, 200, `${site} ${mode}`);
      await answered.body?.cancel();
    }
  });
});

Deno.test("Values too long to carry in a link are shown without one, and pages stay small", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  {
    using db = openDatabase(path);
    // Written straight into audit_log, where nothing limits a value's length.
    const long = "&".repeat(65_536);
    for (let i = 0; i < 30; i++) {
      insertRaw(db, "2026-02-16T10:00:00.000Z", `OP${i}${long}`, {
        sku: `S${i}${long}`,
        user: `U${i}${long}`,
        run_id: `R${i}${long}`,
      });
    }
    insertRaw(db, "2026-02-16T10:00:00.000Z", "NOTE", { sku: "SKU-1" });
  }
  await withViewer(path, async (_viewer, get) => {
    for (const address of ["/", "/events", "/batches"]) {
      const response = await get(address);
      assert.equal(response.status, 200, address);
      const page = await response.text();
      assert.ok(page.length < 1_000_000, `${address}: ${page.length} characters`);
      const hrefs = [...page.matchAll(/href="([^"]*)"/g)].map((m) => m[1]);
      assert.ok(hrefs.every((href) => href.length < 4000), address);
    }
    const events = await (await get("/events")).text();
    assert.ok(events.includes('<a href="/events?sku=SKU-1">SKU-1</a>'), "short values keep theirs");
    assert.match(events, /<td><span class="long">S29(&amp;){197}<\/span><span class="cut"/);
  });
});

Deno.test("CLI serve reads an offset's + that a hand-written URL left unencoded as the offset", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const { child, url } = await spawnServe(["--db", path]);
  try {
    // `curl "…/api/events?since=$(date -Iseconds)"` in Berlin: the query string decodes a bare
    // + as a space, and the viewer answered 400 about a value nobody typed.
    const since = "2026-02-16T01:00+02:00";
    const until = "2026-02-16T23:59:59.5+01:00";
    const events = await fetch(new URL(`/api/events?since=${since}&until=${until}`, url));
    const cli = await runCli(["query", "--since", since, "--until", until, "--db", path]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(events.status, 200);
    assert.equal(await events.text(), cli.stdout);
    assert.ok(JSON.parse(cli.stdout).length > 0, "the range holds events");
    const stats = await fetch(new URL(`/api/stats?since=${since}`, url));
    assert.equal(stats.status, 200);
    assert.equal(
      await stats.text(),
      (await runCli(["stats", "--since", since, "--db", path])).stdout,
    );
    const page = await fetch(new URL(`/events?until=${until}`, url));
    assert.equal(page.status, 200);
    await page.body?.cancel();
    // A form sends the space of "2026-02-16 12:30" as + too: that stays a date and a time.
    const spaced = await fetch(new URL("/api/events?since=2026-02-16+12:30", url));
    assert.equal(
      await spaced.text(),
      (await runCli(["query", "--since", "2026-02-16 12:30", "--db", path])).stdout,
    );
  } finally {
    const { code } = await stopServe(child);
    assert.equal(code, 0);
  }
});

Deno.test("CLI serve gives an unencoded offset without its colon the colon hint the command line gives", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const { child, url } = await spawnServe(["--db", path]);
  try {
    // since=…+0200 typed into the address bar arrived as "2026-02-16T01:00 0200", shown back
    // with a space nobody typed and the generic hint, where query --since gives the colon one.
    for (const since of ["2026-02-16T01:00+0200", "2026-02-16T01:00:00.5+02"]) {
      const response = await fetch(new URL(`/api/events?since=${since}`, url));
      assert.equal(response.status, 400);
      const body = await response.json();
      const cli = await runCli(["query", "--since", since, "--db", path]);
      assert.equal(cli.code, 2);
      const [error, hint] = cli.stderr.trim().split("\n");
      assert.equal(`audit-trail: error: ${body.error}`, error);
      assert.equal(`hint: ${body.hint}`, hint);
      assert.match(
        body.hint,
        /Write the offset with a colon, e\.g\. 2026-02-16T01:00(:00\.5)?\+02:00\./,
      );
    }
  } finally {
    const { code } = await stopServe(child);
    assert.equal(code, 0);
  }
});
