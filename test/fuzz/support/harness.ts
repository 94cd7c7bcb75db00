import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fc from "fast-check"
import { InProcessPlugin } from "../../support/InProcessPlugin.ts"
import { checkOptions, codeName, type Tally } from "./fuzzConfig.ts"
import { buildPool, fuzzPluginFlags, type Pool } from "./pool.ts"
import { makeRawClient, type RawClient } from "./rawGrpc.ts"
import { checkOutcome, type FuzzCase, pathOf } from "./requests.ts"

/** An in-process plugin (fake backend), its pool of real ciphertexts, and a raw-bytes client of it. */
export class Harness extends Context.Service<
  Harness,
  {
    readonly pool: Pool
    readonly raw: RawClient
    /** Filesystem path of the plugin's unix socket. */
    readonly socketPath: string
  }
>()("test/fuzz/Harness") {
  static readonly layer = Layer.effect(
    Harness,
    Effect.gen(function* () {
      const plugin = yield* InProcessPlugin
      const pool = yield* buildPool
      const raw = yield* makeRawClient(plugin.target)
      return { pool, raw, socketPath: plugin.socketPath }
    })
  ).pipe(Layer.provideMerge(InProcessPlugin.layer({ flags: fuzzPluginFlags })))
}

/** Sends every generated case, checks each answer, counts the codes. */
export const fuzzCases = (arbitrary: fc.Arbitrary<FuzzCase>, numRuns: number, tally: Tally) =>
  Effect.gen(function* () {
    const { pool, raw } = yield* Harness
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(arbitrary, async (c) => {
          const outcome = await raw.call(c.path, c.message)
          tally.add(c.label, codeName(outcome.code))
          await checkOutcome(c, outcome, pool, raw)
        }),
        checkOptions(numRuns)
      )
    )
  })

/** After the fuzzing: the plugin still answers Status and Version correctly. */
export const stillServing = Effect.gen(function* () {
  const { pool, raw } = yield* Harness
  yield* Effect.promise(async () => {
    const empty = new Uint8Array(0)
    await checkOutcome(
      {
        label: "liveness",
        path: pathOf("v2.Status"),
        message: empty,
        expect: { kind: "ok", plaintext: undefined },
        undecodableAllowed: false
      },
      await raw.call(pathOf("v2.Status"), empty, 5_000),
      pool,
      raw
    )
    await checkOutcome(
      {
        label: "liveness",
        path: pathOf("v1beta1.Version"),
        message: empty,
        expect: { kind: "ok", plaintext: undefined },
        undecodableAllowed: false
      },
      await raw.call(pathOf("v1beta1.Version"), empty, 5_000),
      pool,
      raw
    )
  })
})
