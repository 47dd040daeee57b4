/**
 * HTML that cannot be injected into: every value put into a template is escaped unless it is
 * itself HTML made by a template. Data from the audit log (details, SKUs, user names) can hold
 * anything, `<script>` included; it only ever reaches a page through {@linkcode markup}.
 *
 * @module
 */

/** Text that is already HTML (made by {@linkcode markup} or {@linkcode raw}). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a template accepts: text and numbers are escaped, HTML is kept, lists are joined. */
export type HtmlValue = Html | string | number | null | undefined | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and quoted attribute values alike.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./html.ts";
 * assert.ok(escapeHtml(`<img src=x onerror="alert(1)">`) ===
 *   "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * A template tag: `markup\`<td>${value}</td>\`` escapes `value` unless it is {@linkcode Html}.
 * `null`, `undefined` and `false` print nothing, so `${cond && markup\`…\`}` works.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markup } from "./html.ts";
 * const details = "<script>alert(1)</script>";
 * assert.ok(markup`<td>${details}</td>`.text === "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>");
 * assert.ok(markup`<ul>${["a", "b"].map((x) => markup`<li>${x}</li>`)}</ul>`.text ===
 *   "<ul><li>a</li><li>b</li></ul>");
 * ```
 */
export function markup(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += render(values[i]) + strings[i + 1];
  return new Html(text!);
}

/** Marks text the program itself wrote (a stylesheet, a script, SVG it drew) as HTML. */
export function raw(text: string): Html {
  return new Html(text);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/**
 * `text` cut to `max` characters (whole code points), with how much was left out, for a cell
 * that must stay short.
 */
export function clipText(text: string, max: number): { text: string; omitted: number } {
  if (text.length <= max) return { text, omitted: 0 };
  // Characters as `log` counts them (its 65,536 limit): an emoji is one, not two UTF-16 units,
  // and a pair is never split, as its half left over would show as a broken character.
  let end = 0;
  for (let kept = 0; kept < max && end < text.length; kept++) {
    end += text.codePointAt(end)! > 0xffff ? 2 : 1;
  }
  let omitted = 0;
  for (let at = end; at < text.length; omitted++) at += text.codePointAt(at)! > 0xffff ? 2 : 1;
  return { text: text.slice(0, end), omitted };
}
