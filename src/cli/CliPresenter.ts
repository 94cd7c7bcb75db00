import * as Console from "effect/Console"
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Effect from "effect/Effect"
import { pluginName } from "../version.ts"

// Help goes to stdout as usual; a bad invocation gets one line per problem on
// stderr (naming the flag) instead of the whole help text.

const invalidInvocation = (commandPath: ReadonlyArray<string>, errors: ReadonlyArray<CliError.NonShowHelpErrors>) =>
  Effect.forEach(
    [...errors.map((error) => `${pluginName}: ${error.message}`), `Run '${commandPath.join(" ")} --help' for usage.`],
    (line) => Console.error(line),
    { discard: true }
  )

export const cliPresenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation" ? invalidInvocation(event.commandPath, event.errors) : CliOutput.defaultPresenter.present(event)
}

/**
 * Single-dash words that name no flag (`-key-urri=x`), said as typed (effect/cli
 * would read them as -k -e -y …); exit 2 like any bad invocation.
 */
export const refuseUnknownFlags = (
  words: ReadonlyArray<string>,
  commandPath: ReadonlyArray<string>
): Effect.Effect<never, CliError.ShowHelp> => {
  const errors = words.map(
    (word) => new CliError.UnrecognizedOption({ option: word.split("=")[0] ?? word, command: [...commandPath], suggestions: [] })
  )
  return Effect.andThen(
    invalidInvocation(commandPath, errors),
    Effect.fail(new CliError.ShowHelp({ commandPath: [...commandPath], errors }))
  )
}
