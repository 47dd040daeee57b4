import assert from "node:assert/strict";
import { InvalidInputError, readNdjson } from "./internals.ts";
import { MAX_LINE_BYTES } from "../lib/ndjson.ts";

const encoder = new TextEncoder();

/** A byte stream delivering exactly these chunks. */
function streamOf(...chunks: (string | Uint8Array | number[])[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(
    chunks.map((c) =>
      typeof c === "string" ? encoder.encode(c) : c instanceof Uint8Array ? c : new Uint8Array(c)
    ),
  );
}

async function read(stream: ReadableStream<Uint8Array>) {
  const items = [];
  for await (const item of readNdjson(stream)) items.push(item);
  return items;
}

async function rejectsAtLine(stream: ReadableStream<Uint8Array>, line: number, message: RegExp) {
  await assert.rejects(
    read(stream),
    (e) => e instanceof InvalidInputError && e.line === line && message.test(e.message),
  );
}

Deno.test("readNdjson() yields each line's value with its line number", async () => {
  assert.deepEqual(await read(streamOf('{"operation":"A"}\n{"operation":"B","sku":"S"}\n')), [
    { line: 1, value: { operation: "A" } },
    { line: 2, value: { operation: "B", sku: "S" } },
  ]);
  assert.deepEqual(await read(streamOf("")), []);
  assert.deepEqual(await read(streamOf('{"a":1}')), [{ line: 1, value: { a: 1 } }]);
});

Deno.test("readNdjson() accepts CRLF line endings", async () => {
  assert.deepEqual(await read(streamOf('{"operation":"A"}\r\n{"operation":"B"}\r\n"x\\r"\r\n')), [
    { line: 1, value: { operation: "A" } },
    { line: 2, value: { operation: "B" } },
    { line: 3, value: "x\r" },
  ]);
  assert.deepEqual(await read(streamOf('{"a":1}\r', '\n{"a":2}\r')), [
    { line: 1, value: { a: 1 } },
    { line: 2, value: { a: 2 } },
  ]);
});

Deno.test("readNdjson() skips a byte order mark at the start", async () => {
  assert.deepEqual(await read(streamOf([0xef, 0xbb, 0xbf], '{"operation":"A"}\r\n')), [
    { line: 1, value: { operation: "A" } },
  ]);
  assert.deepEqual(await read(streamOf('\ufeff{"operation":"A"}')), [
    { line: 1, value: { operation: "A" } },
  ]);
});

Deno.test("readNdjson() treats a byte order mark inside the input the same however it is split", async () => {
  const text = '{"operation":"A"}\n\ufeff{"operation":"B"}\n';
  await rejectsAtLine(streamOf(text), 2, /^Line 2: not valid JSON/);
  await rejectsAtLine(
    streamOf('{"operation":"A"}\n', '\ufeff{"operation":"B"}\n'),
    2,
    /^Line 2: not valid JSON/,
  );
});

Deno.test("readNdjson() skips blank lines but still counts them", async () => {
  const items = await read(streamOf('\n{"n":2}\n\n   \n\t\r\n{"n":6}\n\n'));
  assert.deepEqual(items, [{ line: 2, value: { n: 2 } }, { line: 6, value: { n: 6 } }]);
  await rejectsAtLine(streamOf('\n\n{"n":3}\r\n\r\n{oops}\n'), 5, /^Line 5: not valid JSON/);
});

Deno.test("readNdjson() joins lines and characters split across chunks", async () => {
  const bytes = encoder.encode('{"details":"Äpfel ✓ 📦"}\n{"details":"ü"}');
  const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
  assert.deepEqual(await read(ReadableStream.from(chunks)), [
    { line: 1, value: { details: "Äpfel ✓ 📦" } },
    { line: 2, value: { details: "ü" } },
  ]);
});

Deno.test("readNdjson() names the line of malformed JSON", async () => {
  await rejectsAtLine(
    streamOf('{"operation":"A"}\n{"operation": "B"\n{"operation":"C"}\n'),
    2,
    /^Line 2: not valid JSON \(.+\)$/,
  );
  await rejectsAtLine(streamOf("{}\n{}\n{}\nnope"), 4, /^Line 4: not valid JSON/);
});

Deno.test("readNdjson() refuses a field given twice, however it is spelled, and only that", async () => {
  await rejectsAtLine(
    streamOf('{"operation":"A"}\n{"operation":"A","user":"ana","user":"bo"}\n'),
    2,
    /^Line 2: field "user" is given more than once$/,
  );
  await rejectsAtLine(
    streamOf('{"operation":"A", "op\\u0065ration" : "B"}\n'),
    1,
    /^Line 1: field "operation" is given more than once$/,
  );
  // Quotes, colons and brackets inside strings, nested objects and arrays: no field twice.
  const fine = [
    '{"operation":"A","details":"x\\"operation\\": {[ ] } \\\\","sku":"a:b"}',
    '{"operation":"A","details":"\\\\\\\\"}',
    '{ "operation" : "A" , "sku" : "S:1" }',
    '{"operation":"A","extra":{"user":1,"user":2},"list":[{"a":1},{"a":2}]}',
    '[{"a":1},{"a":1}]',
    "{}",
  ];
  const values = await read(streamOf(fine.join("\n")));
  assert.deepEqual(values.map((item) => item.value), fine.map((line) => JSON.parse(line)));
});

Deno.test("readNdjson() names the line that is not valid UTF-8", async () => {
  const bad = [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]; // {"a":"\xc3("}
  await rejectsAtLine(
    streamOf('{"a":1}\n\n', bad, [0x0a], '{"a":3}\n'),
    3,
    /^Line 3: is not valid UTF-8 text$/,
  );
  await rejectsAtLine(streamOf("{}\n", bad), 2, /^Line 2: is not valid UTF-8 text$/);
  await rejectsAtLine(streamOf([0xff, 0x0a]), 1, /^Line 1: is not valid UTF-8 text$/);
});

Deno.test("readNdjson() refuses an over-long line without waiting for its end", async () => {
  const limitMiB = MAX_LINE_BYTES / 1024 / 1024;
  const message = new RegExp(`^Line 2: is longer than ${limitMiB} MiB$`);
  const long = "x".repeat(MAX_LINE_BYTES + 1);
  await rejectsAtLine(streamOf("{}\n" + long + "\n{}\n"), 2, message);
  // A line that never ends is refused as soon as it passes the limit.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(pulled++ === 0 ? encoder.encode("{}\n") : new Uint8Array(1 << 20));
      if (pulled > 64) controller.close();
    },
  });
  await rejectsAtLine(endless, 2, message);
  assert.ok(pulled <= limitMiB + 3, `stopped reading after ${pulled} chunks`);
  // Exactly at the limit is fine.
  const atLimit = '"' + "y".repeat(MAX_LINE_BYTES - 2) + '"';
  const [item] = await read(streamOf(atLimit + "\n"));
  assert.equal((item.value as string).length, MAX_LINE_BYTES - 2);
});

Deno.test("readNdjson() reads a file synchronously as it reads a stream, across read boundaries", async () => {
  // Lines of every length around the 64 KiB reads, with CRLF, blank lines, a BOM first and
  // characters of 2, 3 and 4 bytes, so that some are cut by a read in the middle.
  const lines = ["\uFEFF" + JSON.stringify({ operation: "FIRST" })];
  for (let i = 0; lines.join("\n").length < 300_000; i++) {
    lines.push(JSON.stringify({ operation: `OP_${i}`, details: "äö€😀".repeat(i % 700) }));
    if (i % 97 === 0) lines.push("", "   ");
  }
  const text = lines.map((line, i) => i % 3 ? line + "\n" : line + "\r\n").join("");
  const path = await Deno.makeTempFile({ suffix: ".ndjson" });
  try {
    await Deno.writeTextFile(path, text);
    const fromStream = await read(streamOf(text));
    using file = await Deno.open(path);
    const fromFile = [];
    for await (const item of readNdjson(file)) fromFile.push(item);
    assert.deepEqual(fromFile, fromStream);
    assert.deepEqual(fromFile[0], { line: 1, value: { operation: "FIRST" } });
    assert.equal(fromFile.length, lines.filter((l) => l.trim() !== "").length);
    // A line that is not UTF-8, read synchronously, is named like any other.
    await Deno.writeFile(path, new Uint8Array([...encoder.encode('{"a":1}\n'), 0xff, 0x0a]));
    using bad = await Deno.open(path);
    await assert.rejects(
      (async () => {
        for await (const _ of readNdjson(bad));
      })(),
      (e) => e instanceof InvalidInputError && e.line === 2,
    );
  } finally {
    await Deno.remove(path);
  }
});
