import * as http from "node:http"
import * as Effect from "effect/Effect"
import { withEnv } from "../support/env.ts"
import { listenOnLoopback } from "../support/http.ts"

// The VM's metadata server, on loopback: hands out the VM's own token (which
// authenticates a GKE hosted master's POST to token-url) to requests with
// Metadata-Flavor: Google, as google-auth-library asks for it.

/** What the metadata server's token endpoint answers for a VM whose token is `token`. */
export const vmTokenReply = (token: string) => ({ access_token: token, expires_in: 3600, token_type: "Bearer" })

/** A metadata server whose token endpoint answers `reply` (as JSON); `host` is what GCE_METADATA_HOST takes. */
export const fakeMetadataServer = (reply: unknown) =>
  Effect.gen(function* () {
    const server = http.createServer((request, response) => {
      if (
        request.headers["metadata-flavor"] !== "Google" ||
        !request.url?.startsWith("/computeMetadata/v1/instance/service-accounts/default/token")
      ) {
        response.writeHead(404).end()
        return
      }
      response.writeHead(200, { "content-type": "application/json", "metadata-flavor": "Google" }).end(JSON.stringify(reply))
    })
    const port = yield* listenOnLoopback(server)
    return { host: `127.0.0.1:${port}` }
  })

/** The same, with GCE_METADATA_HOST pointing at it (for this process) while the scope lasts. */
export const useFakeMetadataServer = (reply: unknown) =>
  Effect.gen(function* () {
    const metadata = yield* fakeMetadataServer(reply)
    yield* withEnv({ GCE_METADATA_HOST: metadata.host })
    return metadata
  })
