import type { LogRecord } from "../../src/logging/Logging.ts"

// The plugin's stderr as JSON log records, one per line (its default format).

const isLogRecord = (value: unknown): value is LogRecord =>
  typeof value === "object" &&
  value !== null &&
  "msg" in value &&
  typeof value.msg === "string" &&
  "level" in value &&
  typeof value.level === "string" &&
  "time" in value &&
  typeof value.time === "string"

/** Every line of `stderr` as a log record; throws on a line that is not one. */
export const logRecords = (stderr: string): ReadonlyArray<LogRecord> =>
  stderr
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const parsed: unknown = JSON.parse(line)
      if (!isLogRecord(parsed)) throw new Error(`not a JSON log record: ${line}`)
      return parsed
    })
