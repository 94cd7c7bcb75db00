import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import { type LogFormat, PluginConfig } from "../config/PluginConfig.ts"

// Log lines go to stderr (stdout is for command output such as `probe`):
// JSON by default, one object per line with the annotations at top level so
// they can be searched as fields; or text for humans. Nothing logged anywhere
// in the plugin carries plaintext, key material or credentials.

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((part) => (typeof part === "string" ? part : safeJson(part))).join(" ")

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

export interface LogRecord {
  readonly time: string
  readonly level: string
  readonly msg: string
  readonly [field: string]: unknown
}

const recordOf = (options: Logger.Options<unknown>): LogRecord => {
  const base = { time: options.date.toISOString(), level: options.logLevel.toLowerCase(), msg: messageText(options.message) }
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options.fiber.getRef(References.CurrentLogAnnotations))) {
    if (!(key in base)) fields[key] = value
  }
  if (options.cause.reasons.length > 0) fields["error"] = Cause.pretty(options.cause)
  return { ...base, ...fields }
}

export const formatJsonLine = (record: LogRecord): string => safeJson(record)

export const formatTextLine = (record: LogRecord): string => {
  const { level, msg, time, ...fields } = record
  const rest = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === "string" ? JSON.stringify(value) : safeJson(value)}`)
  return [time, level.toUpperCase().padEnd(5), msg, ...rest].join(" ")
}

const writer = (format: (record: LogRecord) => string) =>
  Logger.make((options) => {
    process.stderr.write(`${format(recordOf(options))}\n`)
  })

/** Replaces the default logger and sets the minimum level. */
export const layerWith = (format: LogFormat, level: LogLevel.LogLevel): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([writer(format === "json" ? formatJsonLine : formatTextLine)]),
    Layer.succeed(References.MinimumLogLevel, level)
  )

/** Logging as --log-format and --log-level ask. */
export const layer: Layer.Layer<never, never, PluginConfig> = Layer.unwrap(
  PluginConfig.useSync((config) => layerWith(config.logFormat, config.logLevel))
)
