import * as Data from "effect/Data"
import * as Runtime from "effect/Runtime"

/** The plugin cannot start: said once, in plain words; exit code 1. */
export class StartupError extends Data.TaggedError("StartupError")<{ readonly message: string }> {
  override readonly [Runtime.errorExitCode] = 1
  report(): string {
    return `cannot start: ${this.message}`
  }
}
