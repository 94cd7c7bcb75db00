import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { readOperatorFile, UnusableFile } from "../../../config/OperatorFile.ts"

// gce.conf, the cloud provider config of GKE hosted masters, in git-config
// ("gcfg") syntax. Only [global] token-url and token-body matter here (the
// Go plugin read the same two): with both set, credentials come from that
// token endpoint; with neither, Application Default Credentials as usual.

export interface HostedMasterTokenSource {
  readonly tokenUrl: string
  readonly tokenBody: string
}

/** Parses one gcfg value: quotes group, \" \\ \n \t \b escape, ; and # start a comment outside quotes. */
const parseValue = (raw: string): string | undefined => {
  let out = ""
  let quoted = false
  let pendingSpace = ""
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? ""
    if (c === "\\") {
      const next = raw[i + 1]
      const escaped = next === "n" ? "\n" : next === "t" ? "\t" : next === "b" ? "\b" : next === '"' || next === "\\" ? next : undefined
      if (escaped === undefined) return undefined
      out += pendingSpace + escaped
      pendingSpace = ""
      i++
    } else if (c === '"') {
      out += pendingSpace
      pendingSpace = ""
      quoted = !quoted
    } else if (!quoted && (c === ";" || c === "#")) {
      break
    } else if (!quoted && (c === " " || c === "\t")) {
      if (out.length > 0) pendingSpace += c
    } else {
      out += pendingSpace + c
      pendingSpace = ""
    }
  }
  return quoted ? undefined : out
}

/** [global] token-url and token-body of a gce.conf text. */
export const parseGceConfig = (text: string): Result.Result<Partial<HostedMasterTokenSource>, string> => {
  let inGlobal = false
  const found: { tokenUrl?: string; tokenBody?: string } = {}
  const lines = text.replace(/\\\r?\n/g, "").split(/\r?\n/)
  for (const [index, line] of lines.entries()) {
    const trimmed = line.trim()
    if (trimmed === "" || trimmed.startsWith(";") || trimmed.startsWith("#")) continue
    const header = /^\[\s*([A-Za-z0-9.-]+)(\s+"(?:[^"\\]|\\.)*")?\s*\]\s*(?:[;#].*)?$/.exec(trimmed)
    if (header !== null) {
      // [global "x"] is a subsection, another section than [global].
      inGlobal = header[2] === undefined && (header[1] ?? "").toLowerCase() === "global"
      continue
    }
    const variable = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(trimmed)
    if (variable === null) return Result.fail(`line ${index + 1}: expected "name = value" or "[section]"`)
    if (!inGlobal) continue
    const name = (variable[1] ?? "").toLowerCase()
    if (name !== "token-url" && name !== "token-body") continue
    const value = parseValue(variable[2] ?? "")
    if (value === undefined) return Result.fail(`line ${index + 1}: unterminated quote or bad escape in ${name}`)
    if (name === "token-url") found.tokenUrl = value
    else found.tokenBody = value
  }
  return Result.succeed(found)
}

/** The token source a gce.conf text asks for: undefined when it names none, an error when it is half set. */
const tokenSourceOf = (file: string, text: string): Result.Result<HostedMasterTokenSource | undefined, string> =>
  Result.flatMap(parseGceConfig(text), ({ tokenBody = "", tokenUrl = "" }) => {
    if (tokenUrl === "" && tokenBody === "") return Result.succeed(undefined)
    if (tokenUrl === "" || tokenBody === "") return Result.fail(`${file}: [global] needs both token-url and token-body, or neither`)
    let url: URL
    try {
      url = new URL(tokenUrl)
    } catch {
      return Result.fail(`${file}: token-url is not a URL`)
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return Result.fail(`${file}: token-url must be http(s)`)
    return Result.succeed({ tokenUrl, tokenBody })
  })

/**
 * The token source a gce.conf asks for: undefined when it names none (use
 * Application Default Credentials), an error when it is unreadable, not a
 * regular file, or half set. Read off the event loop, interruptibly.
 */
export const readGceConfig = (file: string): Effect.Effect<HostedMasterTokenSource | undefined, UnusableFile> =>
  Effect.flatMap(readOperatorFile(file, { private: false }), (text) =>
    Effect.fromResult(Result.mapError(tokenSourceOf(file, text), (message) => new UnusableFile({ message, missing: false })))
  )
