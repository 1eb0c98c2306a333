// Credentials never reach the terminal: URLs are shown with "***" for their
// password, in normal output and in error messages alike.

/** The URL with its password replaced by "***". */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}

// The password runs to the last "@" before the host (a raw "@" in it is kept by URL parsers too).
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s/]*@/gi;

/**
 * Text with every `scheme://user:password@` password replaced by "***", and
 * the password of `url` (when it has one) removed wherever else it appears.
 */
export function redactText(text: string, url?: string): string {
  let out = text.replace(URL_PASSWORD, "$1***@");
  if (url !== undefined) {
    const secrets: string[] = [];
    try {
      const raw = new URL(url).password;
      secrets.push(raw, decodeURIComponent(raw));
    } catch { /* not a URL: nothing more to hide */ }
    for (const secret of secrets) {
      if (secret.length >= 3) out = out.split(secret).join("***");
    }
  }
  return out;
}
