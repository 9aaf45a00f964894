/**
 * How Chromium (and so Electron's WebFrameMain) names a frame's URL and origin — which is not
 * how Node's WHATWG `URL` does it. Node gives the origin "null" to every non-special scheme,
 * `vlx-app:` included, whatever Electron was told (LAB-NOTES, "Measured 2026-11-30").
 * Chromium, for a scheme registered with `protocol.registerSchemesAsPrivileged({ standard: true })`,
 * parses it like http: host lowercased, and a tuple origin "scheme://host[:port]".
 *
 * electron.d.ts, WebFrameMain.origin: "the current origin of the frame, serialized according to
 * RFC 6454 … if the frame is a child window opened to `about:blank`, then `frame.origin` will
 * return the parent frame's origin, while `frame.url` will return the empty string. Pages without
 * a scheme/host/port triple origin will have the serialized origin of "null"."
 */
const SPECIAL = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:']);

/** The URL as the frame reports it: canonical for standard schemes, as given otherwise. */
export function frameUrl(url: string, standardSchemes: ReadonlySet<string>): string {
  let u: URL;
  try { u = new URL(url); } catch { return url; }
  if (standardSchemes.has(u.protocol.slice(0, -1)) && u.host) {
    // A standard scheme's host is a domain: Chromium lowercases it, as it does for http.
    return `${u.protocol}//${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${u.host.toLowerCase()}${u.pathname || '/'}${u.search}${u.hash}`;
  }
  return u.href;
}

/** The serialized origin Chromium gives a document at `url` (empty or about:blank inherits). */
export function chromiumOrigin(url: string, standardSchemes: ReadonlySet<string>, inherited?: string): string {
  if (url === '' || url === 'about:blank') return inherited ?? 'null';
  let u: URL;
  try { u = new URL(url); } catch { return 'null'; }
  if (SPECIAL.has(u.protocol)) return u.origin;
  // Chromium serializes a file: origin as "file://" (Node says "null").
  if (u.protocol === 'file:') return 'file://';
  const scheme = u.protocol.slice(0, -1);
  if (standardSchemes.has(scheme) && u.host) return `${scheme}://${u.host.toLowerCase()}`;
  return 'null';
}
