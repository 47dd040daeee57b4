/**
 * Debian's Chromium, headless, for the tests that look at pages as a browser shows them: the
 * DOM after scripts ran (`--dump-dom` with a virtual time budget), the console (where a
 * Content-Security-Policy violation is reported), and screenshots. `.ci/run` installs
 * Chromium when it is missing; no test downloads a browser of its own.
 *
 * @module
 */

/** The browser: `$CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** What Chromium showed: the DOM after scripts ran, and its console messages. */
export interface PageDump {
  dom: string;
  /** The console messages (`"…", source: URL (line)`), one a line. */
  console: string[];
}

/** Fails with a clear message when Chromium is not installed. */
export async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM`,
    );
  }
}

/** Headless, with `profile` as its own profile and no network of its own. */
function quietFlags(profile: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    `--user-data-dir=${profile}`,
  ];
}

/**
 * Chromium keeps its singleton socket in a folder of the temporary folder, which a browser
 * killed at the end of a test never removes: inside the profile, it goes with it.
 */
function tempFolderIn(profile: string): Record<string, string> {
  return { TMPDIR: profile };
}

/**
 * Runs headless Chromium on `url` with a profile of its own (removed afterwards), no network
 * of its own (no updates, no sync, no QUIC), and `extra` flags.
 */
async function runChromium(url: string, extra: string[]): Promise<Deno.CommandOutput> {
  await requireChromium();
  const profile = await Deno.makeTempDir({ prefix: "audit-trail-chromium-" });
  try {
    return await new Deno.Command(CHROMIUM, {
      args: [
        ...quietFlags(profile),
        ...extra,
        url,
      ],
      env: tempFolderIn(profile),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    await removeProfile(profile);
  }
}

/**
 * Removes a profile once Chromium is gone. Its helper processes outlive a killed browser by a
 * moment and may still be writing there, which makes a removal fail: it is tried again.
 */
async function removeProfile(profile: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      return await Deno.remove(profile, { recursive: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      if (attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * The DOM of `url` once its scripts ran (within `budgetMs` of virtual time), and what its
 * console said; in a window of the given size, or Chromium's default.
 */
export async function dumpDom(
  url: string,
  budgetMs = 3000,
  window?: { width: number; height: number },
): Promise<PageDump> {
  const output = await runChromium(url, [
    "--enable-logging=stderr",
    "--v=0",
    `--virtual-time-budget=${budgetMs}`,
    ...(window ? [`--window-size=${window.width},${window.height}`] : []),
    "--dump-dom",
  ]);
  const decoder = new TextDecoder();
  const stderr = decoder.decode(output.stderr);
  if (!output.success) throw new Error(`chromium failed (${output.code}): ${stderr.slice(-2000)}`);
  const console = stderr.split("\n")
    .filter((line) => line.includes(":CONSOLE"))
    .map((line) => line.replace(/^.*?:CONSOLE(?::\d+)?\] /, ""));
  return { dom: decoder.decode(output.stdout), console };
}

/** The console messages that report a Content-Security-Policy violation. */
export function cspViolations(dump: PageDump): string[] {
  return dump.console.filter((line) => /Content Security Policy/i.test(line));
}

/** Saves a PNG of `url` as shown in a window of `width` × `height` pixels. */
export async function screenshot(
  url: string,
  path: string,
  width = 1280,
  height = 1400,
): Promise<void> {
  const output = await runChromium(url, [
    "--hide-scrollbars",
    `--window-size=${width},${height}`,
    "--virtual-time-budget=3000",
    `--screenshot=${path}`,
  ]);
  if (!output.success) {
    throw new Error(`chromium failed (${output.code}): ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The rows of the first table with class `filterable`, each as its cells' text. */
export function tableRows(dom: string): { hidden: boolean; cells: string[] }[] {
  const table = /<table class="filterable">([\s\S]*?)<\/table>/.exec(dom)?.[1] ?? "";
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? "";
  return [...body.matchAll(/<tr([^>]*)>([\s\S]*?)<\/tr>/g)].map(([, attributes, row]) => ({
    hidden: /\bhidden\b/.test(attributes),
    cells: [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map(([, cell]) =>
      decodeEntities(cell.replace(/<[^>]*>/g, ""))
    ),
  }));
}

/** Text of HTML with its tags already removed: the five entities the pages use decoded. */
export function decodeEntities(text: string): string {
  return text.replace(
    /&(lt|gt|quot|#39|amp);/g,
    (_, name) => ({ lt: "<", gt: ">", quot: '"', "#39": "'", amp: "&" })[name as string]!,
  );
}

/** How {@linkcode evaluateIn} lays the page out. */
export interface Layout {
  /** Width of the window in CSS pixels (a window of 1280 at 200 % zoom is 640). */
  width: number;
  height?: number;
  /** `print` lays the page out as it prints (and saves as PDF), with print styles. */
  media?: "screen" | "print";
}

/**
 * The value of `expression` (JSON-serialisable) in `url` once it loaded, laid out as `layout`
 * says; through the DevTools protocol, which alone can lay a page out for print.
 */
export async function evaluateIn<T>(url: string, expression: string, layout: Layout): Promise<T> {
  await requireChromium();
  const profile = await Deno.makeTempDir({ prefix: "audit-trail-chromium-" });
  const browser = new Deno.Command(CHROMIUM, {
    args: [
      ...quietFlags(profile),
      "--hide-scrollbars",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    env: tempFolderIn(profile),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const port = await devToolsPort(browser.stderr);
    const targets: { type: string; webSocketDebuggerUrl: string }[] =
      await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const target = targets.find((t) => t.type === "page");
    if (!target) throw new Error("chromium opened no page");
    await using session = await DevTools.open(target.webSocketDebuggerUrl);
    await session.send("Emulation.setDeviceMetricsOverride", {
      width: layout.width,
      height: layout.height ?? 900,
      deviceScaleFactor: 1,
      mobile: false,
    });
    await session.send("Emulation.setEmulatedMedia", { media: layout.media ?? "screen" });
    await session.send("Page.enable");
    const loaded = session.next("Page.loadEventFired");
    await session.send("Page.navigate", { url });
    await loaded;
    const answer = await session.send("Runtime.evaluate", {
      expression: `JSON.stringify(${expression})`,
      returnByValue: true,
    }) as { result: { value?: string }; exceptionDetails?: { text: string } };
    if (answer.exceptionDetails || answer.result.value === undefined) {
      throw new Error(`the expression failed: ${JSON.stringify(answer.exceptionDetails)}`);
    }
    return JSON.parse(answer.result.value) as T;
  } finally {
    browser.kill("SIGKILL");
    await browser.status;
    await removeProfile(profile);
  }
}

/** The port Chromium says it listens on, read from its stderr (which is drained after). */
async function devToolsPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const lines = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`chromium did not start: ${seen.slice(-2000)}`);
    seen += value;
    const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(seen);
    if (match) {
      (async () => {
        while (!(await lines.read()).done) { /* drained so Chromium never blocks */ }
      })().catch(() => {});
      return Number(match[1]);
    }
  }
}

/** One DevTools protocol connection: commands answered in order of their ids, and events. */
class DevTools {
  #socket: WebSocket;
  #id = 0;
  #waiting = new Map<number, (message: DevToolsMessage) => void>();
  #listeners = new Map<string, () => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message: DevToolsMessage = JSON.parse(event.data);
      if (message.id !== undefined) {
        this.#waiting.get(message.id)?.(message);
        this.#waiting.delete(message.id);
      } else if (message.method) {
        this.#listeners.get(message.method)?.();
        this.#listeners.delete(message.method);
      }
    };
  }

  static async open(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    return new DevTools(socket);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#waiting.set(
        id,
        (message) =>
          message.error
            ? reject(new Error(`${method}: ${message.error.message}`))
            : resolve(message.result),
      );
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Resolves on the next event named `method`. */
  next(method: string): Promise<void> {
    return new Promise((resolve) => this.#listeners.set(method, resolve));
  }

  async [Symbol.asyncDispose]() {
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
  }
}

interface DevToolsMessage {
  id?: number;
  method?: string;
  result?: unknown;
  error?: { message: string };
}
