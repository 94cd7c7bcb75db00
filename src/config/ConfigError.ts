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
  /** One line per problem, each starting with the flag. */
  override get message(): string {
    return this.problems.map((p) => `--${p.flag}: ${p.message}`).join("\n")
  }
  /** What the operator reads when the plugin stops for it. */
  report(): string {
    return ["invalid configuration:", ...this.problems.map((p) => `  --${p.flag}: ${p.message}`)].join("\n")
  }
}
