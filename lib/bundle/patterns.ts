/**
 * Secrets recognised by their shape rather than by the key they are stored under: a value of
 * the settings such as `"webhook": "https://hooks.slack.com/services/T…/B…/…"` or a private
 * key pasted under `"notes"`. Two sources, used together:
 *
 * - secretlint's recommended rule set (`@secretlint/secretlint-rule-preset-recommend`, a
 *   maintained collection: private keys, Slack, GitHub, AWS, GCP, npm, OpenAI, Stripe and
 *   other vendors' tokens), loaded on first use so that only the bundle pays for it;
 * - our own patterns for what that set leaves out: Microsoft Teams and Slack workflow
 *   webhooks, `sig=` signatures in URLs (Azure SAS), bearer and basic `Authorization`
 *   values, JSON Web Tokens, and PEM private keys that secretlint skips as placeholders
 *   (it wants 100 Base64 characters; a truncated key is still a secret).
 *
 * @module
 */

/** Where a secret lies in a text: `text.slice(start, end)`, and what recognised it. */
export interface SecretSpan {
  start: number;
  end: number;
  /** `pem-private-key`, `slack-webhook`, … or a secretlint rule id. */
  rule: string;
}

/**
 * Our own patterns. Each regex has one group, `secret`, the part to hide: a webhook keeps its
 * host (it helps diagnosis: which service was called), a bearer token its scheme. `contains`
 * lists fixed texts of which every match holds one (`caseless`: in any ASCII case), so that
 * SQLite can pick the few cells worth reading out of a large table.
 */
export const SECRET_PATTERNS: readonly {
  rule: string;
  pattern: RegExp;
  contains: readonly string[];
  caseless?: boolean;
}[] = [
  {
    // RFC 7468 labels: PRIVATE KEY, RSA/EC/DSA/OPENSSH/ENCRYPTED PRIVATE KEY, PGP PRIVATE KEY
    // BLOCK. A block cut off before its END line is hidden to the end of the text.
    rule: "pem-private-key",
    pattern:
      /(?<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$))/g,
    contains: ["PRIVATE KEY"],
  },
  {
    // https://hooks.slack.com/services/T…/B…/… and /workflows/…, /triggers/…
    rule: "slack-webhook",
    pattern:
      /https:\/\/hooks\.slack(?:-gov)?\.com\/(?<secret>(?:services|workflows|triggers)\/[A-Za-z0-9_\/-]+)/g,
    contains: ["https://hooks.slack"],
  },
  {
    // Office 365 connectors: https://TENANT.webhook.office.com/webhookb2/GUID@GUID/IncomingWebhook/HEX/GUID
    rule: "teams-webhook",
    pattern:
      /https:\/\/[A-Za-z0-9-]+\.webhook\.office\.com\/(?<secret>webhookb2\/[A-Za-z0-9@\/-]+)/g,
    contains: [".webhook.office.com/"],
  },
  {
    // Shared access signatures (Azure Storage, Service Bus, Logic Apps / Teams workflows):
    // the signature is the secret; sv, se, sp… only describe it.
    rule: "url-signature",
    pattern: /[?&](?:sig|signature|x-amz-signature)=(?<secret>[^&#\s"'<>]+)/gi,
    contains: ["sig=", "signature="],
    caseless: true,
  },
  {
    // Authorization: Bearer <RFC 6750 b64token>, and Basic <base64>. A token is random: it
    // has a digit, a symbol, or capitals after its first letter ("Basic settings" has not).
    rule: "authorization-header",
    pattern:
      /\b(?:Bearer|Basic)\s+(?<secret>(?=[A-Za-z0-9\-._~+\/]*(?:[0-9\-._~+\/=]|[A-Za-z][A-Z]))[A-Za-z0-9\-._~+\/]{8,}=*)/g,
    contains: ["Bearer", "Basic"],
  },
  {
    // header.payload.signature, each Base64url; the header of every JWT starts {"… = eyJ.
    rule: "jwt",
    pattern: /\b(?<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)/g,
    contains: ["eyJ"],
  },
];

/** The spans our own patterns find in `text`, in order, overlapping ones merged. */
export function ownSecretSpans(text: string): SecretSpan[] {
  const spans: SecretSpan[] = [];
  for (const { rule, pattern } of SECRET_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const secret = match.groups!.secret;
      if (!secret) continue;
      const start = match.index! + match[0].indexOf(secret);
      spans.push({ start, end: start + secret.length, rule });
    }
  }
  return mergeSpans(spans);
}

/** Sorts spans and merges those that overlap or touch (the first rule names the result). */
export function mergeSpans(spans: SecretSpan[]): SecretSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: SecretSpan[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

type Lint = (text: string) => Promise<SecretSpan[]>;
let secretlint: Promise<Lint> | undefined;

/** secretlint with its recommended rules, loaded once, on first use. */
function loadSecretlint(): Promise<Lint> {
  secretlint ??= Promise.all([
    import("@secretlint/core"),
    import("@secretlint/secretlint-rule-preset-recommend"),
  ]).then(([{ lintSource }, { creator }]) => {
    const config = {
      rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: creator }],
    };
    return async (text: string) => {
      const result = await lintSource({
        source: { filePath: "value.txt", content: text, ext: ".txt", contentType: "text" },
        options: { config, noPhysicFilePath: true },
      });
      return result.messages.map((m) => ({ start: m.range[0], end: m.range[1], rule: m.ruleId }));
    };
  });
  return secretlint;
}

/**
 * Every secret that secretlint's recommended rules or our own patterns recognise in `text`,
 * in order, overlapping spans merged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findSecretSpans } from "./patterns.ts";
 * const text = "Authorization: Bearer abc123DEF456ghi";
 * const [span] = await findSecretSpans(text);
 * assert.equal(text.slice(span.start, span.end), "abc123DEF456ghi");
 * ```
 */
export async function findSecretSpans(text: string): Promise<SecretSpan[]> {
  return mergeSpans([...ownSecretSpans(text), ...await secretlintSpans(text)]);
}

/** The spans secretlint's recommended rules report in `text`, in order, merged. */
export async function secretlintSpans(text: string): Promise<SecretSpan[]> {
  const lint = await loadSecretlint();
  return mergeSpans(await lint(text));
}
