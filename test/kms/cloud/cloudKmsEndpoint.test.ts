import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { cloudKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { useFakeMetadataServer, vmTokenReply } from "../../fakes/FakeMetadataServer.ts"
import { tokenEndpoint } from "../../fakes/FakeTokenUrl.ts"
import { cloudBackend } from "../../support/cloudBackend.ts"
import { tempDir } from "../../support/tempDir.ts"

// How the backend reaches Cloud KMS: --kms-insecure (plaintext, no
// credentials, said loudly) against TLS with credentials, and what
// --gce-config does in each case. The fake serves plaintext only, so a TLS
// client never gets an answer from it.

const gceConf = (text: string) =>
  Effect.gen(function* () {
    const file = path.join(yield* tempDir, "gce.conf")
    fs.writeFileSync(file, text)
    return file
  })

/** A VM metadata server (GCE_METADATA_HOST, for this scope) and a hosted-master token-url. */
const hostedMasterToken = Effect.andThen(
  useFakeMetadataServer(vmTokenReply("vm-token")),
  tokenEndpoint({ vmToken: "vm-token", body: "{}", lifetimeMillis: 3_600_000 })
)

describe("CloudKms endpoint and credentials", () => {
  it.live("--kms-insecure: warns that calls are plaintext with no credentials, and ignores --gce-config", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const missing = path.join(yield* tempDir, "no-such-gce.conf")
      const { kms, lines } = yield* cloudBackend({ gceConfig: Option.some(missing) })
      assert.deepStrictEqual(lines[0], {
        message: `Cloud KMS at ${fake.host}:${fake.port} over plaintext gRPC with no credentials: for emulators and tests only`,
        level: "Warn",
        annotations: {}
      })
      assert.deepStrictEqual(yield* kms.status, { keyVersion: `${cloudKeyUri}/cryptoKeyVersions/1`, problem: undefined })
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("without --kms-insecure: TLS with the --gce-config token (no answer from the plaintext fake), and no plaintext warning", () =>
    Effect.gen(function* () {
      const endpoint = yield* hostedMasterToken
      const file = yield* gceConf(`[global]\ntoken-url = ${endpoint.url}\ntoken-body = "{}"\n`)
      const { kms, messages } = yield* cloudBackend({ kmsInsecure: false, gceConfig: Option.some(file), kmsMaxAttempts: Option.some("1") })
      assert.strictEqual(endpoint.served(), 1)
      assert.deepStrictEqual(
        messages().filter((m) => m.includes("plaintext")),
        []
      )
      const status = yield* kms.status
      assert.isUndefined(status.keyVersion)
      assert.include(status.problem ?? "", "UNAVAILABLE")
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("an unusable --gce-config stops the start with a ConfigError naming the flag", () =>
    Effect.gen(function* () {
      const file = yield* gceConf("[global]\ntoken-url = https://example.invalid/token\n")
      const error = yield* Effect.flip(cloudBackend({ kmsInsecure: false, gceConfig: Option.some(file) }))
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.message, `--gce-config: ${file}: [global] needs both token-url and token-body, or neither`)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a --gce-config token-url that gives no first token stops the start, saying why", () =>
    Effect.gen(function* () {
      const endpoint = yield* hostedMasterToken
      endpoint.reply = () => ({ status: 503, body: "" })
      const file = yield* gceConf(`[global]\ntoken-url = ${endpoint.url}\ntoken-body = "{}"\n`)
      const error = yield* Effect.flip(cloudBackend({ kmsInsecure: false, gceConfig: Option.some(file) }))
      assert.strictEqual(error._tag, "StartupError")
      assert.strictEqual(error.message, `--gce-config ${file}: no first token: token-url answered 503 Service Unavailable`)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )
})
