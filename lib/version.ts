/**
 * audit-trail's version, read from `deno.json` in this one place: `--version`, the help, the
 * debug bundle's manifest and system information, and the report's footer all show it.
 *
 * @module
 */
import denoConfig from "../deno.json" with { type: "json" };

/** The version of audit-trail, as in `deno.json`. */
export const TOOL_VERSION: string = denoConfig.version;
