import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { cloudKeyUri } from "../fakes/FakeCloud.ts"
import { fakeCloudKms } from "../fakes/FakeCloudKms.ts"
import { runCli } from "../support/spawnPlugin.ts"

// No metadata server to find: Application Default Credentials fail at once.
const run = (args: ReadonlyArray<string>) => runCli(args, { GCE_METADATA_HOST: "127.0.0.1:9", METADATA_SERVER_DETECTION: "none" })

describe("selftest sub-command", () => {
  it.live("with the fake backend: both APIs, a KMS round trip and every health endpoint pass; exit 0", () =>
    Effect.gen(function* () {
      const result = yield* run(["selftest", "--kms-backend", "fake"])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      for (const check of [
        "v2 Status",
        "v2 Encrypt/Decrypt",
        "v1beta1 Version",
        "v1beta1 Encrypt/Decrypt",
        "GET /livez",
        "GET /healthz?ping-kms=true",
        "GET /readyz",
        "GET /metrics"
      ]) {
        assert.match(result.stdout, new RegExp(`ok +${check.replace(/[?/]/g, "\\$&")}`))
      }
      assert.include(result.stdout, "8 passed, 0 failed")
    })
  )

  it.live("--integration-test (the Go plugin's flag) reaches the fake Cloud KMS on --fake-kms-port; exit 0", () =>
    Effect.gen(function* () {
      const cloud = yield* fakeCloudKms({ keys: [cloudKeyUri] })
      cloud.resetCounters()
      const result = yield* run(["selftest", "--integration-test", "--fake-kms-port", String(cloud.port), "--key-uri", cloudKeyUri])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "8 passed, 0 failed")
      assert.isAbove(cloud.calls.Encrypt, 0)
      assert.isAbove(cloud.calls.Decrypt, 0)
    }).pipe(Effect.scoped)
  )

  it.live("Cloud KMS refusing the key: the report names what failed; exit 1", () =>
    Effect.gen(function* () {
      const cloud = yield* fakeCloudKms({ keys: [cloudKeyUri] })
      cloud.inject({ fault: { kind: "fail", code: status.PERMISSION_DENIED, message: "caller lacks permission" } })
      const result = yield* run([
        "selftest",
        "--kms-endpoint",
        cloud.address,
        "--kms-insecure",
        "--key-uri",
        cloudKeyUri,
        "--kms-max-attempts",
        "1"
      ])
      assert.strictEqual(result.code, 1)
      assert.match(result.stdout, /FAIL +v2 Status .*PERMISSION_DENIED/)
      assert.match(result.stdout, /FAIL +GET \/readyz/)
      assert.match(result.stdout, /ok +GET \/livez/)
    }).pipe(Effect.scoped)
  )
})
