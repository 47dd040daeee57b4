/**
 * The central store's connection settings as a libpq user writes them beyond the URL: the
 * connection service file (`?service=`, PGSERVICE, PGSERVICEFILE, PGSYSCONFDIR), the
 * application name the server shows (`application_name`, PGAPPNAME), several hosts each with
 * its port, and `hostaddr` (PGHOSTADDR). Through the real CLI against a real PostgreSQL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCentralUrl } from "../lib/central/url.ts";
import { UsageError } from "../lib/errors.ts";
import { fingerprint, migratedDb, runCli, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";

Deno.test("parseCentralUrl() reads several hosts each with its port, and hostaddr, as libpq does", () => {
  const two = parseCentralUrl("postgres://u@a.example:5433,[::1]:5434/d");
  assert.deepEqual([two.host, two.port, two.ports], ["a.example,::1", 5433, [5433, 5434]]);
  assert.equal(two.display, "postgres://u@a.example:5433,[::1]:5434/d");
  // A host without a port in the list gets 5432; one port serves every host.
  assert.deepEqual(parseCentralUrl("postgres://u@a:5433,b/d").ports, [5433, 5432]);
  assert.deepEqual(parseCentralUrl("postgres://u@a,b/d", { port: "6000" }).ports, [6000, 6000]);
  assert.deepEqual(
    parseCentralUrl("postgres:///d", { host: "a,b", port: "1,2", user: "u" }).ports,
    [
      1,
      2,
    ],
  );
  assert.throws(() => parseCentralUrl("postgres:///d", { host: "a,b", port: "1,2,3", user: "u" }), {
    message: "PGPORT gives 3 ports for 2 hosts (a, b)",
  });
  assert.throws(() => parseCentralUrl("postgres:///d", { host: "a", port: "1,x", user: "u" }), {
    message: 'PGPORT "1,x" is not a port',
  });
  // hostaddr: where to connect; the host name stays for the certificate and password file.
  const byAddress = parseCentralUrl("postgres://u@db.example/d", { hostaddr: "127.0.0.1" });
  assert.deepEqual([byAddress.host, byAddress.hostaddr], ["db.example", "127.0.0.1"]);
  assert.equal(byAddress.display, "postgres://u@db.example:5432/d?hostaddr=127.0.0.1");
  // With no host named, the address is the host, before the local socket.
  const only = parseCentralUrl("postgres:///d", { hostaddr: "::1", localHost: "/tmp", user: "u" });
  assert.equal(only.host, "::1");
  assert.throws(() => parseCentralUrl("postgres://u@h/d", { hostaddr: "h.example" }), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /^PGHOSTADDR "h.example" is not a numeric address/);
    return true;
  });
  // The application name: the URL's, else the defaults'.
  assert.equal(parseCentralUrl("postgres://u@h/d?application_name=bi").applicationName, "bi");
  assert.equal(
    parseCentralUrl("postgres://u@h/d", { applicationName: "audit-trail sync" }).applicationName,
    "audit-trail sync",
  );
});

Deno.test("central store: a libpq service file, an application name, several hosts and hostaddr", async (t) => {
  await using pg = await startPostgres({ tls: true });
  await using dir = await tempDir();
  const database = new URL(await pg.createDatabase()).pathname.slice(1);
  const home = join(dir.path, "home");
  await Deno.mkdir(home);
  const secret = pg.password;
  const section = (name: string, lines: string[]) => `[${name}]\n${lines.join("\n")}\n`;
  const right = [
    "host=127.0.0.1",
    `port=${pg.port}`,
    `dbname=${database}`,
    "user=postgres",
    `password=${secret}`,
  ];
  await Deno.writeTextFile(
    join(home, ".pg_service.conf"),
    "# this user's services\n" + section("central", right) +
      section("wrong-port", [...right.filter((l) => !l.startsWith("port")), "port=1"]),
  );
  // No variable of the machine running the tests may reach the CLI: only these.
  const env = { HOME: home, PGSYSCONFDIR: join(dir.path, "none"), PGSERVICEFILE: "" };
  const resolved = `postgres://postgres@127.0.0.1:${pg.port}/${database}`;
  const connections = async () => {
    const log = await pg.serverLog();
    return [
      ...log.matchAll(/connection authorized: .*application_name=(.*?)(?: SSL enabled .*)?$/gm),
    ]
      .map((m) => m[1]);
  };

  await t.step(
    "?service= in the URL, or PGSERVICE, names the section of ~/.pg_service.conf",
    async () => {
      const init = await cliJson(
        ["central", "init", "--central", "postgres://?service=central"],
        0,
        env,
      );
      assert.deepEqual(init, { central: resolved, from_version: 0, to_version: 2 });
      const sites = await cliJson(["central", "sites"], 0, {
        ...env,
        AUDIT_TRAIL_CENTRAL: "postgres://",
        PGSERVICE: "central",
      });
      assert.deepEqual(sites, []);
    },
  );

  await t.step("the service's settings win over the environment, the URL's over both", async () => {
    const noisy = { ...env, PGHOST: "127.0.0.9", PGPORT: "1", PGDATABASE: "nowhere" };
    const fromService = await cliJson(
      ["verify", "--central", "postgres://?service=central"],
      0,
      noisy,
    );
    assert.equal(fromService.central, resolved);
    const fromUrl = await cliJson(
      ["verify", "--central", `postgres://:${pg.port}?service=wrong-port`],
      0,
      noisy,
    );
    assert.equal(fromUrl.central, resolved);
  });

  await t.step(
    "PGSERVICEFILE names the user's file; PGSYSCONFDIR's pg_service.conf comes after it",
    async () => {
      const system = join(dir.path, "etc");
      await Deno.mkdir(system);
      await Deno.writeTextFile(
        join(system, "pg_service.conf"),
        section("system-only", right) + section("central", [...right, "port=1"]),
      );
      const own = join(dir.path, "own.conf");
      await Deno.writeTextFile(own, section("own", right));
      const both = { ...env, PGSYSCONFDIR: system, PGSERVICEFILE: own };
      for (const service of ["own", "system-only"]) {
        const result = await cliJson(
          ["central", "sites", "--central", `postgres://?service=${service}`],
          0,
          both,
        );
        assert.deepEqual(result, []);
      }
      // A service of the user's file is taken whole from there: the system's is not read.
      const user = { ...env, PGSYSCONFDIR: system };
      assert.deepEqual(
        await cliJson(["central", "sites", "--central", "postgres://?service=central"], 0, user),
        [],
      );
    },
  );

  await t.step(
    "application_name, PGAPPNAME, else audit-trail naming its command, is what the server sees",
    async () => {
      await pg.psql("CREATE ROLE wh_app LOGIN PASSWORD 'app-pw'");
      await cliJson(
        [
          "central",
          "grant",
          "WH-APP",
          "--role",
          "wh_app",
          "--central",
          "postgres://?service=central",
        ],
        0,
        env,
      );
      const db = await migratedDb(dir.path, "app.db");
      await logEvents(db, 2);
      const site = `postgres://wh_app:app-pw@127.0.0.1:${pg.port}/${database}`;
      const before = (await connections()).length;
      await cliJson(["sync", "--site", "WH-APP", "--db", db, "--central", site], 0, env);
      await cliJson(["query", "--central", site], 0, env);
      await cliJson(["query", "--central", site], 0, { ...env, PGAPPNAME: "nightly export" });
      await cliJson(["query", "--central", `${site}?application_name=bi%20check`], 0, {
        ...env,
        PGAPPNAME: "nightly export",
      });
      const names = new Set((await connections()).slice(before));
      assert.deepEqual(
        [...names].sort(),
        ["audit-trail query", "audit-trail sync", "bi check", "nightly export"],
      );
    },
  );

  await t.step("several hosts, each with its port: the first that answers is used", async () => {
    const url = `postgres://postgres@127.0.0.1:1,127.0.0.1:${pg.port}/${database}`;
    const viaUrl = await cliJson(["central", "sites", "--central", url], 0, {
      ...env,
      PGPASSWORD: secret,
    });
    assert.equal(viaUrl.length, 1);
    const viaEnv = await cliJson(["verify", "--central", "postgres://"], 0, {
      ...env,
      PGHOST: "127.0.0.1,127.0.0.1",
      PGPORT: `1,${pg.port}`,
      PGUSER: "postgres",
      PGDATABASE: database,
      PGPASSWORD: secret,
    });
    assert.equal(
      viaEnv.central,
      `postgres://postgres@127.0.0.1:1,127.0.0.1:${pg.port}/${database}`,
    );
  });

  await t.step(
    "several hosts none of which answers: exit 1 naming each, not a wait for an answer",
    async () => {
      const url = `postgres://postgres:${secret}@127.0.0.1:1,127.0.0.1:2/${database}`;
      const result = await runCli(["central", "sites", "--central", url], {
        env: { ...env, AUDIT_TRAIL_CENTRAL_TIMEOUT: "5" },
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /cannot be reached: no host accepted the connection \(nothing accepts connections at 127\.0\.0\.1:1; nothing accepts connections at 127\.0\.0\.1:2\)\n/,
      );
      assert.ok(!result.stderr.includes(secret));
    },
  );

  await t.step(
    "hostaddr connects to the address; the host name finds the password file's line",
    async () => {
      const passfile = join(dir.path, "pgpass");
      await Deno.writeTextFile(
        passfile,
        `central.invalid:${pg.port}:${database}:postgres:${secret}\n`,
        {
          mode: 0o600,
        },
      );
      const url = `postgres://postgres@central.invalid:${pg.port}/${database}`;
      const result = await cliJson(["verify", "--central", url], 0, {
        ...env,
        PGHOSTADDR: "127.0.0.1",
        PGPASSFILE: passfile,
      });
      assert.equal(
        result.central,
        `${url.replace(`:${pg.port}/`, `:${pg.port}/`)}?hostaddr=127.0.0.1`,
      );
    },
  );

  await t.step(
    "several hosts: each host's own line of the password file, as libpq looks it up",
    async () => {
      const passfile = join(dir.path, "pgpass-per-host");
      // The first host's line comes first and matches it only: its password is wrong for the
      // second host, which has a line of its own.
      await Deno.writeTextFile(
        passfile,
        `127.0.0.1:1:*:postgres:not-the-second-hosts\n127.0.0.1:${pg.port}:*:postgres:${secret}\n`,
        { mode: 0o600 },
      );
      const url = `postgres://postgres@127.0.0.1:1,127.0.0.1:${pg.port}/${database}`;
      const result = await cliJson(["verify", "--central", url], 0, {
        ...env,
        PGPASSFILE: passfile,
      });
      assert.equal(result.central, url);
    },
  );

  /**
   * Creates `role` with `password` (stored as `stored`), grants it reading, then checks that
   * psql, through libpq, and audit-trail both log in as it with the password as typed.
   */
  const logsInAs = async (role: string, password: string, stored: "scram-sha-256" | "md5") => {
    await pg.psql(
      `SET password_encryption = '${stored}'; CREATE ROLE ${role} LOGIN PASSWORD '${password}'`,
    );
    await cliJson(
      ["central", "grant", "--reader", "--role", role, "--central", "postgres://?service=central"],
      0,
      env,
    );
    await pg.psql("SELECT 1", database, { user: role, password });
    const url = `postgres://${role}@127.0.0.1:${pg.port}/${database}`;
    const result = await runCli(["central", "sites", "--central", url], {
      env: { ...env, PGPASSWORD: password },
    });
    assert.equal(result.code, 0, `${role}: ${result.stderr}`);
    assert.equal(JSON.parse(result.stdout).length, 1);
  };

  await t.step(
    "a password SASLprep changes (an ellipsis, a non-breaking space, full-width letters) logs in as with psql",
    async () => {
      const passwords = ["wait\u2026", "a\u00a0b\u00adc", "\uff50\uff57-1", "bell\u0007\u2026"];
      for (const [i, password] of passwords.entries()) {
        await logsInAs(`wh_prep_${i}`, password, "scram-sha-256");
      }
    },
  );

  await t.step(
    "an md5 or cleartext login takes the password as typed, as libpq sends it (SASLprep is for SCRAM)",
    async () => {
      // md5-stored roles, asked for md5 and for a cleartext password (as LDAP or PAM would be).
      const roles = { wh_md5: "md5", wh_plain: "password" };
      const hba = join(pg.dataDirectory, "pg_hba.conf");
      const lines = Object.entries(roles).map(([role, method]) =>
        `host all ${role} 127.0.0.1/32 ${method}\n`
      );
      await Deno.writeTextFile(hba, lines.join("") + await Deno.readTextFile(hba));
      await pg.psql("SELECT pg_reload_conf()");
      for (const role of Object.keys(roles)) await logsInAs(role, "wait\u2026 \uff50\uff57", "md5");
    },
  );

  await t.step(
    "a refused login names where its password came from, never the password",
    async () => {
      const wrong = `wrong-${crypto.randomUUID()}`;
      const passfile = join(dir.path, "pgpass-wrong");
      await Deno.writeTextFile(passfile, `*:*:*:*:${wrong}\n`, { mode: 0o600 });
      const serviceFile = join(dir.path, "wrong-password.conf");
      await Deno.writeTextFile(
        serviceFile,
        section("wrong-pw", [
          ...right.filter((l) => !l.startsWith("password")),
          `password=${wrong}`,
        ]),
      );
      const plain = `postgres://postgres@127.0.0.1:${pg.port}/${database}`;
      const cases: [string, Record<string, string>, string][] = [
        [`postgres://postgres:${wrong}@127.0.0.1:${pg.port}/${database}`, {}, "the URL"],
        [plain, { PGPASSWORD: wrong }, "PGPASSWORD"],
        [
          "postgres://?service=wrong-pw",
          { PGSERVICEFILE: serviceFile, PGPASSWORD: "not-read" },
          `service "wrong-pw" of "${serviceFile}"`,
        ],
        [plain, { PGPASSFILE: passfile }, `the password file "${passfile}"`],
      ];
      for (const [url, variables, from] of cases) {
        const result = await runCli(["central", "sites", "--central", url], {
          env: { ...env, ...variables },
        });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /refused the login of "postgres"/);
        assert.ok(
          result.stderr.includes(
            `hint: Check the user, and the password from ${from}, with the administrator.`,
          ),
          result.stderr,
        );
        assert.ok(!result.stderr.includes(wrong), result.stderr);
      }
    },
  );

  await t.step(
    "a missing service, an unreadable file or a bad line: exit 2, file and line named, no password, nothing written",
    async () => {
      const db = await migratedDb(dir.path, "refused.db");
      await logEvents(db, 3);
      const print = await fingerprint(db);
      const bad = join(dir.path, "bad.conf");
      await Deno.writeTextFile(
        bad,
        [
          "[elsewhere]",
          "this line is not read",
          "[no-equals]",
          `password=${secret}`,
          "port 5432",
          "[client-cert]",
          "host=127.0.0.1",
          `sslcert=/home/${secret}.crt`,
          "[nested]",
          "service=central",
        ].join("\n") + "\n",
      );
      const folder = join(dir.path, "a-folder.conf");
      await Deno.mkdir(folder);
      const cases: [Record<string, string>, string, RegExp][] = [
        [
          env,
          "absent",
          /^Service "absent" is not defined in ".*\.pg_service\.conf" nor ".*none\/pg_service\.conf"$/,
        ],
        [
          { ...env, PGSERVICEFILE: bad },
          "no-equals",
          /^Service file ".*bad\.conf", line 5 \(service "no-equals"\): is not keyword=value$/,
        ],
        [
          { ...env, PGSERVICEFILE: bad },
          "client-cert",
          /^Service file ".*bad\.conf", line 8 \(service "client-cert"\): "sslcert" is not a setting audit-trail reads$/,
        ],
        [
          { ...env, PGSERVICEFILE: bad },
          "nested",
          /line 10 \(service "nested"\): names another service/,
        ],
        [
          { ...env, PGSERVICEFILE: folder },
          "central",
          /^Service file ".*a-folder\.conf" cannot be read: it is not a file$/,
        ],
      ];
      for (const [variables, service, message] of cases) {
        for (
          const args of [
            [
              "sync",
              "--site",
              "WH-REFUSED",
              "--db",
              db,
              "--central",
              `postgres://?service=${service}`,
            ],
            ["central", "init", "--central", "postgres://"],
          ]
        ) {
          const result = await runCli(args, {
            env: { ...variables, PGSERVICE: service, PGPASSWORD: "" },
          });
          assert.equal(result.code, 2, result.stderr);
          assert.equal(result.stdout, "");
          const [line, hint] = result.stderr.trimEnd().split("\n");
          assert.match(line, /^audit-trail: error: /);
          assert.match(line.replace(/^audit-trail: error: /, ""), message);
          assert.match(hint, /^hint: /);
          assert.ok(!result.stderr.includes(secret), result.stderr);
        }
      }
      assert.equal(await fingerprint(db), print);
      const central = await pg.psql(
        "SELECT count(*) FROM audit_trail_sites WHERE site = 'WH-REFUSED'",
        database,
      );
      assert.equal(central.trim(), "0");
    },
  );
});
