import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fc from "fast-check"
import { type CommandSpec, commandSpec } from "../../src/cli/flagSpecs.ts"
import { goStyleArgs } from "../../src/cli/goStyleArgs.ts"
import { probeFlags } from "../../src/cli/ProbeCommand.ts"
import { pluginFlags } from "../../src/config/flags.ts"

// The Go-style rewrite of the command line (src/cli/goStyleArgs.ts), checked
// against effect/cli itself: whatever Go spelling a flag is given in, the
// rewritten command line parses to exactly what the canonical `--flag=value`
// spelling parses to, with the last value of a repeated flag; and what the
// rewrite does not know is left as it was.

const root: CommandSpec = commandSpec(pluginFlags, { probe: commandSpec(probeFlags), selftest: commandSpec(pluginFlags) })

// ----- effect/cli, in process: what a command line parses to -----

interface Parsed {
  readonly command: string
  readonly flags: unknown
}

const silent: CliOutput.Presenter = { present: () => Effect.void }

/** The command and flags effect/cli hands to the handler, or the errors it found. */
const parse = (args: ReadonlyArray<string>): Promise<Parsed | string> => {
  let parsed: Parsed | undefined
  const handler = (command: string) => (flags: unknown) =>
    Effect.sync(() => {
      parsed = { command, flags }
    })
  const cli = Command.make("k8s-cloudkms-plugin", pluginFlags, handler("")).pipe(
    Command.withSubcommands([
      Command.make("probe", probeFlags, handler("probe")),
      Command.make("selftest", pluginFlags, handler("selftest"))
    ])
  )
  return Effect.runPromise(
    Command.runWith(cli, { version: "test" })(args).pipe(
      Effect.map(() => parsed ?? "no command ran"),
      Effect.catch((error) => Effect.succeed(`refused: ${String(error)}`)),
      Effect.provide(
        Layer.mergeAll(
          NodeServices.layer,
          CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }),
          CliOutput.layerPresenter(silent)
        )
      )
    )
  )
}

// ----- generated command lines: each flag in one of Go's spellings -----

type Spelling = "-" | "--"

interface Given {
  readonly name: string
  readonly value: string
  /** What the operator typed: one word or two. */
  readonly words: ReadonlyArray<string>
}

const dashes = fc.constantFrom<Spelling>("-", "--")
/** Values, including words that are sub-command names or look like booleans and numbers. */
const plainValue = fc.oneof(
  fc.stringMatching(/^[a-z0-9:/._@ ]{0,16}$/).filter((s) => !s.startsWith("-")),
  fc.constantFrom("probe", "selftest", "true", "0", "v2", "=", "a=b", "projects/p/locations/l/keyRings/r/cryptoKeys/k")
)
/** A value given with '=' may start with '-'. */
const inlineValue = fc.oneof(plainValue, fc.stringMatching(/^-[a-z0-9-]{0,8}$/))

const valueFlag = (name: string, value: fc.Arbitrary<string> = plainValue, inline = inlineValue): fc.Arbitrary<Given> =>
  fc.oneof(
    fc.tuple(dashes, inline).map(([d, v]) => ({ name, value: v, words: [`${d}${name}=${v}`] })),
    fc.tuple(dashes, value).map(([d, v]) => ({ name, value: v, words: [`${d}${name}`, v] }))
  )

const goTrue = fc.constantFrom("1", "t", "T", "TRUE", "true", "True")
const goFalse = fc.constantFrom("0", "f", "F", "FALSE", "false", "False")
const booleanFlag = (name: string): fc.Arbitrary<Given> =>
  fc.oneof(
    dashes.map((d) => ({ name, value: "true", words: [`${d}${name}`] })),
    fc.tuple(dashes, goTrue).map(([d, v]) => ({ name, value: "true", words: [`${d}${name}=${v}`] })),
    fc.tuple(dashes, goFalse).map(([d, v]) => ({ name, value: "false", words: [`${d}${name}=${v}`] })),
    // effect/cli's own habit, kept: a boolean word after the flag is its value.
    fc.tuple(dashes, fc.constantFrom("true", "false")).map(([d, v]) => ({ name, value: v, words: [`${d}${name}`, v] }))
  )

/** glog's verbosity: `-v N`, `--v N`, `-v=N`, `--v=N`. */
const verbosityFlag: fc.Arbitrary<Given> = fc
  .tuple(dashes, fc.integer({ min: 0, max: 10 }).map(String), fc.boolean())
  .map(([d, n, inline]) => ({ name: "v", value: n, words: inline ? [`${d}v=${n}`] : [`${d}v`, n] }))

/** probe's --kms is the one flag whose values effect/cli itself restricts. */
const probeApis = fc.constantFrom("v1", "v2", "both")

const givenFlag = (spec: CommandSpec): fc.Arbitrary<Given> =>
  fc
    .constantFrom(...spec.flags.values())
    .chain((flag) =>
      !flag.takesValue
        ? booleanFlag(flag.name)
        : flag.name === "v"
          ? verbosityFlag
          : spec === root.subcommands.get("probe") && flag.name === "kms"
            ? valueFlag("kms", probeApis, probeApis)
            : valueFlag(flag.name)
    )

const commandLine = fc.constantFrom("", "probe", "selftest").chain((command) => {
  const spec = command === "" ? root : (root.subcommands.get(command) ?? root)
  return fc.array(givenFlag(spec), { maxLength: 8 }).map((given) => ({ command, spec, given }))
})

/** What the operator meant: each single-valued flag once, at its last value; repeatable ones in order. */
const canonical = (command: string, spec: CommandSpec, given: ReadonlyArray<Given>): ReadonlyArray<string> => {
  const lastOf = new Map<string, number>()
  for (const [i, g] of given.entries()) lastOf.set(g.name, i)
  const kept = given.filter((g, i) => spec.flags.get(g.name)?.repeatable === true || lastOf.get(g.name) === i)
  return [...(command === "" ? [] : [command]), ...kept.map((g) => `--${g.name}=${g.value}`)]
}

const repeatedOf = (spec: CommandSpec, given: ReadonlyArray<Given>): ReadonlyArray<string> => {
  const counts = new Map<string, number>()
  for (const g of given) counts.set(g.name, (counts.get(g.name) ?? 0) + 1)
  return [...counts]
    .filter(([name, n]) => n > 1 && spec.flags.get(name)?.repeatable === false)
    .map(([name]) => `--${name}`)
    .sort()
}

describe("Go-style command line", () => {
  it("reads every flag's kind from its effect/cli definition", () => {
    assert.deepStrictEqual(root.flags.get("key-uri"), { name: "key-uri", takesValue: true, repeatable: false })
    assert.deepStrictEqual(root.flags.get("kms-insecure"), { name: "kms-insecure", takesValue: false, repeatable: false })
    assert.deepStrictEqual(root.flags.get("decrypt-key-uri"), { name: "decrypt-key-uri", takesValue: true, repeatable: true })
    assert.deepStrictEqual(root.flags.get("v"), { name: "v", takesValue: true, repeatable: false })
    assert.strictEqual(root.flags.size, Object.keys(pluginFlags).length)
    assert.deepStrictEqual([...(root.subcommands.get("probe")?.flags.keys() ?? [])], ["path-to-unix-socket", "kms", "timeout"])
  })

  it.live("any flags in any Go spelling parse as their canonical --flag=value, the last value of a repeated flag winning", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(commandLine, async ({ command, given, spec }) => {
          const typed = [...(command === "" ? [] : [command]), ...given.flatMap((g) => g.words)]
          const rewritten = goStyleArgs(typed, root)
          const [got, expected] = await Promise.all([parse(rewritten.args), parse(canonical(command, spec, given))])
          assert.deepStrictEqual(got, expected, `${typed.join(" ")} -> ${rewritten.args.join(" ")}`)
          assert.notStrictEqual(typeof got, "string", `refused: ${typed.join(" ")} -> ${rewritten.args.join(" ")}`)
          assert.deepStrictEqual([...rewritten.repeated].sort(), repeatedOf(spec, given))
          assert.deepStrictEqual(rewritten.unknown, [])
          assert.strictEqual(rewritten.subcommand, command === "" ? undefined : command)
        }),
        { numRuns: 150 }
      )
    )
  )

  it("examples: the Go plugin's manifests, glog's -v, help and version", () => {
    const args = (typed: ReadonlyArray<string>) => goStyleArgs(typed, root).args
    assert.deepStrictEqual(args(["-key-uri=projects/p", "-path-to-unix-socket", "/s.sock", "-logtostderr"]), [
      "--key-uri=projects/p",
      "--path-to-unix-socket=/s.sock",
      "--logtostderr"
    ])
    assert.deepStrictEqual(args(["-v"]), ["--version"])
    assert.deepStrictEqual(args(["--v"]), ["--version"])
    assert.deepStrictEqual(args(["-version"]), ["--version"])
    assert.deepStrictEqual(args(["-v", "--kms=v2"]), ["--version", "--kms=v2"])
    assert.deepStrictEqual(args(["-v", "4"]), ["--v=4"])
    assert.deepStrictEqual(args(["--v", "4"]), ["--v=4"])
    assert.deepStrictEqual(args(["-v=2"]), ["--v=2"])
    assert.deepStrictEqual(args(["--v=2"]), ["--v=2"])
    assert.deepStrictEqual(args(["-h"]), ["--help"])
    assert.deepStrictEqual(args(["-help"]), ["--help"])
    assert.deepStrictEqual(args(["probe", "-v"]), ["probe", "--version"])
    assert.deepStrictEqual(args(["probe", "-path-to-unix-socket=/s", "-kms", "v2"]), ["probe", "--path-to-unix-socket=/s", "--kms=v2"])
    // A value that looks like a flag is not taken for one: say it with '='.
    assert.deepStrictEqual(args(["-key-suffix", "-x"]), ["--key-suffix", "-x"])
    assert.deepStrictEqual(args(["-key-suffix=-x"]), ["--key-suffix=-x"])
    assert.deepStrictEqual(goStyleArgs(["--kms=v1", "-kms", "v2", "--decrypt-key-uri=a", "-decrypt-key-uri=b"], root), {
      args: ["--kms=v2", "--decrypt-key-uri=a", "--decrypt-key-uri=b"],
      repeated: ["--kms"],
      unknown: [],
      subcommand: undefined
    })
  })

  /** Words the rewrite does not know: unknown flags of either spelling, positional words, negative numbers. */
  const stranger = fc
    .oneof(
      fc.stringMatching(/^-[a-z][a-z0-9-]{1,10}(=[a-z0-9]{0,4})?$/),
      fc.stringMatching(/^--[a-z][a-z0-9-]{1,10}(=[a-z0-9]{0,4})?$/),
      fc.stringMatching(/^[a-z0-9][a-z0-9./]{0,8}$/),
      fc.integer({ min: -99, max: -1 }).map(String)
    )
    .filter((word) => {
      const name = /^--?([^=]+)/.exec(word)?.[1]
      return (
        (name === undefined || !root.flags.has(name)) && !["v", "h", "help", "version"].includes(name ?? "") && !root.subcommands.has(word)
      )
    })
  /** Known flags, given with '=' so that no following word is taken as their value. */
  const known = fc
    .constantFrom(...[...root.flags.values()].filter((f) => f.takesValue && f.repeatable))
    .chain((flag) => fc.tuple(dashes, plainValue).map(([d, v]) => `${d}${flag.name}=${v}`))

  it("unknown flags, positional words and values starting with '-' are left as they are, in order; unknown single-dash flags are reported", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(stranger, known), { maxLength: 10 }), (typed) => {
        const rewritten = goStyleArgs(typed, root)
        const strangers = typed.filter((word) => !isKnown(word))
        assert.deepStrictEqual(
          rewritten.args.filter((word) => !isKnown(word)),
          strangers
        )
        assert.deepStrictEqual(
          rewritten.unknown,
          strangers.filter((word) => /^-[a-z]/.test(word))
        )
      })
    )
  })

  it("'--' ends the flags: everything after it is left as it is", () => {
    fc.assert(
      fc.property(
        fc.array(known, { maxLength: 4 }),
        fc.array(fc.oneof(stranger, known, fc.constant("-v")), { maxLength: 6 }),
        (before, after) => {
          const rewritten = goStyleArgs([...before, "--", ...after], root)
          assert.deepStrictEqual(rewritten.args.slice(before.length), ["--", ...after])
        }
      )
    )
  })
})

const isKnown = (word: string): boolean => {
  const name = /^--?([^=]+)=/.exec(word)?.[1]
  return name !== undefined && root.flags.has(name)
}
