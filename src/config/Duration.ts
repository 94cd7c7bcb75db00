// Go-style durations ("500ms", "3s", "1m30s"), the format the Go plugin's
// flags used, so existing manifests keep working.
const unitMillis: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}

const whole = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/
const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g

/** Milliseconds for a Go-style duration, or undefined if it is not one. */
export const parseDurationMillis = (text: string): number | undefined => {
  if (text === "0") return 0
  if (!whole.test(text)) return undefined
  let total = 0
  for (const [, amount, unit] of text.matchAll(part)) {
    total += Number(amount) * (unitMillis[unit ?? ""] ?? Number.NaN)
  }
  return Number.isFinite(total) ? total : undefined
}

/** The shortest Go-style spelling of a whole number of milliseconds. */
export const formatDurationMillis = (millis: number): string => {
  if (millis === 0) return "0s"
  if (millis % 3_600_000 === 0) return `${millis / 3_600_000}h`
  if (millis % 60_000 === 0) return `${millis / 60_000}m`
  if (millis % 1_000 === 0) return `${millis / 1_000}s`
  return `${millis}ms`
}
