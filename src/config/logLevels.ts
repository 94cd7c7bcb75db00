import type * as LogLevel from "effect/LogLevel"

const levels: ReadonlyArray<LogLevel.LogLevel> = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"]

/** --log-level, case-insensitive: debug, Info and WARN all work ("warning" too). */
export const parseLogLevel = (text: string): LogLevel.LogLevel | undefined => {
  const lower = text.toLowerCase()
  if (lower === "warning") return "Warn"
  return levels.find((level) => level.toLowerCase() === lower)
}
