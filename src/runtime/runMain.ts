import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import { pluginName } from "../version.ts"

// The process around the program: run it, say once why it failed, exit.
// Exit codes: 0 done or stopped cleanly, 2 bad flags or config, 1 anything
// else (including a forced stop). Signals are the Shutdown layer's.

const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  // effect/cli says 1 for a bad invocation; bad flags are 2 here, like bad config.
  if (CliError.isCliError(error)) return error._tag === "ShowHelp" && error.errors.length === 0 ? 0 : 2
  return Runtime.getErrorExitCode(error)
}

/** An error that says itself what stopped the plugin (bad config, a start-up failure), in plain words. */
interface Reported {
  readonly report: () => string
}

const isReported = (error: unknown): error is Reported =>
  typeof error === "object" && error !== null && "report" in error && typeof error.report === "function"

/** Our own errors say what is wrong in plain words; anything else is a defect, shown whole. */
const reportOf = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return undefined
  const error = Cause.squash(exit.cause)
  if (!Runtime.getErrorReported(error)) return undefined // already said (effect/cli parse errors, failed checks)
  return isReported(error) ? error.report() : Cause.pretty(exit.cause)
}

export const runMain = (program: Effect.Effect<void, unknown>): void => {
  Runtime.makeRunMain(({ fiber }) => {
    fiber.addObserver((exit) => {
      const report = reportOf(exit)
      if (report !== undefined) process.stderr.write(`${pluginName}: ${report}\n`)
      process.exit(exitCodeOf(exit))
    })
  })(program, { disableErrorReporting: true })
}
