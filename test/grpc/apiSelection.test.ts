import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// --kms picks the API(s) served; the other one answers UNIMPLEMENTED.

const answers = (kms: "v1" | "v2" | "both") =>
  Effect.gen(function* () {
    const served = yield* inProcessPlugin({ flags: { kms: Option.some(kms) } })
    const { client } = served
    const v2 = yield* Effect.result(client.v2Status)
    const v1 = yield* Effect.result(client.v1Version)
    const code = (result: typeof v2 | typeof v1) => (result._tag === "Success" ? status.OK : result.failure.code)
    return { v2: code(v2), v1: code(v1) }
  }).pipe(Effect.scoped)

describe("API selection", () => {
  it.live("--kms v2 serves only v2, --kms v1 only v1beta1, both by default", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* answers("v2"), { v2: status.OK, v1: status.UNIMPLEMENTED })
      assert.deepStrictEqual(yield* answers("v1"), { v2: status.UNIMPLEMENTED, v1: status.OK })
      assert.deepStrictEqual(yield* answers("both"), { v2: status.OK, v1: status.OK })
    })
  )
})
