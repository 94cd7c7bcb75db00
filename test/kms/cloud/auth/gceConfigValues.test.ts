import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { parseGceConfig } from "../../../../src/kms/cloud/auth/GceConfig.ts"

// One gcfg value, as git-config (and the Go plugin's gcfg) reads it: escapes,
// quotes, comments and whitespace. GKE writes token-body as a quoted JSON string.

/** token-body as parsed from `token-body = <raw>` in [global], or the parse error. */
const body = (raw: string): string => {
  const parsed = parseGceConfig(`[global]\ntoken-body = ${raw}\n`)
  return Result.isSuccess(parsed) ? `value ${JSON.stringify(parsed.success.tokenBody)}` : `error ${parsed.failure}`
}
const value = (text: string) => `value ${JSON.stringify(text)}`

describe("gce.conf values", () => {
  it('each escape means its character: \\n newline, \\t tab, \\b backspace, \\" quote, \\\\ backslash', () => {
    assert.strictEqual(body("a\\nb"), value("a\nb"))
    assert.strictEqual(body("a\\tb"), value("a\tb"))
    assert.strictEqual(body("a\\bb"), value("a\bb"))
    assert.strictEqual(body('a\\"b'), value('a"b'))
    assert.strictEqual(body("a\\\\b"), value("a\\b"))
    assert.strictEqual(body('"\\n\\t\\b\\"\\\\"'), value('\n\t\b"\\'))
  })

  it("any other escape, or a backslash at the end, is refused naming the line and the variable", () => {
    for (const bad of ["a\\xb", "a\\r", "a\\ b", "\\'"]) {
      assert.strictEqual(body(bad), "error line 2: unterminated quote or bad escape in token-body", bad)
    }
    assert.strictEqual(body('"open'), "error line 2: unterminated quote or bad escape in token-body")
    // (A backslash before a newline joins lines; at the very end of the text it is a bad escape.)
    assert.deepStrictEqual(
      parseGceConfig("[global]\ntoken-body = a\\"),
      Result.fail("line 2: unterminated quote or bad escape in token-body")
    )
  })

  it("; and # start a comment outside quotes, and the spaces before it go too; inside quotes they are text", () => {
    assert.strictEqual(body("a;b"), value("a"))
    assert.strictEqual(body("a#b"), value("a"))
    assert.strictEqual(body("a  ; comment"), value("a"))
    assert.strictEqual(body("a\t# comment"), value("a"))
    assert.strictEqual(body("a \t ;"), value("a"))
    assert.strictEqual(body("; only a comment"), value(""))
    assert.strictEqual(body('"a;b#c"'), value("a;b#c"))
    assert.strictEqual(body('"a " ; comment'), value("a "))
  })

  it("unquoted inner spaces and tabs are kept as written; leading ones are dropped, as git does", () => {
    assert.strictEqual(body("a b"), value("a b"))
    assert.strictEqual(body("a  \t b"), value("a  \t b"))
    assert.strictEqual(body("a\tb"), value("a\tb"))
    // Leading blanks after an empty quoted string are not part of the value.
    assert.strictEqual(body('""  x'), value("x"))
    assert.strictEqual(body('""\tx y'), value("x y"))
    // Quotes group, and the blanks before a quoted part are kept.
    assert.strictEqual(body('a "b c"'), value("a b c"))
    assert.strictEqual(body('"a"  "b"'), value("a  b"))
  })

  it("unquoted words with single spaces come back as written (P)", () => {
    const word = fc.stringMatching(/^[A-Za-z0-9{}:,.\-_/]{1,8}$/)
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
        assert.strictEqual(body(words.join(" ")), value(words.join(" ")))
      })
    )
  })
})
