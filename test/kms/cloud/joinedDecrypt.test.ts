import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import { makePluginClient } from "../../../src/client/PluginClient.ts"
import { PluginConfig, type RetryPolicy } from "../../../src/config/PluginConfig.ts"
import * as CloudKms from "../../../src/kms/cloud/CloudKms.ts"
import type { CloudKmsApi } from "../../../src/kms/cloud/CloudKmsClient.ts"
import { RpcFailed } from "../../../src/kms/cloud/CloudKmsErrors.ts"
import { answerDue } from "../../../src/kms/cloud/Deadline.ts"
import { crc32cOf } from "../../../src/kms/cloud/Integrity.ts"
import { FakeCloud } from "../../fakes/FakeCloud.ts"
import { keyWithPrimary, scriptedApi, scriptedKeyUri, trackerConfig } from "../../support/cloudScriptedApi.ts"
import { InProcessPlugin } from "../../support/InProcessPlugin.ts"

// Identical Decrypts that join one Cloud KMS call. The call is bounded by the
// latest deadline among the callers still waiting (so a caller with time to
// spare is not failed by an earlier caller's short deadline), each caller
// still answers by its own deadline, and the call is cancelled when no
// caller is left. On virtual time (TestClock): a scripted Cloud KMS that
// answers after `latency`, or fails DEADLINE_EXCEEDED at the attempt's
// timeout, exactly as the real client would.

const policy: RetryPolicy = {
  maxAttempts: 20,
  initialBackoffMillis: 50,
  maxBackoffMillis: 200,
  attemptTimeoutMillis: 2_000,
  callTimeoutMillis: 10_000
}
/** The longest backoff the schedule may sleep (jitter is up to +20%). */
const longestBackoff = policy.maxBackoffMillis * 1.2

const ciphertext = Buffer.from("wrapped seed")
const plaintext = Buffer.from("the seed")
const keyId = { cryptoKey: scriptedKeyUri, version: 1 }

interface Attempt {
  readonly start: number
  readonly timeoutMillis: number
  end?: number
  outcome?: "answered" | "timed out" | "cancelled"
}

/** The CloudKms backend over a Cloud KMS whose Decrypt takes `latency` ms; every attempt recorded. */
const backend = (latency: number) =>
  Effect.gen(function* () {
    const attempts: Array<Attempt> = []
    const scripted = scriptedApi()
    scripted.getCryptoKey = () => keyWithPrimary(1)
    const api: CloudKmsApi = {
      ...scripted.api,
      decrypt: (_request, { timeoutMillis }) =>
        Effect.gen(function* () {
          const attempt: Attempt = { start: yield* Clock.currentTimeMillis, timeoutMillis }
          attempts.push(attempt)
          const settle = (outcome: NonNullable<Attempt["outcome"]>) =>
            Effect.map(Clock.currentTimeMillis, (now) => {
              attempt.end = now
              attempt.outcome = outcome
            })
          if (latency > timeoutMillis) {
            yield* Effect.sleep(timeoutMillis)
            yield* settle("timed out")
            return yield* new RpcFailed({ code: status.DEADLINE_EXCEEDED, details: "Deadline exceeded" })
          }
          yield* Effect.sleep(latency)
          yield* settle("answered")
          return { plaintext, plaintextCrc32c: { value: crc32cOf(plaintext) } }
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.map(Clock.currentTimeMillis, (now) => {
              const attempt = attempts[attempts.length - 1]
              if (attempt !== undefined && attempt.end === undefined) {
                attempt.end = now
                attempt.outcome = "cancelled"
              }
            })
          )
        )
    }
    const config = { ...trackerConfig(), retry: policy, keyRefreshIntervalMillis: 3_600_000 }
    const kms = yield* CloudKms.make(api).pipe(Effect.provideService(PluginConfig, config))
    return { kms, attempts }
  })

interface Plan {
  readonly latency: number
  readonly seed: number
  readonly callers: ReadonlyArray<{ readonly arrival: number; readonly budget: number; readonly cancelAfter: number | undefined }>
}

type Outcome =
  | { readonly kind: "plaintext" | "unavailable" | "other"; readonly at: number }
  | { readonly kind: "cancelled"; readonly at: number }

/** Runs the plan on virtual time: each caller arrives, and maybe cancels its call, when the plan says. Without a key_id: v1beta1. */
const runPlan = (plan: Plan, key: typeof keyId | undefined = keyId) =>
  Effect.gen(function* () {
    const { attempts, kms } = yield* backend(plan.latency)
    const start = yield* Clock.currentTimeMillis
    const outcomes: Array<Outcome | undefined> = plan.callers.map(() => undefined)
    const fibers: Array<Fiber.Fiber<void> | undefined> = plan.callers.map(() => undefined)
    const events = plan.callers
      .flatMap((caller, i) => [
        { at: caller.arrival, i, kind: "arrive" as const },
        ...(caller.cancelAfter === undefined ? [] : [{ at: caller.arrival + caller.cancelAfter, i, kind: "cancel" as const }])
      ])
      .sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === "arrive" ? -1 : 1))

    for (const event of events) {
      const now = (yield* Clock.currentTimeMillis) - start
      if (event.at > now) yield* TestClock.adjust(event.at - now)
      const caller = plan.callers[event.i]
      if (caller === undefined) continue
      if (event.kind === "arrive") {
        const call = kms.decrypt(ciphertext, key, { deadline: start + caller.arrival + caller.budget }).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.map(Clock.currentTimeMillis, (now) => {
              const at = now - start
              outcomes[event.i] = Exit.isSuccess(exit)
                ? { kind: Buffer.from(exit.value).equals(plaintext) ? "plaintext" : "other", at }
                : { kind: Exit.findErrorOption(exit).pipe(Option.exists((e) => e._tag === "KmsUnavailable")) ? "unavailable" : "other", at }
            })
          )
        )
        fibers[event.i] = yield* Effect.forkChild(call, { startImmediately: true })
      } else {
        const fiber = fibers[event.i]
        if (fiber !== undefined && fiber.pollUnsafe() === undefined) {
          outcomes[event.i] = { kind: "cancelled", at: event.at }
          yield* Fiber.interrupt(fiber)
        }
      }
    }
    yield* TestClock.adjust("30 seconds")
    return {
      attempts: attempts.map((a) => ({ ...a, start: a.start - start, end: a.end === undefined ? undefined : a.end - start })),
      outcomes
    }
  }).pipe(Random.withSeed(plan.seed), Effect.scoped, Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([])))

const planArbitrary: fc.Arbitrary<Plan> = fc.record({
  latency: fc.integer({ min: 10, max: 1_900 }),
  seed: fc.integer(),
  callers: fc
    .array(
      fc.record({
        arrival: fc.integer({ min: 0, max: 3_000 }),
        budget: fc.integer({ min: 150, max: 6_000 }),
        cancelAfter: fc.option(fc.integer({ min: 0, max: 6_000 }), { nil: undefined, freq: 4 })
      }),
      { minLength: 1, maxLength: 6 }
    )
    .map((callers) => [...callers].sort((a, b) => a.arrival - b.arrival))
})

/** When caller i's answer is due, from the start (ms). */
const dueOf = (caller: Plan["callers"][number]) => answerDue(caller.arrival + caller.budget, caller.arrival)

describe("joined Decrypts on virtual time", () => {
  it.live(
    "property: each caller answers by its own due time; one with time for the call gets the plaintext; no call outlives its callers",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(planArbitrary, async (plan) => {
            const { attempts, outcomes } = await Effect.runPromise(runPlan(plan))
            plan.callers.forEach((caller, i) => {
              const outcome = outcomes[i]
              const due = dueOf(caller)
              assert.isDefined(outcome, `caller ${i} never answered`)
              if (outcome === undefined) return
              if (outcome.kind === "cancelled") return
              assert.include(["plaintext", "unavailable"], outcome.kind, `caller ${i}`)
              assert.isAtMost(outcome.at, due, `caller ${i} answered after its due time`)
              // Time for whatever attempt is in the air to end, a backoff, and a whole call: the plaintext.
              const cancelled = caller.cancelAfter !== undefined && caller.arrival + caller.cancelAfter < outcome.at
              if (!cancelled && due >= caller.arrival + policy.attemptTimeoutMillis + longestBackoff + plan.latency + 1) {
                assert.strictEqual(outcome.kind, "plaintext", `caller ${i} had time for the call`)
              }
            })
            // A Cloud KMS call is in the air only while someone waits for it; it is cancelled when the last one leaves.
            const leftAt = outcomes.map((o) => o?.at ?? Number.POSITIVE_INFINITY)
            const waitingAt = (t: number) => plan.callers.some((c, i) => c.arrival <= t && t < (leftAt[i] ?? 0))
            for (const attempt of attempts) {
              const end = attempt.end ?? Number.POSITIVE_INFINITY
              const leavesDuring = leftAt.filter((t) => attempt.start < t && t < end)
              const inTheAir = end > attempt.start ? [attempt.start, ...leavesDuring] : []
              assert.isTrue(inTheAir.every(waitingAt), `an attempt went on with no caller: ${JSON.stringify(attempt)}`)
              if (attempt.outcome === "cancelled") {
                const stillWaiting = plan.callers.some((c, i) => c.arrival < end && end < (leftAt[i] ?? 0))
                assert.isFalse(stillWaiting, `an attempt was cancelled while a caller waited: ${JSON.stringify(attempt)}`)
              }
            }
          }),
          { numRuns: 300 }
        )
      )
  )

  it.live("property: when the first attempt has time enough, all who join it share exactly one Cloud KMS call", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(planArbitrary, async (plan) => {
          const [first, ...rest] = plan.callers
          if (first === undefined) return
          const answered = first.arrival + plan.latency
          // The first attempt is given floor(min(attempt timeout, time to its caller's due)).
          fc.pre(Math.floor(Math.min(policy.attemptTimeoutMillis, dueOf(first) - first.arrival)) >= plan.latency)
          // Until the call answers, when each caller would leave (its cancel, or its due).
          const leaves = plan.callers.map((c) =>
            Math.min(c.cancelAfter === undefined ? Number.POSITIVE_INFINITY : c.arrival + c.cancelAfter, dueOf(c))
          )
          // Every later caller arrives while the call is in the air and someone still waits for it.
          fc.pre(
            rest.every(
              (c, j) =>
                c.arrival < answered && plan.callers.slice(0, j + 1).some((o, k) => o.arrival <= c.arrival && c.arrival < (leaves[k] ?? 0))
            )
          )
          const { attempts, outcomes } = await Effect.runPromise(runPlan(plan))
          const lastLeave = Math.max(...leaves)
          assert.strictEqual(attempts.length, 1, JSON.stringify(attempts))
          // Everyone gone before the answer: the call is cancelled (at the very moment it answers, either).
          if (lastLeave !== answered) assert.strictEqual(attempts[0]?.outcome, lastLeave < answered ? "cancelled" : "answered")
          plan.callers.forEach((caller, i) => {
            const leave = leaves[i] ?? 0
            if (leave === answered) return
            const cancelsFirst = caller.cancelAfter !== undefined && caller.arrival + caller.cancelAfter === leave
            const expected = leave > answered ? "plaintext" : cancelsFirst ? "cancelled" : "unavailable"
            assert.strictEqual(outcomes[i]?.kind, expected, `caller ${i}`)
          })
        }),
        { numRuns: 300 }
      )
    )
  )

  for (const [api, key] of [
    ["v2", keyId],
    ["v1beta1", undefined]
  ] as const) {
    it.live(
      `the issue's case (${api}): A with 0.4 s, B 0.1 s later with 6 s, Cloud KMS taking 1.5 s: A is told UNAVAILABLE in time, B gets the plaintext`,
      () =>
        Effect.gen(function* () {
          const { attempts, outcomes } = yield* runPlan(
            {
              latency: 1_500,
              seed: 1,
              callers: [
                { arrival: 0, budget: 400, cancelAfter: undefined },
                { arrival: 100, budget: 6_000, cancelAfter: undefined }
              ]
            },
            key
          )
          assert.deepStrictEqual(outcomes[0], { kind: "unavailable", at: 300 })
          assert.strictEqual(outcomes[1]?.kind, "plaintext")
          // The first attempt was bounded by A's due; the next, by B's, had time for the answer.
          assert.deepStrictEqual(
            attempts.map((a) => [a.timeoutMillis, a.outcome]),
            [
              [300, "timed out"],
              [policy.attemptTimeoutMillis, "answered"]
            ]
          )
        })
    )
  }
})

// The same case through the plugin's socket in real time, scaled up: A's
// answer margin (a tenth of its budget, at least 100 ms) must survive the
// event-loop lag of a loaded test machine, where the plugin, the client and
// the fake Cloud KMS share one process. Outcomes and order only, no timings:
// an answer later than A's deadline is grpc-js's DEADLINE_EXCEEDED, not our
// UNAVAILABLE.
describe("joined Decrypts through the socket (fake Cloud KMS, real time)", () => {
  it.live(
    "A with a 2 s deadline, B joining with 6 s, Cloud KMS taking 2.5 s: A gets UNAVAILABLE (not DEADLINE_EXCEEDED), B the plaintext",
    () =>
      Effect.gen(function* () {
        const { client, target } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const seed = randomBytes(32)
        const encrypted = yield* client.v2Encrypt({ plaintext: seed })
        fake.setLatency({ millis: 2_500 }, "Decrypt")
        const a = yield* makePluginClient(target, { timeoutMillis: 2_000 })
        const b = yield* makePluginClient(target, { timeoutMillis: 6_000 })
        const request = { ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }
        const called = Effect.promise(() => once(fake.events, "call"))
        const first = yield* Effect.forkChild(Effect.flip(a.v2Decrypt(request)))
        yield* called
        const second = yield* Effect.forkChild(b.v2Decrypt(request))
        const failure = yield* Fiber.join(first)
        assert.strictEqual(failure.code, status.UNAVAILABLE, failure.message)
        assert.isTrue(second.pollUnsafe() === undefined, "B still waits when A is answered")
        assert.deepStrictEqual(Buffer.from((yield* Fiber.join(second)).plaintext), seed)
      }).pipe(
        Effect.provide(
          InProcessPlugin.layer({
            backend: "cloud",
            flags: { kmsAttemptTimeout: Option.some("3s"), keyRefreshInterval: Option.some("1m") }
          }).pipe(Layer.provideMerge(FakeCloud.layer))
        )
      ),
    { timeout: 20_000 }
  )
})
