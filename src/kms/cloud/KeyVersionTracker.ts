import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { parseKeyVersionName } from "../../config/KeyNames.ts"
import type { PluginConfigShape } from "../../config/PluginConfig.ts"
import { kmsLastCheck } from "../../observability/Metrics.ts"
import type { KeyStatus } from "../KeyManagement.ts"
import type { KmsError } from "../KmsErrors.ts"
import type { CloudKmsApi } from "./CloudKmsClient.ts"
import { IntegrityMismatch } from "./CloudKmsErrors.ts"
import { answerDue } from "./Deadline.ts"
import { crc32cOf, verifyEncrypt } from "./Integrity.ts"
import type { RateLimiter } from "./RateLimiter.ts"
import { retryingCall } from "./RetryingCall.ts"

// Knows the crypto key version new data is wrapped with, so that Status
// answers from memory (no Cloud KMS call per poll) and Encrypt is pinned to
// exactly the version Status reported. Checked in the background every
// --key-refresh-interval, every 10 s after a failed check, and at once when
// Encrypt finds the pinned version disabled.
//
// With cloudkms.cryptoKeys.get the check is a GetCryptoKey (no crypto
// operation); with only roles/cloudkms.cryptoKeyEncrypterDecrypter it is an
// Encrypt of a fixed probe on the crypto key, whose answer names the primary.

export const retryAfterFailureMillis = 10_000
/** How long start waits for the first check before serving anyway (Status then says why it is not ready). */
export const firstCheckWaitMillis = 3_000

const probePlaintext = Buffer.from("k8s-cloudkms-plugin key version check")
const probeCrc = crc32cOf(probePlaintext)

export interface KeyVersionTracker {
  readonly status: Effect.Effect<KeyStatus>
  /** The version Encrypt is pinned to; undefined until one is known. */
  readonly current: Effect.Effect<string | undefined>
  /**
   * Checks now (or joins the check already running) and returns the current
   * version; waits no later than the answer due for `deadline` (then returns
   * what is known), the check itself goes on.
   */
  readonly refreshNow: (deadline: number | undefined) => Effect.Effect<string | undefined>
}

export const makeKeyVersionTracker = (
  api: CloudKmsApi,
  config: PluginConfigShape,
  limiter?: RateLimiter
): Effect.Effect<KeyVersionTracker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const keyUri = config.keyUri
    const state = yield* Ref.make<KeyStatus>({ keyVersion: undefined, problem: `no check of ${keyUri} has completed yet` })
    const getAllowed = yield* Ref.make(true)
    const limits = { deadline: undefined }

    const byGetCryptoKey: Effect.Effect<KeyStatus, KmsError> = retryingCall(config.retry, limits, {
      operation: "getCryptoKey",
      resource: keyUri,
      send: (limits) => api.getCryptoKey(keyUri, limits),
      verify: (key): Result.Result<KeyStatus, IntegrityMismatch> => {
        const primary = key.primary
        if (primary?.name === undefined || primary.name === null || parseKeyVersionName(primary.name)?.cryptoKey !== keyUri) {
          return key.name === keyUri
            ? Result.succeed({ keyVersion: undefined, problem: `${keyUri} has no primary version; create or restore one` })
            : Result.fail(new IntegrityMismatch({ check: `resource name (asked ${keyUri}, answered ${JSON.stringify(key.name)})` }))
        }
        const state = primary.state === undefined || primary.state === null ? "in no known state" : String(primary.state)
        return Result.succeed({
          keyVersion: primary.name,
          problem: state === "ENABLED" ? undefined : `primary version ${primary.name} is ${state}; enable it or choose another primary`
        })
      }
    })

    const byProbe: Effect.Effect<KeyStatus, KmsError> = retryingCall(config.retry, limits, {
      operation: "encrypt",
      resource: keyUri,
      send: (limits) => api.encrypt({ name: keyUri, plaintext: probePlaintext, plaintextCrc32c: { value: probeCrc } }, limits),
      verify: verifyEncrypt(keyUri),
      // A cryptographic call: it counts against the quota like any other.
      limiter
    }).pipe(Effect.map((wrapped) => ({ keyVersion: wrapped.keyVersion, problem: undefined })))

    // GetCryptoKey refused (no cloudkms.cryptoKeys.get, or an endpoint that
    // does not implement it): the Encrypt probe needs only what the plugin
    // needs anyway. Once the probe has worked, it is used from then on.
    const check: Effect.Effect<KeyStatus, KmsError> = Effect.flatMap(Ref.get(getAllowed), (allowed) =>
      allowed
        ? byGetCryptoKey.pipe(
            Effect.catch((getFailed) =>
              byProbe.pipe(
                Effect.tap(() =>
                  Effect.andThen(
                    Ref.set(getAllowed, false),
                    Effect.logInfo(`GetCryptoKey failed (${getFailed.message}): learning the key version with an Encrypt probe instead`)
                  )
                )
              )
            )
          )
        : byProbe
    )

    /** `code` names the kind of problem (a KmsError tag) for the log. */
    const adopt = (next: KeyStatus, code: string) =>
      Effect.gen(function* () {
        const previous = yield* Ref.getAndSet(state, next)
        yield* Metric.update(kmsLastCheck, (yield* Clock.currentTimeMillis) / 1000)
        if (next.keyVersion !== undefined && next.keyVersion !== previous.keyVersion) {
          yield* Effect.logInfo(`new data is wrapped with ${next.keyVersion}`)
        }
        if (next.problem !== undefined && next.problem !== previous.problem) {
          yield* Effect.logWarning(`key check: ${next.problem}`).pipe(Effect.annotateLogs({ code, key: keyUri }))
        }
        if (next.problem === undefined && previous.problem !== undefined && previous.keyVersion !== undefined) {
          yield* Effect.logInfo("key check succeeded again")
        }
      })

    /** One check, its result adopted; true when the key is healthy. */
    const refresh: Effect.Effect<boolean> = check.pipe(
      Effect.matchEffect({
        // A key that answers but has no enabled primary is unusable, as Encrypt would find it.
        onSuccess: (next) => Effect.as(adopt(next, "KeyUnusable"), next.problem === undefined),
        onFailure: (error) =>
          Effect.flatMap(Ref.get(state), (known) =>
            Effect.as(adopt({ keyVersion: known.keyVersion, problem: error.message }, error._tag), false)
          )
      })
    )

    // At most one check at a time: the background loop and every refreshNow
    // caller share the one in flight, which runs to its end in the layer's
    // scope even when its callers stop waiting.
    const scope = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    const inFlight = yield* Ref.make<Fiber.Fiber<boolean> | undefined>(undefined)
    const sharedCheck: Effect.Effect<Fiber.Fiber<boolean>> = lock.withPermit(
      Effect.gen(function* () {
        const running = yield* Ref.get(inFlight)
        if (running !== undefined && running.pollUnsafe() === undefined) return running
        const fiber = yield* Effect.forkIn(refresh, scope)
        yield* Ref.set(inFlight, fiber)
        return fiber
      })
    )

    // After a healthy check, the next one after --key-refresh-interval; after a failed one, sooner.
    const nextCheck = Schedule.forever.pipe(
      Schedule.setInputType<boolean>(),
      Schedule.modifyDelay(({ input }) =>
        Effect.succeed(input ? config.keyRefreshIntervalMillis : Math.min(retryAfterFailureMillis, config.keyRefreshIntervalMillis))
      )
    )
    const firstCheck = yield* Deferred.make<void>()
    yield* Effect.forkScoped(
      Effect.flatMap(sharedCheck, Fiber.join).pipe(
        Effect.tap(() => Deferred.succeed(firstCheck, undefined)),
        Effect.repeat(nextCheck)
      )
    )
    yield* Deferred.await(firstCheck).pipe(Effect.timeoutOption(firstCheckWaitMillis))

    const current = Effect.map(Ref.get(state), (known) => known.keyVersion)
    return {
      status: Ref.get(state),
      current,
      refreshNow: (deadline) =>
        Effect.gen(function* () {
          const checking = yield* sharedCheck
          if (deadline === undefined) {
            yield* Fiber.await(checking)
          } else {
            const now = yield* Clock.currentTimeMillis
            yield* Effect.timeoutOption(Fiber.await(checking), Math.max(0, answerDue(deadline, now) - now))
          }
          return yield* current
        })
    }
  })
