import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { parseGceConfig, readGceConfig } from "../../../../src/kms/cloud/auth/GceConfig.ts"
import { tempDir } from "../../../support/tempDir.ts"

const quote = (value: string) => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`

describe("gce.conf parsing", () => {
  it("reads [global] token-url and token-body as gcfg does (quotes, escapes, comments, case)", () => {
    const text = [
      "; GKE hosted master",
      "[Global]",
      "project-id = my-project",
      "Token-URL = https://gkeauth.googleapis.com/v1/projects/1/locations/us/clusters/c:generateToken  ; trailing comment",
      'token-body = "{\\"projectNumber\\":1,\\"clusterId\\":\\"c\\"}"',
      "[other]",
      "token-url = https://ignored.example.com"
    ].join("\n")
    assert.deepStrictEqual(Result.getOrThrow(parseGceConfig(text)), {
      tokenUrl: "https://gkeauth.googleapis.com/v1/projects/1/locations/us/clusters/c:generateToken",
      tokenBody: '{"projectNumber":1,"clusterId":"c"}'
    })
  })

  it("any token-body survives quoting and parsing", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (body) => {
        const parsed = Result.getOrThrow(parseGceConfig(`[global]\ntoken-body = ${quote(body)}\n`))
        assert.strictEqual(parsed.tokenBody, body)
      })
    )
  })

  it("refuses broken lines and unterminated quotes, naming the line", () => {
    assert.include(Result.getOrThrow(Result.flip(parseGceConfig('[global]\ntoken-body = "open\n'))), "line 2")
    assert.include(Result.getOrThrow(Result.flip(parseGceConfig("[global]\n= no name\n"))), "line 2")
  })

  it.effect("a file with neither value means Application Default Credentials; half set, unreadable or non-http is an error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const write = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text)
        return path.join(dir, name)
      }
      const read = (file: string) => Effect.result(Effect.mapError(readGceConfig(file), (error) => error.message))
      assert.deepStrictEqual(yield* read(write("adc.conf", "[global]\nproject-id = p\n")), Result.succeed(undefined))
      assert.include(
        Result.getOrThrow(Result.flip(yield* read(write("half.conf", "[global]\ntoken-url = https://x.example.com\n")))),
        "both"
      )
      assert.include(Result.getOrThrow(Result.flip(yield* read(path.join(dir, "missing.conf")))), "cannot read")
      assert.include(
        Result.getOrThrow(Result.flip(yield* read(write("ftp.conf", "[global]\ntoken-url = ftp://x\ntoken-body = {}\n")))),
        "http"
      )
    })
  )
})
