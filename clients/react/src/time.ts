const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["year", 365 * 24 * 3600 * 1000],
  ["month", 30 * 24 * 3600 * 1000],
  ["week", 7 * 24 * 3600 * 1000],
  ["day", 24 * 3600 * 1000],
  ["hour", 3600 * 1000],
  ["minute", 60 * 1000],
  ["second", 1000],
];

const formats = new Map<string, Intl.RelativeTimeFormat>();

/** "2 minutes ago", "yesterday", "now" (Intl.RelativeTimeFormat in `locale`). */
export function formatRelativeTime(atMs: number, nowMs: number, locale?: string): string {
  const key = locale ?? "";
  let format = formats.get(key);
  if (!format) {
    format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    formats.set(key, format);
  }
  const diff = atMs - nowMs;
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size || unit === "second") {
      // Math.round(-1.5) is -1: round the magnitude so past and future agree.
      return format.format(Math.sign(diff) * Math.round(Math.abs(diff) / size), unit);
    }
  }
  return format.format(0, "second");
}
