/**
 * The frame of every page of the report and the viewer, and its Content-Security-Policy.
 *
 * @module
 */
import { sha256Hex } from "../sha256.ts";
import { STYLESHEET, TABLE_FILTER_SCRIPT } from "./assets.ts";
import { type Html, type HtmlValue, markup, raw } from "./html.ts";

/** Where a page's stylesheet and script come from. */
export type PageAssets =
  /** Inside the page, allowed by hash: a file that opens anywhere, offline. */
  | "inline"
  /** From the server's own origin (`/assets/…`). */
  | "linked";

/** What a page shows. */
export interface PageContent {
  title: string;
  /** The line under the title. */
  subtitle?: HtmlValue;
  /** Links in the header. */
  nav?: HtmlValue;
  body: HtmlValue;
}

/** Paths of the viewer's assets. */
export const ASSET_PATHS = { style: "/assets/style.css", script: "/assets/app.js" } as const;

/**
 * The Content-Security-Policy of the viewer's pages: nothing from another origin, no inline
 * script, style or event handler, no plugins, no framing, forms only to the viewer itself.
 */
export const VIEWER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The policy of the report, carried in its own `<meta>` tag: the one stylesheet and the one
 * script inside it, each allowed by its SHA-256, and nothing else at all (no request leaves the
 * file, and an injected script or handler would not run).
 */
export const REPORT_CSP = [
  "default-src 'none'",
  `style-src '${cspHash(STYLESHEET)}'`,
  `script-src '${cspHash(TABLE_FILTER_SCRIPT)}'`,
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

// The end tag of a script goes into templates as a value: written inside a tagged template, the
// bundler escapes it and keeps the template's raw text through a helper module, which every file
// of the built program then imports, so every command would load one module more at its start.
const END_SCRIPT = raw("</script>");

/** A whole HTML document. */
export function renderPage(content: PageContent, assets: PageAssets): string {
  const head = assets === "inline"
    ? markup`<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<style>${raw(STYLESHEET)}</style>`
    : markup`<link rel="stylesheet" href="${ASSET_PATHS.style}">
<script src="${ASSET_PATHS.script}" defer>${END_SCRIPT}`;
  const tail: Html | null = assets === "inline"
    ? markup`<script>${raw(TABLE_FILTER_SCRIPT)}${END_SCRIPT}`
    : null;
  return markup`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
${head}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${content.title}</title>
</head>
<body>
<header class="top"><h1>${content.title}</h1>${
    content.subtitle ? markup`<p>${content.subtitle}</p>` : null
  }${content.nav ? markup`<nav>${content.nav}</nav>` : null}</header>
<main>
${content.body}
</main>
${tail}
</body>
</html>
`.text;
}

/** `sha256-…` of `text` as CSP writes a hash source. */
export function cspHash(text: string): string {
  const hex = sha256Hex(text);
  let binary = "";
  for (let i = 0; i < hex.length; i += 2) {
    binary += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  }
  return `sha256-${btoa(binary)}`;
}
