import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as CliOutput from "effect/cli/CliOutput"
import { pluginName } from "../version.ts"

// Help goes to stdout as usual; a bad invocation gets one line per problem on
// stderr (naming the flag) instead of the whole help text.
export const cliPresenter: CliOutput.Presenter = {
  present: (event) => {
    if (event._tag !== "InvalidInvocation") return CliOutput.defaultPresenter.present(event)
    const command = event.commandPath.join(" ")
    return Effect.forEach(
      [...event.errors.map((error) => `${pluginName}: ${error.message}`), `Run '${command} --help' for usage.`],
      (line) => Console.error(line),
      { discard: true }
    )
  }
}
