import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { OAuth2Client } from "google-auth-library"
import type { HostedMasterTokenSource } from "./GceConfig.ts"

// Credentials of a GKE hosted master (the Go plugin's altTokenSource): POST
// token-body to token-url, authenticated with the VM's own metadata-server
// token, and read {accessToken, expireTime}. Handed to @google-cloud/kms as a
// google-auth-library OAuth2Client, so every Cloud KMS call uses it. The token
// is kept until shortly before it expires and refreshed ahead of time in the
// background, so no call waits for it. It never appears in a log or message.

export class TokenError extends Data.TaggedError("TokenError")<{ readonly message: string }> {}

const TokenReply = Schema.Struct({
  accessToken: Schema.NonEmptyString,
  expireTime: Schema.String.pipe(Schema.check(Schema.makeFilter((text) => !Number.isNaN(Date.parse(text)))))
})
const isTokenReply = Schema.is(TokenReply)

export interface AccessToken {
  readonly token: string
  /** ms since epoch */
  readonly expiresAt: number
}

const fetchTimeoutMillis = 10_000

/** The VM's own token, from the metadata server (GCE_METADATA_HOST honoured). */
export type MetadataToken = () => Promise<string>

export const metadataServerToken = (): MetadataToken => {
  let compute: Promise<OAuth2Client> | undefined
  return async () => {
    compute ??= import("google-auth-library").then(({ Compute }) => new Compute())
    const { token } = await (await compute).getAccessToken()
    if (typeof token !== "string" || token === "") throw new Error("the metadata server gave no token")
    return token
  }
}

export const fetchHostedMasterToken = (
  source: HostedMasterTokenSource,
  metadataToken: MetadataToken
): Effect.Effect<AccessToken, TokenError> =>
  Effect.tryPromise({
    try: async (signal) => {
      let vmToken: string
      try {
        vmToken = await metadataToken()
      } catch (error) {
        throw new TokenError({
          message: `cannot get the VM's token from the metadata server: ${error instanceof Error ? error.message : String(error)}`
        })
      }
      const response = await fetch(source.tokenUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${vmToken}`, "content-type": "application/json" },
        body: source.tokenBody,
        signal: AbortSignal.any([signal, AbortSignal.timeout(fetchTimeoutMillis)])
      })
      if (!response.ok) throw new TokenError({ message: `token-url answered ${response.status} ${response.statusText}` })
      let reply: unknown
      try {
        reply = await response.json()
      } catch {
        throw new TokenError({ message: "token-url did not answer JSON" })
      }
      // Never echo the reply: it may hold a token.
      if (!isTokenReply(reply)) throw new TokenError({ message: "token-url reply is not {accessToken, expireTime (RFC 3339)}" })
      return { token: reply.accessToken, expiresAt: Date.parse(reply.expireTime) }
    },
    catch: (error) =>
      error instanceof TokenError
        ? error
        : new TokenError({ message: `token-url: ${error instanceof Error ? error.message : String(error)}` })
  })

/** Refresh this long before expiry: 5 minutes, or a fifth of a short-lived token's life. */
export const refreshAheadMillis = (lifetimeMillis: number): number => Math.min(5 * 60_000, Math.max(0, lifetimeMillis) / 5)

/**
 * Fetches the first token (failing the start if it cannot), then keeps an
 * OAuth2Client's credentials fresh until the scope closes.
 */
export const hostedMasterAuthClient = (
  source: HostedMasterTokenSource,
  metadataToken: MetadataToken = metadataServerToken()
): Effect.Effect<OAuth2Client, TokenError, Scope.Scope> =>
  Effect.gen(function* () {
    const fetchToken = fetchHostedMasterToken(source, metadataToken)
    const current = yield* Ref.make(yield* fetchToken)
    const { OAuth2Client } = yield* Effect.promise(() => import("google-auth-library"))
    const lifetime = Effect.zipWith(Ref.get(current), Clock.currentTimeMillis, (token, now) => token.expiresAt - now)
    const client = new OAuth2Client({ eagerRefreshThresholdMillis: Math.floor(refreshAheadMillis(yield* lifetime) / 2) })
    const install = (token: AccessToken) =>
      Effect.andThen(
        Ref.set(current, token),
        Effect.sync(() => client.setCredentials({ access_token: token.token, expiry_date: token.expiresAt, token_type: "Bearer" }))
      )
    yield* install(yield* Ref.get(current))
    const refreshNow = Effect.tap(fetchToken, install)
    // Only reached if the background refresh fell behind (e.g. token-url was
    // down); runs with this layer's services (its logger and clock included).
    const runPromise = Effect.runPromiseWith(yield* Effect.context<never>())
    client.refreshHandler = () => runPromise(refreshNow).then((token) => ({ access_token: token.token, expiry_date: token.expiresAt }))

    const untilRefreshDue = Effect.flatMap(lifetime, (left) => Effect.sleep(Math.max(0, left - refreshAheadMillis(left))))
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.andThen(
          untilRefreshDue,
          refreshNow.pipe(
            Effect.tapError((error) => Effect.logWarning(`refreshing the hosted-master token: ${error.message}; retrying`)),
            Effect.retry(Schedule.min([Schedule.exponential("1 second"), Schedule.spaced("30 seconds")]).pipe(Schedule.jittered)),
            Effect.ignore
          )
        )
      )
    )
    yield* Effect.logInfo(`hosted-master credentials from token-url, refreshed ahead of expiry`)
    return client
  })
