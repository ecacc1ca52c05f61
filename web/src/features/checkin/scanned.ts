/** What a scanned QR holds: the ticket code itself, or a link carrying it as `code=`. */
export function codeFromScan(raw: string): string {
  const value = raw.trim();
  if (!/^https?:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    return url.searchParams.get('code') ?? url.pathname.split('/').filter(Boolean).pop() ?? value;
  } catch {
    return value;
  }
}
