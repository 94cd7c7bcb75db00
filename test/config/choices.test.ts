import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { parsed as parse } from "../support/config.ts"

// The one-of-a-few flags (--kms, --kms-backend, --log-format, --log-level):
// their defaults, every accepted value, any case.

describe("choice flags", () => {
  it("--kms takes v1, v2 or both", () => {
    assert.deepStrictEqual(
      ["v1", "V2", "Both"].map((v) => parse({ kms: Option.some(v) }).kmsApi),
      ["v1", "v2", "both"]
    )
  })

  it("--kms-backend takes cloud or fake", () => {
    assert.deepStrictEqual(
      ["CLOUD", "fake"].map((v) => parse({ kmsBackend: Option.some(v) }).backend),
      ["cloud", "fake"]
    )
  })

  it("--log-format takes json or text", () => {
    assert.deepStrictEqual(
      ["Json", "text"].map((v) => parse({ logFormat: Option.some(v) }).logFormat),
      ["json", "text"]
    )
  })

  it("--log-level: info when absent or empty; debug, info, warn (or warning), error in any case", () => {
    assert.strictEqual(parse({}).logLevel, "Info")
    assert.strictEqual(parse({ logLevel: Option.some("") }).logLevel, "Info")
    assert.deepStrictEqual(
      ["debug", "INFO", "Warn", "warning", "error"].map((v) => parse({ logLevel: Option.some(v) }).logLevel),
      ["Debug", "Info", "Warn", "Warn", "Error"]
    )
  })
})
