import type * as Flag from "effect/cli/Flag"
import * as Param from "effect/cli/Param"

// What the Go-style command line rewrite needs to know of a command's flags,
// read from the effect/cli definitions themselves (so the two cannot differ):
// each flag's name, whether it takes a value, whether it may be repeated.

export interface FlagSpec {
  readonly name: string
  /** False for booleans: `-flag` alone sets them, `-flag=false` clears them. */
  readonly takesValue: boolean
  /** Every occurrence counts (e.g. --decrypt-key-uri); otherwise the last one wins. */
  readonly repeatable: boolean
}

export interface CommandSpec {
  readonly flags: ReadonlyMap<string, FlagSpec>
  readonly subcommands: ReadonlyMap<string, CommandSpec>
}

const specOf = (param: Param.Param<Param.ParamKind, unknown>, repeatable: boolean): FlagSpec | undefined => {
  if (Param.isSingle(param)) {
    return { name: param.name, takesValue: param.primitiveType._tag !== "Boolean", repeatable }
  }
  // Optional, Map, Transform and Variadic wrap the flag they modify.
  if (!("param" in param) || !Param.isParam(param.param)) return undefined
  return specOf(param.param, repeatable || ("_tag" in param && param._tag === "Variadic"))
}

/** The specs of a command's flags (a record of effect/cli flags, as given to Command.make). */
export const commandSpec = (
  flags: Readonly<Record<string, Flag.Flag<unknown>>>,
  subcommands: Readonly<Record<string, CommandSpec>> = {}
): CommandSpec => {
  const specs = Object.values(flags).flatMap((flag) => {
    const spec = specOf(flag, false)
    return spec === undefined ? [] : [[spec.name, spec] as const]
  })
  return { flags: new Map(specs), subcommands: new Map(Object.entries(subcommands)) }
}
