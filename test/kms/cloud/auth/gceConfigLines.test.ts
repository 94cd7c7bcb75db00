import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import { parseGceConfig } from "../../../../src/kms/cloud/auth/GceConfig.ts"

// The lines of a gce.conf: section headers, variables, comments, indentation
// and continuations, as git-config syntax allows them. Only [global] counts.

const url = "https://gkeauth.googleapis.com/v1/token"
const parsed = (...lines: ReadonlyArray<string>) => {
  const result = parseGceConfig(lines.join("\n"))
  return Result.isSuccess(result) ? result.success : `error ${result.failure}`
}
const badLine = (n: number) => `error line ${n}: expected "name = value" or "[section]"`

describe("gce.conf lines", () => {
  it("indented lines and comment lines (; or #, indented or not) are fine", () => {
    assert.deepStrictEqual(parsed("# GKE", "  ; hosted master", "\t[global]", "  \t# note", `   token-url = ${url}`, "\ttoken-body = b"), {
      tokenUrl: url,
      tokenBody: "b"
    })
  })

  it("a backslash at the end of a line continues the value on the next one (LF or CRLF)", () => {
    assert.deepStrictEqual(
      parseGceConfig("[global]\ntoken-url = https://gkeauth\\\n.googleapis.com/v1/token\n"),
      Result.succeed({ tokenUrl: url })
    )
    assert.deepStrictEqual(
      parseGceConfig("[global]\r\ntoken-url = https://gkeauth\\\r\n.googleapis.com/v1/token\r\n"),
      Result.succeed({ tokenUrl: url })
    )
  })

  it("section headers: any case, blanks inside the brackets, a trailing comment, a quoted subsection", () => {
    for (const header of [
      "[global]",
      "[GLOBAL]",
      "[ global ]",
      "[global]\t",
      "[global] ; comment",
      "[global]; comment",
      "[global]#c",
      "[global] # two words"
    ]) {
      assert.deepStrictEqual(parsed(header, `token-url = ${url}`), { tokenUrl: url }, header)
    }
    // Subsections, of [global] too, are other sections: their values are ignored.
    for (const header of [
      '[global "sub"]',
      '[GLOBAL ""]',
      '[other "sub"]',
      '[other  "sub"]',
      '[other\t"a \\"q\\" b"]',
      '[other ""]',
      '[other "x" ]',
      '[other "x"] ; c'
    ]) {
      assert.deepStrictEqual(parsed("[global]", "token-body = b", header, `token-url = ${url}`), { tokenBody: "b" }, header)
    }
  })

  it("a header with anything before or after it, or an unquoted subsection, is a bad line", () => {
    for (const header of ["x[global]", "[global] junk", "[global]]", "[glo bal]", "[other sub]", '[other "sub]', '[other"sub"]', "[]"]) {
      assert.strictEqual(parsed("; first", header), badLine(2), header)
    }
  })

  it("variables: blanks around = are optional; a bare name is a variable with an empty value", () => {
    for (const line of [`token-url=${url}`, `token-url =${url}`, `token-url= ${url}`, `token-url \t=\t ${url}`]) {
      assert.deepStrictEqual(parsed("[global]", line), { tokenUrl: url }, line)
    }
    assert.deepStrictEqual(parsed("[global]", "token-url", "multi-zone", "token-body = b"), { tokenUrl: "", tokenBody: "b" })
  })

  it("a variable name must be a letter then letters, digits or dashes, followed by = or nothing", () => {
    for (const line of ["bad name = 1", "1name = x", "name: x", "= x", "token_url = x", "token-url x"]) {
      assert.strictEqual(parsed("[global]", line), badLine(2), line)
    }
  })

  it("only [global] counts: values before any section, or in other sections, are ignored", () => {
    assert.deepStrictEqual(
      parsed(`token-url = ${url}`, "[other]", "token-body = x", "[global]", "token-body = b", "[global-x]", "token-url = y"),
      {
        tokenBody: "b"
      }
    )
    assert.deepStrictEqual(parsed("[global]", "Token-Body = b", "TOKEN-URL = u"), { tokenBody: "b", tokenUrl: "u" })
  })
})
