import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { cloudKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { cloudBackend } from "../../support/cloudBackend.ts"
import { withEnv } from "../../support/env.ts"
import { tempDir } from "../../support/tempDir.ts"

// Credentials that cannot be loaded (Application Default Credentials over
// TLS): each call fails with a clear UNAUTHENTICATED and the process lives on.
// The generated client would otherwise leave an unhandled rejection per call
// (which kills Node, and fails this test file) and keep its failed setup for
// good; here every attempt starts over, so credentials that appear later work.

/** GOOGLE_APPLICATION_CREDENTIALS for this scope, and no metadata server to fall back on. */
const credentialsFile = Effect.gen(function* () {
  const file = path.join(yield* tempDir, "key.json")
  yield* withEnv({ GOOGLE_APPLICATION_CREDENTIALS: file, METADATA_SERVER_DETECTION: "none" })
  return file
})

describe("CloudKms without loadable credentials", () => {
  it.live("answers each call UNAUTHENTICATED, and loads the credentials again on the next call", () =>
    Effect.gen(function* () {
      const file = yield* credentialsFile
      const { kms, messages } = yield* cloudBackend({ kmsInsecure: false, kmsMaxAttempts: Option.some("1") })
      assert.isTrue(messages().some((m) => m.startsWith("key check: ") && m.includes("UNAUTHENTICATED")))

      const decrypt = kms.decrypt(new Uint8Array([1]), { cryptoKey: cloudKeyUri, version: 1 }, { deadline: undefined })
      const missing = yield* Effect.flip(decrypt)
      assert.include(missing.message, "UNAUTHENTICATED")
      assert.include(missing.message, file)

      // A new setup reads the file again: its new problem shows.
      fs.writeFileSync(file, "{ not json")
      const unreadable = yield* Effect.flip(decrypt)
      assert.include(unreadable.message, "UNAUTHENTICATED")
      assert.notInclude(unreadable.message, "does not exist")
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )
})
