import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCentralUrl, redactUrl } from "../lib/central/url.ts";
import { redactSecret } from "../lib/central/connection.ts";
import { UsageError } from "../lib/errors.ts";
import { fingerprint, migratedDb, runCli, tempDir } from "./helpers.ts";
import { startPostgres } from "./pg_support.ts";

Deno.test("parseCentralUrl() reads a libpq URL and shows it with the password as ***", () => {
  const target = parseCentralUrl("postgresql://wh%40lyon:p%40ss%2Fw@db.example:6543/audit%20db");
  assert.deepEqual(target, {
    host: "db.example",
    port: 6543,
    ports: [6543],
    database: "audit db",
    user: "wh@lyon",
    password: "p@ss/w",
    passwordFrom: "the URL",
    sslRootCert: null,
    sslmode: "prefer",
    display: "postgresql://wh%40lyon:***@db.example:6543/audit%20db",
  });
});

Deno.test("parseCentralUrl() takes the password and sslmode from the defaults only when the URL has none", () => {
  const defaults = { password: "from-env", sslmode: "require" };
  assert.equal(parseCentralUrl("postgres://u@h/d", defaults).password, "from-env");
  assert.equal(parseCentralUrl("postgres://u:given@h/d", defaults).password, "given");
  // Where it came from, for the hint of a refused login.
  assert.equal(parseCentralUrl("postgres://u@h/d", defaults).passwordFrom, "PGPASSWORD");
  assert.equal(parseCentralUrl("postgres://u:given@h/d", defaults).passwordFrom, "the URL");
  assert.equal(parseCentralUrl("postgres://u@h/d").passwordFrom, undefined);
  assert.equal(parseCentralUrl("postgres://u@h/d", defaults).sslmode, "require");
  assert.equal(parseCentralUrl("postgres://u@h/d?sslmode=disable", defaults).sslmode, "disable");
  assert.throws(() => parseCentralUrl("postgres://u@h/d", { sslmode: "on" }), {
    message: 'PGSSLMODE "on" is not an sslmode',
  });
  assert.equal(parseCentralUrl("postgres://u@h/d").password, null);
  assert.equal(parseCentralUrl("postgres://u@[::1]:5433/d").host, "::1");
  // libpq's Unix socket folder, percent-encoded as the host.
  assert.equal(
    parseCentralUrl("postgres://u@%2Fvar%2Frun%2Fpostgresql/d").host,
    "/var/run/postgresql",
  );
});

Deno.test("parseCentralUrl() fills what the URL leaves out as libpq does: the PG* defaults, then its own", () => {
  const env = { host: "db.env", port: "6000", user: "env_user", database: "env_db" };
  const read = (text: string, defaults = {}) => {
    const t = parseCentralUrl(text, defaults);
    return [t.host, t.port, t.user, t.database, t.display];
  };
  assert.deepEqual(read("postgres:///audit", env), [
    "db.env",
    6000,
    "env_user",
    "audit",
    "postgres://env_user@db.env:6000/audit",
  ]);
  assert.deepEqual(read("postgresql://", env), [
    "db.env",
    6000,
    "env_user",
    "env_db",
    "postgresql://env_user@db.env:6000/env_db",
  ]);
  // What the URL says wins; an empty part says nothing.
  assert.deepEqual(read("postgres://u:pw@h:7000/d", env), [
    "h",
    7000,
    "u",
    "d",
    "postgres://u:***@h:7000/d",
  ]);
  assert.deepEqual(read("postgres://u@:7000", env), [
    "db.env",
    7000,
    "u",
    "env_db",
    "postgres://u@db.env:7000/env_db",
  ]);
  // libpq's own defaults after them: port 5432, the database named as the user.
  assert.deepEqual(read("postgres://u@h"), ["h", 5432, "u", "u", "postgres://u@h:5432/u"]);
  // libpq's parameters in the query string win over the URL's parts.
  assert.deepEqual(
    read("postgres://u@h/d?host=/run/pg&port=5433&user=v&dbname=e&password=s", env),
    ["/run/pg", 5433, "v", "e", "postgres://v:***@%2Frun%2Fpg:5433/e"],
  );
  assert.equal(parseCentralUrl("postgres://u@h/d?password=s").password, "s");
  // A Unix socket's folder from PGHOST, shown percent-encoded as libpq reads it back.
  assert.deepEqual(read("postgres:///d", { host: "/var/run/postgresql", user: "ana" }), [
    "/var/run/postgresql",
    5432,
    "ana",
    "d",
    "postgres://ana@%2Fvar%2Frun%2Fpostgresql:5432/d",
  ]);
  // libpq's connect_timeout: the URL's, else PGCONNECT_TIMEOUT's; 1 is taken as 2, 0 as none.
  const timeout = (text: string, connectTimeout?: string) =>
    parseCentralUrl(text, { connectTimeout }).connectTimeoutSeconds;
  assert.equal(timeout("postgres://u@h/d?connect_timeout=7", "9"), 7);
  assert.equal(timeout("postgres://u@h/d", "9"), 9);
  assert.equal(timeout("postgres://u@h/d?connect_timeout=1"), 2);
  assert.equal(timeout("postgres://u@h/d?connect_timeout=0"), 0);
  assert.equal(timeout("postgres://u@h/d"), undefined);
  assert.throws(() => parseCentralUrl("postgres://u@h/d?connect_timeout=5s"), {
    message:
      'Central store URL "postgres://u@h/d?connect_timeout=5s" has connect_timeout 5s: a whole number of seconds',
  });
  assert.throws(() => parseCentralUrl("postgres://u@h/d", { connectTimeout: "ten" }), {
    message: 'PGCONNECT_TIMEOUT "ten" is not a number of seconds',
  });
  assert.throws(() => parseCentralUrl("postgres://u@h/d", { port: "54x" }), {
    message: 'PGPORT "54x" is not a port',
  });
  assert.throws(() => parseCentralUrl("postgres:///d", { user: "ana" }), {
    message: 'Central store URL "postgres:///d" names no host, and PGHOST is not set',
  });
});

Deno.test("parseCentralUrl() refuses what is not a central URL, never showing the password", () => {
  for (
    const [text, problem] of [
      ["mysql://u:secret@h/d", /must start with postgres:\/\//],
      ["postgres://:secret@h/d", /names no user/],
      ["postgres:///d", /names no host, and PGHOST is not set/],
      ["postgres://u:secret@h/d?port=5o", /has port 5o: a port is 1 to 65535/],
      ["postgres://u:secret@h/d?sslmode=always", /unknown sslmode "always"/],
      ["postgres://u:secret@h/d?options=-cx", /parameters audit-trail does not use: options/],
      ["postgres://u:secret@a,b/d?port=1,2,3", /the URL gives 3 ports for 2 hosts \(a, b\)/],
      ["postgres://u:secret@a:1,b/d?hostaddr=10.0.0.1", /hostaddr gives 1 address for 2 hosts/],
      ["postgres://u:secret@a/d?hostaddr=db.example", /"db.example" is not a numeric address/],
      ["postgres://u:secret@a:1,%2Fsrv/d", /Unix socket's folder among several hosts/],
      ["postgres://u:secret@a:1,/d", /empty host among several/],
      ["postgres://u:secret@a:x,b/d", /host "a:x" that is not HOST or HOST:PORT/],
      ["not a url secret", /is not a URL/],
      ["postgres://u:secret@h:99999/d", /has port 99999: a port is 1 to 65535/],
      ["postgres://u:secret@h:0/d", /has port 0: a port is 1 to 65535/],
      ["postgres://u:secret@h:5432x/d", /has port 5432x: a port is 1 to 65535$/],
      ["postgres://u:secret@[::1]:x1/d", /has port x1: a port is 1 to 65535$/],
      [
        "postgres://u:secret@::1:5432/d",
        /IPv6 address without brackets: write it as \[ADDRESS\]:PORT/,
      ],
    ] as const
  ) {
    assert.throws(() => parseCentralUrl(text), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, problem);
      assert.ok(!error.message.includes("secret") || text === "not a url secret", error.message);
      return true;
    });
  }
});

Deno.test("redactUrl() hides a password holding @ or /, and redactSecret() any copy of it", () => {
  assert.equal(redactUrl("postgres://u:p@ss/w@h:5/d"), "postgres://u:***@h:5/d");
  assert.equal(redactUrl("postgres://u@h/d"), "postgres://u@h/d");
  // HOST:PORT is no password.
  assert.equal(redactUrl("postgres://h:5432/d"), "postgres://h:5432/d");
  assert.equal(redactUrl("postgres://[::1]:5432/d"), "postgres://[::1]:5432/d");
  assert.equal(
    redactSecret('password "hunter2" is wrong: hunter2', "hunter2"),
    'password "***" is wrong: ***',
  );
  assert.equal(redactSecret("nothing to hide", null), "nothing to hide");
  // A short password is hidden where it stands alone, not starred inside other words.
  assert.equal(redactSecret("permission denied: n", "n"), "permission denied: ***");
  assert.equal(redactSecret("u:pw-1.@h", "pw-1."), "u:***@h");
});

Deno.test("CLI: central commands refuse bad usage with exit 2 before connecting anywhere", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const before = await fingerprint(db);
  const url = "postgres://u:hunter2@127.0.0.1:1/d";
  const cases: [string[], RegExp][] = [
    [["sync", "--db", db], /No central store given/],
    [["sync", "--central", url, "--interval", "5", "--db", db], /--interval is for --watch/],
    [["sync", "--central", url, "--watch", "--interval", "0", "--db", db], /at least 1 second/],
    [["sync", "--central", url, "--site", "no spaces", "--db", db], /not a valid site name/],
    [["sync", "--central", url, "--site", "Évry", "--db", db], /hint: .*unaccented letters A-Z/],
    [
      ["sync", "--central", url, "--db", db],
      /No site is named and none is recorded yet\nhint: Name it once with --site \(or AUDIT_TRAIL_SITE\), e\.g\. --site WH-LYON-1\.\n$/,
    ],
    [["central"], /central needs a subcommand/],
    [["central", "drop", "--central", url], /Unknown subcommand "central drop"/],
    [["central", "grant", "--role", "x", "--central", url], /needs a SITE \(or --reader\)/],
    [["central", "grant", "WH-1", "--central", url], /needs --role ROLE/],
    [["central", "init", "--role", "r", "--central", url], /--role is for central grant, not/],
    [["central", "sites", "--reader", "--central", url], /--reader is for central grant, not/],
    [["central", "grant", "WH-1", "--role", "", "--central", url], /The role name is empty/],
    [
      ["central", "grant", "WH-1", "--role", "r".repeat(64), "--central", url],
      /is 64 bytes long; PostgreSQL keeps names to 63\nhint: .*pg_roles/,
    ],
    [
      ["central", "init", "--central", url, "--format", "csv"],
      /central init cannot print --format csv/,
    ],
    [
      ["central", "grant", "WH-1", "--role", "r", "--central", url, "--format", "csv"],
      /central grant cannot print --format csv\nhint: Use one of: json, ndjson, table/,
    ],
    [["query", "--site", "WH-1", "--db", db], /--site is for --central/],
    [["verify", "--central", url, "--anchor", "1:ab"], /--anchor is for this database/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args, { env: { AUDIT_TRAIL_CENTRAL: "", AUDIT_TRAIL_SITE: "" } });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.ok(!result.stderr.includes("hunter2"), result.stderr);
    assert.equal(result.stdout, "");
  }
  // An answer bound that is no number of seconds, for every command that takes --central.
  const commands = [
    ["sync", "--central", url, "--site", "WH-1", "--db", db],
    ["central", "init", "--central", url],
    ["central", "grant", "WH-1", "--role", "r", "--central", url],
    ["central", "sites", "--central", url],
    ["verify", "--central", url],
    ["query", "--central", url],
  ];
  for (const [args, timeout] of commands.map((args, i) => [args, ["0", "ten", "-5"][i % 3]])) {
    const result = await runCli(args as string[], {
      env: { AUDIT_TRAIL_CENTRAL_TIMEOUT: timeout as string },
    });
    assert.equal(result.code, 2, `${args}: ${result.stderr}`);
    assert.match(
      result.stderr,
      new RegExp(
        `^audit-trail: error: AUDIT_TRAIL_CENTRAL_TIMEOUT "${timeout}" is not a number of seconds\nhint: `,
      ),
    );
  }
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI: a central store that cannot be reached is described in words, not in socket error codes", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const before = await fingerprint(db);
  // Ports that were free a moment ago: nothing listens there.
  const listeners = [0, 1].map(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const [port, other] = listeners.map((listener) => listener.addr.port);
  listeners.forEach((listener) => listener.close());
  // Each URL, how the message shows it, and why it cannot be reached.
  const cases: [string, string, string][] = [
    [
      `postgres://u:hunter2@127.0.0.1:${port}/d`,
      `postgres://u:***@127.0.0.1:${port}/d`,
      `nothing accepts connections at 127.0.0.1:${port}`,
    ],
    [
      "postgres://u:hunter2@no-such-host.invalid/d",
      "postgres://u:***@no-such-host.invalid:5432/d",
      'no computer is known by the name "no-such-host.invalid"',
    ],
    [
      `postgres://u:hunter2@127.0.0.1:${port},127.0.0.1:${other}/d`,
      `postgres://u:***@127.0.0.1:${port},127.0.0.1:${other}/d`,
      `no host accepted the connection (nothing accepts connections at 127.0.0.1:${port}; nothing accepts connections at 127.0.0.1:${other})`,
    ],
  ];
  for (const [url, shown, why] of cases) {
    const result = await runCli(["sync", "--central", url, "--site", "WH-1", "--db", db]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `audit-trail: error: Central store at ${shown} cannot be reached: ${why}\n` +
        "hint: Check the network and that the server is running. Nothing was lost: run it again once that is fixed.\n",
    );
  }
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI: sslmode works as with libpq against a server with a self-signed certificate", async () => {
  await using pg = await startPostgres({ tls: true });
  const url = pg.url();
  const run = (mode: string) => runCli(["central", "sites", "--central", `${url}?sslmode=${mode}`]);
  // require: encrypted, certificate not checked (as libpq); the server logs TLS in use.
  const required = await runCli(["central", "init", "--central", `${url}?sslmode=require`]);
  assert.equal(required.code, 0, required.stderr);
  assert.equal(JSON.parse(required.stdout).to_version, 2);
  assert.equal((await run("require")).stdout, "[]\n");
  assert.match(await pg.serverLog(), /connection authorized: user=postgres .*SSL enabled/);
  // verify-ca and verify-full refuse a certificate no trusted authority signed.
  for (const mode of ["verify-ca", "verify-full"]) {
    const refused = await run(mode);
    assert.equal(refused.code, 1, `${mode}: ${refused.stdout}`);
    assert.match(refused.stderr, /certificate/i);
    assert.ok(!refused.stderr.includes(pg.password));
  }
  // PGSSLMODE stands in for a URL without sslmode.
  const fromEnv = await runCli(["central", "sites", "--central", url], {
    env: { PGSSLMODE: "verify-full" },
  });
  assert.equal(fromEnv.code, 1);
  assert.equal((await run("disable")).code, 0);
});

Deno.test("parseCentralUrl() takes sslrootcert from the URL, else from the defaults", () => {
  assert.equal(parseCentralUrl("postgres://u@h/d?sslrootcert=/ca.pem").sslRootCert, "/ca.pem");
  const defaults = { sslRootCert: "/env.pem" };
  assert.equal(parseCentralUrl("postgres://u@h/d", defaults).sslRootCert, "/env.pem");
  assert.equal(
    parseCentralUrl("postgres://u@h/d?sslmode=verify-full&sslrootcert=system", defaults)
      .sslRootCert,
    "system",
  );
  assert.throws(() => parseCentralUrl("postgres://u:pw@h/d?sslrootcert="), {
    message: 'Central store URL "postgres://u:***@h/d?sslrootcert=" has an empty sslrootcert ' +
      "(a certificate file, or system)",
  });
});

Deno.test("CLI: sslrootcert, PGSSLROOTCERT or ~/.postgresql/root.crt names the authorities TLS trusts, as with libpq", async () => {
  await using pg = await startPostgres({ tls: true });
  await using dir = await tempDir();
  const url = pg.url();
  const own = join(dir.path, "own.crt");
  await Deno.copyFile(pg.certificate!, own);
  // Another authority's certificate, which did not sign the server's.
  const other = join(dir.path, "other.crt");
  const openssl = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other"]
      .concat(["-keyout", join(dir.path, "other.key"), "-out", other]),
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(openssl.success);
  const noCertificate = join(dir.path, "empty.crt");
  await Deno.writeTextFile(noCertificate, "not a certificate\n");
  const home = join(dir.path, "home");
  const sites = (query: string, env: Record<string, string> = {}) =>
    runCli(["central", "sites", "--central", `${url}${query}`], {
      env: { HOME: home, ...env },
    });
  const init = await runCli(["central", "init", "--central", `${url}?sslmode=require`]);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await sites("?sslmode=require")).code, 0);

  for (const mode of ["verify-ca", "verify-full"]) {
    const trusted = await sites(`?sslmode=${mode}&sslrootcert=${own}`);
    assert.equal(trusted.code, 0, `${mode}: ${trusted.stderr}`);
    assert.equal(trusted.stdout, "[]\n");
    for (const refusedBy of [other, "system"]) {
      const refused = await sites(`?sslmode=${mode}&sslrootcert=${refusedBy}`);
      assert.equal(refused.code, 1, `${mode} ${refusedBy}: ${refused.stdout}`);
      assert.match(refused.stderr, /was not trusted: its certificate was refused/);
      assert.match(refused.stderr, /hint: Name the authority that signed it with sslrootcert=FILE/);
      assert.ok(!refused.stderr.includes(pg.password), refused.stderr);
    }
  }
  // From the environment, as libpq: PGSSLROOTCERT, else ~/.postgresql/root.crt.
  assert.equal((await sites("", { PGSSLMODE: "verify-full", PGSSLROOTCERT: own })).code, 0);
  assert.equal((await sites("", { PGSSLMODE: "verify-full" })).code, 1);
  await Deno.mkdir(join(home, ".postgresql"), { recursive: true });
  await Deno.copyFile(other, join(home, ".postgresql", "root.crt"));
  // require checks the authority too once a root certificate file is there, as libpq does.
  assert.equal((await sites("?sslmode=require")).code, 1);
  assert.equal((await sites("?sslmode=require", { PGSSLROOTCERT: own })).code, 0);
  await Deno.copyFile(own, join(home, ".postgresql", "root.crt"));
  assert.equal((await sites("?sslmode=verify-full")).code, 0);
  assert.equal((await sites("?sslmode=require")).code, 0);

  // A file that is not there, or holds no certificate: one line that names it, exit 2.
  for (
    const [file, problem] of [
      [join(dir.path, "missing.crt"), /"[^"]*missing\.crt" \(sslrootcert\) does not exist/],
      [noCertificate, /"[^"]*empty\.crt" \(sslrootcert\) holds no certificate/],
    ] as const
  ) {
    const result = await sites(`?sslmode=verify-full&sslrootcert=${file}`);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, problem);
    assert.match(result.stderr, /hint: .*sslrootcert=system/);
    assert.ok(!result.stderr.includes(pg.password));
  }
});

Deno.test("CLI: an sslrootcert that is a named pipe, a folder or a device is refused at once, not read", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const before = await fingerprint(db);
  const fifo = join(dir.path, "ca.pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success);
  // Nothing listens on port 1: were the file read past, the error would be the connection's.
  const central = (file: string) =>
    `postgres://u:hunter2@127.0.0.1:1/d?sslmode=verify-full&sslrootcert=${file}`;
  // The folder first: without the check it fails at once (a pipe would wait for ever).
  for (const file of [dir.path, fifo, "/dev/zero"]) {
    for (
      const [args, env] of [
        [["sync", "--site", "s1", "--central", central(file)], {}],
        [["central", "sites", "--central", "postgres://u@127.0.0.1:1/d?sslmode=verify-ca"], {
          PGSSLROOTCERT: file,
        }],
      ] as const
    ) {
      const result = await runCli([...args, "--db", db], { env });
      assert.equal(result.code, 2, `${file}: ${result.stderr}`);
      assert.match(
        result.stderr,
        /^audit-trail: error: The root certificate file "[^"]+" \(sslrootcert\) is not a file: a folder, a pipe or a device\nhint: .*sslrootcert=system/,
      );
      assert.ok(!result.stderr.includes("hunter2"));
    }
  }
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI: a mistyped central URL never shows its password, whatever the mistake", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const before = await fingerprint(db);
  const cases: [string, number, RegExp][] = [
    ["postgres:/u:hunter2@127.0.0.1:1/d", 2, /"postgres:\*\*\*@127\.0\.0\.1:1\/d" names no host/],
    ["postgres:u:hunter2@127.0.0.1:1/d", 2, /names no host/],
    ["u:hunter2@127.0.0.1:1/d", 2, /"u:\*\*\*@127\.0\.0\.1:1\/d" must start with postgres/],
    ["postgres://u:hunter2/127.0.0.1:1/d", 2, /"postgres:\/\/u:\*\*\*\/127\.0\.0\.1:1\/d"/],
    // With no "@", USER:PASSWORD reads as HOST:PORT: the "port" is never shown.
    ["postgres://u:hunter2/d", 2, /"postgres:\/\/u:\*\*\*\/d" is not a URL$/m],
    ["host=127.0.0.1 user=u password=hunter2", 2, /password=\*\*\*" is not a URL/],
    [
      "postgres://u@127.0.0.1:1/d?password=hunter2&ssl=1",
      2,
      /\?password=\*\*\*&ssl=1" has parameters/,
    ],
    // libpq's password parameter: taken, and shown as *** as any password.
    [
      "postgres://u@127.0.0.1:1/d?password=hunter2",
      1,
      /at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/d cannot/,
    ],
    // Pasted with a space before it: read, and shown without the password.
    [" postgres://u:hunter2@127.0.0.1:1/d", 1, /at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/d cannot/],
  ];
  for (const [url, code, message] of cases) {
    for (
      const args of [["central", "sites", "--central", url], ["sync", "--site", "WH-1", "--db", db]]
    ) {
      const result = await runCli(args, { env: { AUDIT_TRAIL_CENTRAL: url } });
      assert.equal(result.code, code, `${url}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes("hunter2"), result.stderr);
      assert.equal(result.stdout, "");
    }
  }
  assert.equal(await fingerprint(db), before);
});
