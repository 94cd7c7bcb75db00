import * as Data from "effect/Data"
import * as Runtime from "effect/Runtime"

/** One invalid flag (or env var), named as the operator wrote it. */
export interface FlagProblem {
  readonly flag: string
  readonly message: string
  /** Set when the value came from this env var rather than from --flag: the message names the variable. */
  readonly envVar?: string | undefined
}

/** How the operator set it: `--flag`, or its env var. */
export const problemSource = (problem: FlagProblem): string => problem.envVar ?? `--${problem.flag}`

/** Bad flags or config: reported once, exit code 2, nothing started. */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly problems: ReadonlyArray<FlagProblem> }> {
  override readonly [Runtime.errorExitCode] = 2
  /** One line per problem, each starting with the flag (or env var). */
  override get message(): string {
    return this.problems.map((p) => `${problemSource(p)}: ${p.message}`).join("\n")
  }
  /** What the operator reads when the plugin stops for it. */
  report(): string {
    return ["invalid configuration:", ...this.problems.map((p) => `  ${problemSource(p)}: ${p.message}`)].join("\n")
  }
}
