import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { readGceConfig } from "../../../../src/kms/cloud/auth/GceConfig.ts"
import { tempDir } from "../../../support/tempDir.ts"

// What --gce-config makes of a whole file, and the exact message the operator
// reads (exit 2) when it cannot be used.

/** readGceConfig as a Result with the message the operator reads. */
const readResult = (file: string) => Effect.result(Effect.mapError(readGceConfig(file), (error) => error.message))

const withFile = (text: string) =>
  Effect.gen(function* () {
    const file = path.join(yield* tempDir, "gce.conf")
    fs.writeFileSync(file, text)
    return { file, read: yield* readResult(file) }
  })

describe("--gce-config file", () => {
  it.effect("token-url over https or http, with a token-body: that token source, exactly", () =>
    Effect.gen(function* () {
      for (const tokenUrl of ["https://gkeauth.googleapis.com/v1/token", "http://127.0.0.1:8080/token"]) {
        const { read } = yield* withFile(`[global]\ntoken-url = ${tokenUrl}\ntoken-body = {}\n`)
        assert.deepStrictEqual(read, Result.succeed({ tokenUrl, tokenBody: "{}" }))
      }
    })
  )

  it.effect("neither value (or both empty): no token source, so Application Default Credentials", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual((yield* withFile("")).read, Result.succeed(undefined))
      assert.deepStrictEqual((yield* withFile('[global]\ntoken-url =\ntoken-body = ""\n')).read, Result.succeed(undefined))
    })
  )

  it.effect("only one of the two: refused, naming the file", () =>
    Effect.gen(function* () {
      for (const text of [
        "[global]\ntoken-url = https://x.example.com\n",
        "[global]\ntoken-body = {}\n",
        "[global]\ntoken-url = https://x.example.com\ntoken-body =\n"
      ]) {
        const { file, read } = yield* withFile(text)
        assert.deepStrictEqual(read, Result.fail(`${file}: [global] needs both token-url and token-body, or neither`), text)
      }
    })
  )

  it.effect("a token-url that is not a URL, or not http(s): refused, naming the file", () =>
    Effect.gen(function* () {
      for (const tokenUrl of ["gkeauth.googleapis.com/v1/token", "not a url", "/v1/token"]) {
        const { file, read } = yield* withFile(`[global]\ntoken-url = "${tokenUrl}"\ntoken-body = {}\n`)
        assert.deepStrictEqual(read, Result.fail(`${file}: token-url is not a URL`), tokenUrl)
      }
      for (const tokenUrl of ["ftp://x.example.com/token", "file:///etc/token", "unix:/run/token.sock", "httpx://x"]) {
        const { file, read } = yield* withFile(`[global]\ntoken-url = ${tokenUrl}\ntoken-body = {}\n`)
        assert.deepStrictEqual(read, Result.fail(`${file}: token-url must be http(s)`), tokenUrl)
      }
    })
  )

  it.effect("an unreadable file or a syntax error: refused with the reason", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const missing = path.join(dir, "missing.conf")
      assert.deepStrictEqual(
        yield* readResult(missing),
        Result.fail(`cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`)
      )
      assert.deepStrictEqual(
        (yield* withFile('[global]\ntoken-url = "open\n')).read,
        Result.fail("line 2: unterminated quote or bad escape in token-url")
      )
    })
  )
})
