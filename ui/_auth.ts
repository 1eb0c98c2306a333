// Who may talk to the UI server: the random token (a query parameter once,
// then an HttpOnly cookie), the Host header (so a DNS-rebound name cannot
// reach us) and, for state-changing requests, the Origin header (so another
// web page open in the same browser cannot restore).
import type { IncomingMessage } from "node:http";

/** A fresh random token: 32 bytes as URL-safe hex. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The cookie's name. Cookies ignore ports, so two UI servers on one host
 * each get their own name instead of overwriting the other's token.
 */
export function cookieName(port: number): string {
  return `managing_state_ui_${port}`;
}

/** The Set-Cookie header that stores the token for this server. */
export function tokenCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
}

/** Compares two strings in time that depends only on their lengths. */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The token the request's cookie carries for this server, or undefined. */
export function cookieToken(req: IncomingMessage, port: number): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const name = cookieName(port);
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Hosts that mean this machine only. */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** Whether a host name or address is loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether a host binds every interface. */
function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** `host:port` as a Host header writes it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/** The Host header values this server answers to (null: any, when bound to every interface). */
export function allowedHosts(host: string, port: number): Set<string> | null {
  if (isWildcard(host)) return null;
  const names = isLoopback(host) ? ["127.0.0.1", "localhost", "[::1]", host] : [host];
  return new Set(names.map((h) => hostPort(h, port).toLowerCase()));
}

/** Whether the request's Host header names this server. */
export function hostAllowed(req: IncomingMessage, allowed: Set<string> | null): boolean {
  const host = req.headers.host?.toLowerCase();
  if (!host) return false;
  return allowed === null || allowed.has(host);
}

/**
 * Whether a state-changing request comes from this server's own page: its
 * Origin must be `http://` plus the Host it was sent to (already checked by
 * {@linkcode hostAllowed}). A request without Origin is refused: browsers
 * send it on every POST, so only a non-browser client would lack it, and
 * that client can send the right one.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  return typeof origin === "string" && typeof host === "string" &&
    origin.toLowerCase() === `http://${host.toLowerCase()}`;
}
