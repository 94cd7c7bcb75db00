import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as CliError from "effect/cli/CliError"
import { ConfigError } from "../config/ConfigError.ts"
import { pluginName } from "../version.ts"
import { makeShutdown, Shutdown } from "./Shutdown.ts"
import { StartupError } from "./StartupError.ts"

// The process around the plugin. SIGTERM, SIGINT and SIGHUP all mean "drain
// and stop" (Node's default for SIGHUP is to die, which killed the Go plugin
// under `docker kill --signal=SIGHUP`). A second signal forces the exit; the
// socket is still removed by its exit hook.
//
// Exit codes: 0 clean stop, 2 bad flags or config, 1 anything else (including
// a forced stop or a grace period that ran out).

const signals: ReadonlyArray<NodeJS.Signals> = ["SIGTERM", "SIGINT", "SIGHUP"]

const exitCodeOf = (exit: Exit.Exit<unknown, unknown>, forced: string | undefined): number => {
  if (Exit.isSuccess(exit)) return forced === undefined ? 0 : 1
  if (Cause.hasInterruptsOnly(exit.cause)) return forced === undefined ? 0 : 1
  const error = Cause.squash(exit.cause)
  // effect/cli says 1 for a bad invocation; bad flags are 2 here, like bad config.
  if (CliError.isCliError(error)) return error._tag === "ShowHelp" && error.errors.length === 0 ? 0 : 2
  return Runtime.getErrorExitCode(error)
}

const report = (exit: Exit.Exit<unknown, unknown>): void => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return
  const error = Cause.squash(exit.cause)
  if (error instanceof ConfigError) {
    process.stderr.write(`${pluginName}: invalid configuration:\n${error.problems.map((p) => `  --${p.flag}: ${p.message}`).join("\n")}\n`)
  } else if (error instanceof StartupError) {
    process.stderr.write(`${pluginName}: cannot start: ${error.message}\n`)
  } else if (isServeError(error)) {
    process.stderr.write(`${pluginName}: cannot start the health server: ${String(error.cause)}\n`)
  } else if (!Runtime.getErrorReported(error)) {
    // Already presented (effect/cli parse errors).
  } else {
    process.stderr.write(`${pluginName}: ${Cause.pretty(exit.cause)}\n`)
  }
}

const isServeError = (error: unknown): error is { readonly _tag: "ServeError"; readonly cause: unknown } =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "ServeError" && "cause" in error

export const runMain = (program: Effect.Effect<void, unknown, Shutdown>): void => {
  const shutdown = makeShutdown()
  const main = Effect.provideService(program, Shutdown, shutdown)
  Runtime.makeRunMain(({ fiber }) => {
    let received = 0
    const onSignal = (signal: NodeJS.Signals) => {
      received += 1
      if (received === 1) {
        fiber.interruptUnsafe(fiber.id)
      } else {
        process.stderr.write(`${pluginName}: ${signal} again: exiting now, in-flight calls are cut\n`)
        process.exit(1)
      }
    }
    for (const signal of signals) process.on(signal, onSignal)
    fiber.addObserver((exit) => {
      for (const signal of signals) process.removeListener(signal, onSignal)
      report(exit)
      const code = exitCodeOf(exit, shutdown.forcedReason())
      if (received > 0 || code !== 0) process.exit(code)
    })
  })(main, { disableErrorReporting: true })
}
