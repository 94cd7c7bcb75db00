import * as Data from "effect/Data"
import * as Runtime from "effect/Runtime"

/** One invalid flag (or env var), named as the operator wrote it. */
export interface FlagProblem {
  readonly flag: string
  readonly message: string
}

/** Bad flags or config: reported once, exit code 2, nothing started. */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly problems: ReadonlyArray<FlagProblem> }> {
  override readonly [Runtime.errorExitCode] = 2
  override get message(): string {
    return this.problems.map((p) => `--${p.flag}: ${p.message}`).join("\n")
  }
}
