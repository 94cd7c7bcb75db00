import { KeyManagementServiceClient } from "@google-cloud/kms"
// The same @grpc/grpc-js copy google-gax uses (`npm ls @grpc/grpc-js`: deduped).
import * as grpc from "@grpc/grpc-js"
import { PassThroughClient } from "google-auth-library"

// The real @google-cloud/kms client, pointed at a fake, that never reaches
// the network or a metadata server: plaintext channel credentials (gax then
// skips call credentials) and a PassThroughClient (no ADC lookup, no tokens).

/**
 * Makes sure nothing in google-auth-library / gcp-metadata probes a metadata
 * server, should anything ask: the process-wide env a test run needs.
 */
export const keepAuthOffline = (): void => {
  process.env.GCE_METADATA_HOST = "127.0.0.1:9"
  process.env.METADATA_SERVER_DETECTION = "none"
}

export const cloudKmsClientFor = (fake: { readonly host: string; readonly port: number }): KeyManagementServiceClient => {
  keepAuthOffline()
  return new KeyManagementServiceClient({
    apiEndpoint: fake.host,
    port: fake.port,
    sslCreds: grpc.credentials.createInsecure(),
    authClient: new PassThroughClient()
  })
}

/**
 * Per-call options so gax does not retry by itself: its defaults retry
 * Encrypt, Decrypt and GetCryptoKey on UNAVAILABLE and DEADLINE_EXCEEDED with
 * backoff for up to 600 s, which would hide every injected fault.
 */
export const noRetry = { retry: { retryCodes: [] } }

/** noRetry plus a client-side deadline. */
export const noRetryWithin = (timeoutMillis: number) => ({ ...noRetry, timeout: timeoutMillis })
