import type { CommandSpec, FlagSpec } from "./flagSpecs.ts"

// The Go plugin's manifests were written for Go's `flag` package, which takes
// `-flag`, `--flag`, `-flag=value`, `--flag=value` and `-flag value` (not for
// booleans: `-flag=false`), and lets a repeated flag's last value win.
// effect/cli wants `--flag` and refuses a repeated single-valued flag, so the
// command line is rewritten to its spelling before it is parsed:
//
//   -key-uri=K, -key-uri K, --key-uri K  -> --key-uri=K
//   -kms-insecure, -kms-insecure=false   -> --kms-insecure, --kms-insecure=false
//   --kms v1 --kms v2                    -> --kms=v2 (noted in `repeated`)
//   -v, --v, -version                    -> --version (glog's `-v N`, `--v=N`: --v=N)
//   -h, -help                            -> --help
//
// Everything else is left as it is for effect/cli to accept or refuse: an
// unknown flag, a positional word, a value that starts with '-' (`--flag=-x`
// passes one), and whatever follows `--`.

export interface GoStyleArgs {
  /** The command line in effect/cli's spelling. */
  readonly args: ReadonlyArray<string>
  /** Single-valued flags given more than once (the last value kept), e.g. ["--kms"]; no values. */
  readonly repeated: ReadonlyArray<string>
  /** Single-dash words that name no flag (e.g. "-key-urri=x"): effect/cli would read them as -k -e -y… */
  readonly unknown: ReadonlyArray<string>
  /** The sub-command named, if any (e.g. "probe"). */
  readonly subcommand: string | undefined
}

/** `-name`, `--name`, `-name=value`, `--name=value` (a name never starts with '-' or '='). */
const flagToken = /^(--?)([^-=][^=]*)(?:=([\s\S]*))?$/
const negativeNumber = /^-(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const wholeNumber = /^-?\d+$/
/** What effect/cli takes after a bare boolean flag as its value (`--kms-insecure false`). */
const booleanWord = /^(?:true|yes|on|1|y|false|no|off|0|n)$/
/** strconv.ParseBool's words, as Go's flag package takes them in `-flag=value`. */
const goBooleans: Readonly<Record<string, "true" | "false">> = {
  "1": "true",
  t: "true",
  T: "true",
  TRUE: "true",
  true: "true",
  True: "true",
  "0": "false",
  f: "false",
  F: "false",
  FALSE: "false",
  false: "false",
  False: "false"
}

/** A word in value position: anything but what looks like a flag. */
const isValue = (word: string | undefined): word is string =>
  word !== undefined && (!word.startsWith("-") || word === "-" || negativeNumber.test(word))

interface Item {
  readonly word: string
  /** A single-valued flag: only its last occurrence (per command) is kept. */
  readonly once?: { readonly key: string; readonly flag: string }
}

export const goStyleArgs = (argv: ReadonlyArray<string>, root: CommandSpec): GoStyleArgs => {
  const items: Array<Item> = []
  const unknown: Array<string> = []
  let command = root
  let scope = ""
  let i = 0
  /** Consumes the next word (a flag's value). */
  const take = (): string | undefined => argv[++i]
  const once = (name: string) => ({ key: `${scope} --${name}`, flag: `--${name}` })

  const flagWord = (flag: FlagSpec, inline: string | undefined): Item => {
    let value = inline
    if (!flag.takesValue) {
      if (value !== undefined) value = goBooleans[value] ?? value
      else if (booleanWord.test(argv[i + 1] ?? "")) value = take()
    } else if (value === undefined && isValue(argv[i + 1])) {
      value = take()
    }
    const word = value === undefined ? `--${flag.name}` : `--${flag.name}=${value}`
    return flag.repeatable ? { word } : { word, once: once(flag.name) }
  }

  for (; i < argv.length; i++) {
    const word = argv[i] ?? ""
    if (word === "--") {
      items.push(...argv.slice(i).map((rest) => ({ word: rest })))
      break
    }
    const match = negativeNumber.test(word) ? null : flagToken.exec(word)
    if (match === null) {
      // A positional word: a sub-command switches to its flags.
      const sub = command.subcommands.get(word)
      if (sub !== undefined) {
        command = sub
        scope = word
      }
      items.push({ word })
      continue
    }
    const [, dashes, name = "", inline] = match
    const flag = command.flags.get(name)
    if (name === "v" && inline === undefined) {
      // glog's verbosity takes a number; alone, -v asks for the version.
      const verbosity = flag !== undefined && wholeNumber.test(argv[i + 1] ?? "") ? take() : undefined
      items.push(verbosity === undefined ? { word: "--version" } : { word: `--v=${verbosity}`, once: once("v") })
    } else if (flag !== undefined) {
      items.push(flagWord(flag, inline))
    } else if (inline === undefined && (name === "help" || name === "h")) {
      items.push({ word: "--help" })
    } else if (inline === undefined && name === "version") {
      items.push({ word: "--version" })
    } else {
      if (dashes === "-" && name.length > 1 && /^[A-Za-z]/.test(name)) unknown.push(word)
      items.push({ word })
    }
  }

  const last = new Map<string, number>()
  const repeated = new Set<string>()
  items.forEach((item, index) => {
    if (item.once === undefined) return
    if (last.has(item.once.key)) repeated.add(item.once.flag)
    last.set(item.once.key, index)
  })
  return {
    args: items.filter((item, index) => item.once === undefined || last.get(item.once.key) === index).map((item) => item.word),
    repeated: [...repeated],
    unknown,
    subcommand: scope === "" ? undefined : scope
  }
}
