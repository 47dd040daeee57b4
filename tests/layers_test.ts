/**
 * The layers the code keeps (DEVELOPERS.md, "Conventions"): no import cycles, the library
 * imports nothing of the command line, the command line leaves SQLite's errors to the library,
 * and the helpers that exist once are not written again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { ROOT, tempDir } from "./helpers.ts";

/** Every TypeScript file of the program: cli.ts, mod.ts, launcher.ts, cli/ and lib/. */
function programFiles(): string[] {
  const files = ["cli.ts", "mod.ts", "launcher.ts"];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (path.endsWith(".ts")) files.push(path);
    }
  };
  walk("cli");
  walk("lib");
  return files.sort();
}

/**
 * Which program files each program file imports, as `deno info` resolves them (static,
 * type-only and literal dynamic imports), plus the computed ones of `importOnDemand`.
 */
async function importGraph(): Promise<Map<string, Set<string>>> {
  await using dir = await tempDir();
  const entry = join(dir.path, "all.ts");
  const url = (file: string) => new URL(file, `file://${ROOT}/`).href;
  await Deno.writeTextFile(entry, programFiles().map((f) => `import "${url(f)}";\n`).join(""));
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", join(ROOT, "deno.json"), entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
    }[];
  };
  const own = (specifier: string | undefined) =>
    specifier?.startsWith("file://") && !specifier.startsWith(`file://${dir.path}`)
      ? relative(ROOT, new URL(specifier).pathname)
      : null;
  const graph = new Map<string, Set<string>>();
  for (const module of info.modules) {
    const from = own(module.specifier);
    if (from === null || from.startsWith("..")) continue;
    const to = new Set<string>();
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        const file = own(target);
        if (file !== null && file.endsWith(".ts")) to.add(file);
      }
    }
    const source = await Deno.readTextFile(join(ROOT, from));
    for (const [, module] of source.matchAll(/importOnDemand(?:<[^>]*>)?\(\s*"([^"]+)"/g)) {
      to.add(module);
    }
    graph.set(from, to);
  }
  return graph;
}

/** The cycles of `graph`: each strongly connected set of more than one module, or a self-import. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const set: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        set.push(w);
      } while (w !== v);
      if (set.length > 1 || graph.get(v)?.has(v)) found.push(set.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

Deno.test("cycles() finds a cycle, through a computed import too, and none in a tree", () => {
  const graph = (edges: Record<string, string[]>) =>
    new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
  assert.deepEqual(cycles(graph({ a: ["b"], b: ["c"], c: [] })), []);
  assert.deepEqual(cycles(graph({ a: ["b"], b: ["c"], c: ["a"], d: ["a"] })), [["a", "b", "c"]]);
  assert.deepEqual(cycles(graph({ a: ["a"] })), [["a"]]);
});

Deno.test("no module of the program imports itself back, and lib/ imports nothing of the command line", async () => {
  const graph = await importGraph();
  // The graph is the whole program: if deno info stopped listing it, this would check nothing.
  for (const file of ["cli.ts", "lib/db.ts", "lib/chain/verify.ts", "lib/archive/verify.ts"]) {
    assert.ok(graph.has(file), `${file} is not in the import graph`);
  }
  assert.ok(graph.get("cli.ts")!.has("cli/log.ts"), "the commands loaded on demand are edges");
  assert.deepEqual(cycles(graph), []);
  const upward = [...graph].flatMap(([from, to]) =>
    from.startsWith("lib/")
      ? [...to].filter((file) => !file.startsWith("lib/")).map((file) => `${from} -> ${file}`)
      : []
  );
  assert.deepEqual(upward, []);
});

/**
 * The lines of the program files under `dirs` that match `pattern`, as `file:line: text`;
 * comments (and the examples in them) are passed over.
 */
function matching(pattern: RegExp, dirs: string[], except: string[] = []): string[] {
  const hits: string[] = [];
  for (const file of programFiles()) {
    if (!dirs.some((dir) => file === dir || file.startsWith(`${dir}/`))) continue;
    if (except.includes(file)) continue;
    Deno.readTextFileSync(join(ROOT, file)).split("\n").forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return;
      if (pattern.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return hits;
}

Deno.test("the command line leaves SQLite to the library: no translation of its errors, no SQL", () => {
  assert.deepEqual(
    matching(/\btranslateSqliteError\b|\bguard\(|\.sqlite\.|\.exec\(/, ["cli", "cli.ts"]),
    [],
  );
});

Deno.test("the library's messages name values, not flags, but where it reads the flags' text", () => {
  // A message (not a hint: a hint may show a command line to run) that starts with a flag.
  const flagFirst = /(?:Error|notACount)\(\s*[`"]--[a-z]/;
  assert.deepEqual(matching(flagFirst, ["lib"], ["lib/query_options.ts"]), []);
  // The exception: the option texts of `query` and of the viewer's URLs (which mirror its
  // flags, so that both give the same message) are read in lib/query_options.ts.
  const flagNamed = matching(/(?:checkTimeBound|parseCount)\([^)]*"--/, ["lib"]);
  assert.deepEqual([...new Set(flagNamed.map((hit) => hit.split(":")[0]))], [
    "lib/query_options.ts",
    "lib/viewer/routes.ts",
  ]);
});

Deno.test("helpers that exist once are not written again", () => {
  // The message of anything thrown, on one line: lib/errors.ts's errorMessage.
  assert.deepEqual(
    matching(
      /instanceof Error \? \w+\.message : String\(/,
      ["cli", "cli.ts", "lib", "launcher.ts"],
      [
        "lib/errors.ts",
      ],
    ),
    [],
  );
  // Writing every byte: lib/io.ts's writeAll.
  assert.deepEqual(
    matching(/subarray\(await /, ["cli", "cli.ts", "lib", "launcher.ts"], ["lib/io.ts"]),
    [],
  );
  // The tool's version: lib/version.ts.
  assert.deepEqual(
    matching(/deno\.json"/, ["cli", "cli.ts", "lib", "launcher.ts"], ["lib/version.ts"]),
    [],
  );
  // Opening the database and checking its schema: cli/context.ts's openCurrentDatabase.
  assert.deepEqual(
    matching(/requireCurrentSchema|openDatabase\(/, ["cli"], ["cli/context.ts", "cli/migrate.ts"]),
    [],
  );
  // A whole number of 0 or more: lib/count.ts.
  assert.deepEqual(
    matching(/isSafeInteger\(\w+\) \|\| \w+ < 0/, ["cli", "lib"], ["lib/count.ts"]),
    [],
  );
  // Transactions: lib/db.ts's helpers, but for the raw connections that write private files.
  assert.deepEqual(
    matching(/exec\("(BEGIN|COMMIT)/, ["cli", "lib"], [
      "lib/db.ts",
      "lib/bulk_append.ts",
      "lib/archive/file.ts",
      "lib/bundle/logical_copy.ts",
      "lib/bundle/mask_database.ts",
    ]),
    [],
  );
});
