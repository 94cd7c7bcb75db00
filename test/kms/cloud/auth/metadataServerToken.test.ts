import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { metadataServerToken } from "../../../../src/kms/cloud/auth/HostedMasterAuth.ts"
import { useFakeMetadataServer } from "../../../fakes/FakeMetadataServer.ts"

// The VM's own token, which authenticates the POST to token-url: read from the
// metadata server (GCE_METADATA_HOST), and refused when it is not a token.

const vmToken = Effect.tryPromise({
  try: () => metadataServerToken()(),
  catch: (error) => (error instanceof Error ? error.message : String(error))
})

describe("the VM's metadata-server token", () => {
  it.live("is the access_token the metadata server hands out", () =>
    Effect.gen(function* () {
      yield* useFakeMetadataServer({ access_token: "vm-token-1", expires_in: 3600, token_type: "Bearer" })
      assert.strictEqual(yield* vmToken, "vm-token-1")
    }).pipe(Effect.scoped)
  )

  it.live('an access_token that is not a string is refused with a clear reason (it never becomes "Bearer 42")', () =>
    Effect.gen(function* () {
      for (const token of [42, { value: "x" }, true]) {
        const failure = yield* Effect.scoped(
          Effect.gen(function* () {
            yield* useFakeMetadataServer({ access_token: token, expires_in: 3600, token_type: "Bearer" })
            return yield* Effect.flip(vmToken)
          })
        )
        assert.strictEqual(failure, "the metadata server gave no token", JSON.stringify(token))
      }
    })
  )
})
