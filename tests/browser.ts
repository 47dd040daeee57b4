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
        ...extra,
        url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
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
