/**
 * The read-only viewer: Deno's HTTP server, routing each request to a worker of the pool and
 * answering with the page, the JSON or the download, under a time limit.
 *
 * Safety: the database is opened read-only; only GET and HEAD are answered (405 otherwise);
 * on a loopback address only requests naming that address as their host are answered, so a
 * web page elsewhere cannot reach the viewer by pointing its own name at 127.0.0.1 (DNS
 * rebinding); every page carries a Content-Security-Policy that allows no inline script,
 * style or handler and no other origin; a bad query string gets 400 and the command line's
 * message.
 *
 * @module
 */
import { basename } from "node:path";
import type { ChainVerifyResult } from "../chain/mod.ts";
import { type AuditDatabase, openDatabase } from "../db.ts";
import { AuditTrailError, errorMessage, UsageError } from "../errors.ts";
import { writeObject } from "../output.ts";
import { requireCurrentSchema } from "../schema.ts";
import { STYLESHEET, TABLE_FILTER_SCRIPT } from "../report/assets.ts";
import { VIEWER_CSP } from "../report/page.ts";
import { type ChainWalk, ChainWatch } from "./chain_status.ts";
import { errorPage, verifyPage } from "./pages.ts";
import {
  JobError,
  type JobPieces,
  RequestAbandonedError,
  TimeLimitError,
  ViewerBusyError,
  WorkerPool,
} from "./pool.ts";
import { type JobRoute, routeOf } from "./routes.ts";

/** Options of {@linkcode startViewer}. */
export interface ViewerOptions {
  /** The database file; opened read-only. */
  database: string;
  /** The address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** The port (default 8470; 0 picks a free one). */
  port?: number;
  /** Time limit of a request, and of each piece of a download, in ms (default 10,000). */
  timeLimitMs?: number;
  /** Time limit of a verification of the whole chain, in ms (default 600,000). */
  verifyTimeLimitMs?: number;
  /** Workers answering requests at once (default 2). */
  workers?: number;
  /** Aborting stops the server. */
  signal?: AbortSignal;
}

/** A running viewer. */
export interface RunningViewer extends AsyncDisposable {
  /** Where to open it, e.g. `http://127.0.0.1:8470/`. */
  url: string;
  hostname: string;
  port: number;
  /** Whether it listens on a loopback address only. */
  loopback: boolean;
  /** Settles when the server has stopped. */
  finished: Promise<void>;
  /** Stops the server and its workers. */
  close(): Promise<void>;
  /** The chain's checks: their verdict, and how many were started. */
  chain: ChainWatch;
}

/** The default port: "84" for audit, "70" for the seventies' first audit trails. */
export const DEFAULT_PORT = 8470;
/** The default time limit of a request. */
export const DEFAULT_TIME_LIMIT_MS = 10_000;
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/** Whether `hostname` names this computer only. */
export function isLoopback(hostname: string): boolean {
  return LOOPBACK.has(hostname) || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Starts the viewer on the database at `options.database`.
 *
 * @throws {DatabaseNotFoundError} When there is no database there (and the other errors of
 * {@linkcode openDatabase} and {@linkcode requireCurrentSchema}).
 * @throws {AuditTrailError} When the port is taken or the address cannot be used.
 */
export async function startViewer(options: ViewerOptions): Promise<RunningViewer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const verifyLimitMs = options.verifyTimeLimitMs ?? 600_000;
  // Opened here first, so a missing or outdated database is reported as the CLI reports it.
  {
    using db: AuditDatabase = openDatabase(options.database, { readOnly: true });
    requireCurrentSchema(db);
  }
  const source = basename(options.database);
  const pool = await WorkerPool.start({
    path: options.database,
    source,
    size: options.workers ?? 2,
  });
  const chain = new ChainWatch(() => walkChain(pool, verifyLimitMs));
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let server: Deno.HttpServer<Deno.NetAddr>;
  /** Answered Host headers, `null` for any; none until the address is known. */
  let hosts: Set<string> | null = new Set();
  try {
    server = Deno.serve({
      hostname,
      port: options.port ?? DEFAULT_PORT,
      signal: stop.signal,
      onListen: () => {},
    }, (request) =>
      handle(request, {
        pool,
        source,
        hosts,
        chain,
        path: options.database,
        limits: { normal: timeLimitMs, stream: timeLimitMs, long: verifyLimitMs },
      }));
  } catch (error) {
    pool.close();
    throw listenError(error, hostname, options.port ?? DEFAULT_PORT);
  }
  const port = server.addr.port;
  // The address bound tells, where the name given may not: LOCALHOST, 0x7f.1 or
  // 0:0:0:0:0:0:0:1 are loopback too, and must keep the Host check.
  const loopback = isLoopback(server.addr.hostname);
  const shown = hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
  hosts = loopback
    ? new Set(
      [shown.toLowerCase(), "127.0.0.1", "localhost", "[::1]"].flatMap((
        h,
      ) => [`${h}:${port}`, ...(port === 80 ? [h] : [])]),
    )
    : null;
  const finished = server.finished.finally(() => pool.close());
  // In the background: the address is printed and pages answered while the chain is walked;
  // a failure is the overview's to show.
  chain.check().catch(() => {});
  const close = async () => {
    stop.abort();
    await finished;
  };
  return {
    url: `http://${shown}:${port}/`,
    hostname,
    port,
    loopback,
    finished,
    close,
    chain,
    [Symbol.asyncDispose]: close,
  };
}

/** Walks the whole chain on a worker of the pool. */
async function walkChain(pool: WorkerPool, limitMs: number): Promise<ChainWalk> {
  const pieces = await pool.run({ kind: "verify", page: false }, limitMs);
  while (await pieces.next() !== null) { /* nothing more is sent; this frees the worker */ }
  return JSON.parse(pieces.first);
}

interface HandlerContext {
  pool: WorkerPool;
  source: string;
  /** The Host headers answered; `null` answers any. */
  hosts: Set<string> | null;
  chain: ChainWatch;
  /** The database's path, as `/api/verify` names it (as `verify` does). */
  path: string;
  limits: Record<JobRoute["limit"], number>;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": VIEWER_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

async function handle(request: Request, context: HandlerContext): Promise<Response> {
  // The runtime builds the URL from the Host header as the client sent it, which need not be
  // a host name at all ("a b", "x:99999").
  const url = URL.canParse(request.url) ? new URL(request.url) : null;
  const html = url !== null && !url.pathname.startsWith("/api/") &&
    !/^\/events\./.test(url.pathname);
  const fail = (status: number, message: string, hint?: string, headers = {}) =>
    failure(status, message, hint, html ? context.source : null, headers);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return fail(405, `${request.method} is not allowed: the viewer is read-only`, "Use GET.", {
      allow: "GET, HEAD",
    });
  }
  // A page of another site may link to the viewer (a view mailed, then opened), but its
  // images, scripts and fetches may not make the viewer work: a page that asked for
  // /api/verify over and over would keep its few workers from the person using it.
  if (
    request.headers.get("sec-fetch-site") === "cross-site" &&
    request.headers.get("sec-fetch-mode") !== "navigate"
  ) {
    return fail(
      403,
      "The viewer does not answer requests of other web sites",
      "Open its address in the browser.",
    );
  }
  const host = request.headers.get("host") ?? "";
  if (context.hosts && !context.hosts.has(host.toLowerCase())) {
    return fail(
      421,
      `The viewer does not answer requests for "${host}"`,
      `Open it at one of: ${[...context.hosts].map((h) => `http://${h}/`).join(", ")}`,
    );
  }
  if (url === null) {
    return fail(
      400,
      `The request names no valid host: "${host}"`,
      "Open the address the viewer printed.",
    );
  }
  let route: ReturnType<typeof routeOf>;
  try {
    route = routeOf(url);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return fail(400, error.message, error.hint);
  }
  if (route === null) {
    return fail(404, `Nothing here: ${url.pathname}`, "Start from the overview at /.");
  }
  if ("asset" in route) {
    const isStyle = route.asset === "style";
    return new Response(isStyle ? STYLESHEET : TABLE_FILTER_SCRIPT, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": isStyle ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
        "cache-control": "no-cache",
      },
    });
  }
  if (route.job.kind === "verify") {
    let result: ChainVerifyResult;
    try {
      result = await untilAborted(context.chain.check(), request.signal);
    } catch (error) {
      const [status, message, hint] = described(error);
      return fail(status, message, hint);
    }
    let text = "";
    if (route.job.page) text = verifyPage(context.source, result);
    else {
      await writeObject(
        {
          write: (piece) => Promise.resolve(void (text += piece)),
        },
        { database: context.path, ...result },
        "json",
      );
    }
    return new Response(request.method === "HEAD" ? null : text, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": route.contentType,
        "cache-control": "no-store",
      },
    });
  }
  const job = route.job.kind === "overview"
    ? { ...route.job, chain: context.chain.status }
    : route.job;
  let pieces: JobPieces;
  try {
    pieces = await context.pool.run(job, context.limits[route.limit], request.signal);
  } catch (error) {
    const [status, message, hint] = described(error);
    return fail(status, message, hint);
  }
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    "content-type": route.contentType,
    "cache-control": "no-store",
  };
  if (route.download) {
    headers["content-disposition"] = `attachment; filename="${route.download}"`;
  }
  if (route.limit !== "stream") {
    // A page is one piece; answering with it whole gives the browser its length.
    let text = pieces.first;
    try {
      // Until the page is returned, the request's signal says only that the client left.
      const signal = request.signal;
      for (let p = await pieces.next(signal); p !== null; p = await pieces.next(signal)) {
        text += p;
      }
    } catch (error) {
      const [status, message, hint] = described(error);
      return fail(status, message, hint);
    }
    return new Response(request.method === "HEAD" ? null : text, { headers });
  }
  if (request.method === "HEAD") {
    pieces.cancel();
    return new Response(null, { headers });
  }
  return new Response(streamed(pieces, context.limits.stream), { headers });
}

/** `promise`, or a rejection as soon as `signal` aborts (the client left; the work goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new RequestAbandonedError());
  return new Promise<T>((resolve, reject) => {
    const abandoned = () => reject(new RequestAbandonedError());
    signal.addEventListener("abort", abandoned, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abandoned));
  });
}

/**
 * The pieces of a long answer as a response body. A client that takes no data for `limitMs`
 * (a paused download, a client that never reads) is cut off: until then it holds a worker,
 * and a few such clients would hold them all.
 */
function streamed(pieces: JobPieces, limitMs: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let idle: ReturnType<typeof setTimeout> | undefined;
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, piece: string) => {
    controller.enqueue(encoder.encode(piece));
    idle = setTimeout(() => {
      pieces.cancel();
      cutOff(controller, `its client took no data for ${limitMs / 1000} s`);
    }, limitMs);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (pieces.first) send(controller, pieces.first);
    },
    async pull(controller) {
      clearTimeout(idle);
      try {
        const piece = await pieces.next();
        if (piece === null) controller.close();
        else send(controller, piece);
      } catch (error) {
        // Part of the answer is sent: breaking the connection is the only way to say it failed.
        cutOff(controller, errorMessage(error));
      }
    },
    cancel() {
      clearTimeout(idle);
      pieces.cancel();
    },
  });
}

/**
 * Breaks off a response under way. The runtime writes the reason to stderr, so it is one
 * line (an error would bring its stack trace), and names no value of the request.
 */
function cutOff(controller: ReadableStreamDefaultController<Uint8Array>, reason: string): void {
  controller.error(`The viewer cut off a download: ${reason}`);
}

/** Status, message and hint for an error met while answering. */
function described(error: unknown): [number, string, string | undefined] {
  if (error instanceof TimeLimitError || error instanceof ViewerBusyError) {
    return [503, error.message, error.hint];
  }
  if (error instanceof JobError) {
    const status = error.kind === "UsageError"
      ? 400
      : error.kind === "DatabaseBusyError"
      ? 503
      : 500;
    return [status, error.message, error.hint];
  }
  if (error instanceof AuditTrailError) return [500, error.message, error.hint];
  return [
    500,
    `Unexpected failure: ${errorMessage(error)}`,
    "Please report this with a debug bundle (audit-trail bundle).",
  ];
}

/** An error as JSON `{"error", "hint"}`, or as a page when `source` is given. */
function failure(
  status: number,
  message: string,
  hint: string | undefined,
  source: string | null,
  extra: Record<string, string>,
): Response {
  const headers = { ...SECURITY_HEADERS, "cache-control": "no-store", ...extra };
  if (source !== null) {
    return new Response(errorPage(source, status, message, hint), {
      status,
      headers: { ...headers, "content-type": "text/html; charset=utf-8" },
    });
  }
  return new Response(JSON.stringify({ error: message, hint: hint ?? null }) + "\n", {
    status,
    headers: { ...headers, "content-type": "application/json; charset=utf-8" },
  });
}

function listenError(error: unknown, hostname: string, port: number): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new AuditTrailError(`Port ${port} is already in use on ${hostname}`, {
      hint:
        "Another viewer may be running. Choose another port with --port N (0 picks a free one).",
      cause: error,
    });
  }
  const hint = "Leave out --host to listen on 127.0.0.1, or give an address of this computer.";
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new AuditTrailError(`Cannot listen on ${hostname}: this computer has no such address`, {
      hint,
      cause: error,
    });
  }
  if (error instanceof URIError) {
    // Deno.serve's word for a host name with characters no host name may have.
    return new UsageError(`"${hostname}" is not a host name or address`, { hint, cause: error });
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new AuditTrailError(`Cannot listen on port ${port}: this user may not use it`, {
      hint: "Ports below 1024 need administrator rights: choose another with --port N (e.g. 8470).",
      cause: error,
    });
  }
  // A name that does not resolve comes as a plain Error whose text is the resolver's.
  if (error?.constructor === Error && isName(hostname)) {
    return new AuditTrailError(
      `Cannot listen on ${hostname}: no address of this computer is known by that name`,
      { hint, cause: error },
    );
  }
  // Anything else: what listening failed with, in one line that names the address, rather
  // than an unexpected failure.
  return new AuditTrailError(`Cannot listen on ${hostname} port ${port}: ${errorMessage(error)}`, {
    hint,
    cause: error,
  });
}

/** Whether `host` is a name to look up rather than an IPv4 or IPv6 address. */
function isName(host: string): boolean {
  return !host.includes(":") && !/^\d+(\.\d+){3}$/.test(host);
}
