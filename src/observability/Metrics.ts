import * as Metric from "effect/Metric"

// Every metric the plugin exports, in one place, with one prefix. Labels
// carry API, method, operation and outcome names only: never data, never
// key material. Listed in the README.
//
// A labelled metric comes with its series maker (`…Series`): each series is
// a metric of its own with its labels as its attributes, made once per label
// set (Labels.labelled caches them). Metric.withAttributes would instead add
// the labels to the fiber's context and re-key the series on every update,
// several µs a call on the hot path.

export const metricPrefix = "kms_plugin"

export type Labels = Readonly<Record<string, string>>

const latencyBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
// How long a call waited for a token of the Cloud KMS rate limit.
const waitBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

const counter =
  (name: string, description: string) =>
  (attributes: Labels = {}) =>
    Metric.counter(name, { description, incremental: true, attributes })

const histogram =
  (name: string, description: string, boundaries: ReadonlyArray<number>) =>
  (attributes: Labels = {}) =>
    Metric.histogram(name, { description, boundaries, attributes })

export const grpcRequestsSeries = counter(
  `${metricPrefix}_grpc_requests_total`,
  "KMS gRPC calls served, by API version, method and gRPC status code."
)
export const grpcRequests = grpcRequestsSeries()
export const grpcDurationSeries = histogram(
  `${metricPrefix}_grpc_request_duration_seconds`,
  "Time to answer a KMS gRPC call, by API version and method.",
  latencyBoundaries
)
export const grpcDuration = grpcDurationSeries()
export const cloudKmsCallsSeries = counter(
  `${metricPrefix}_cloudkms_calls_total`,
  "Cloud KMS call attempts, by operation and outcome (OK or the gRPC code, or INTEGRITY for a CRC32C mismatch)."
)
export const cloudKmsCalls = cloudKmsCallsSeries()
export const cloudKmsDurationSeries = histogram(
  `${metricPrefix}_cloudkms_call_duration_seconds`,
  "Time of one Cloud KMS call attempt, by operation.",
  latencyBoundaries
)
export const cloudKmsDuration = cloudKmsDurationSeries()
export const cloudKmsRetriesSeries = counter(
  `${metricPrefix}_cloudkms_retries_total`,
  "Cloud KMS attempts retried after a transient failure, by operation."
)
export const cloudKmsRetries = cloudKmsRetriesSeries()
export const integrityFailuresSeries = counter(
  `${metricPrefix}_cloudkms_integrity_failures_total`,
  "Cloud KMS responses refused because a CRC32C or resource name check failed, by operation."
)
export const integrityFailures = integrityFailuresSeries()
export const rateLimitWait = Metric.histogram(`${metricPrefix}_cloudkms_rate_limit_wait_seconds`, {
  description: "How long Cloud KMS Encrypt/Decrypt attempts waited for their turn under --kms-qps-limit; 0 when one was free.",
  boundaries: waitBoundaries
})
export const rateLimitRefusalsSeries = counter(
  `${metricPrefix}_cloudkms_rate_limited_total`,
  "Cloud KMS attempts refused by --kms-qps-limit because their turn would come after their caller's deadline, by reason " +
    "(limit: the configured rate; backoff: the rate as cut after Cloud KMS answered RESOURCE_EXHAUSTED)."
)
export const rateLimitRefusals = rateLimitRefusalsSeries()
export const rateLimitSlowdowns = Metric.counter(`${metricPrefix}_cloudkms_rate_limit_slowdowns_total`, {
  description: "Times a RESOURCE_EXHAUSTED answer from Cloud KMS halved --kms-qps-limit for every caller.",
  incremental: true
})
export const coalescedDecrypts = Metric.counter(`${metricPrefix}_decrypt_coalesced_total`, {
  description: "Decrypt calls answered by joining an identical Decrypt already in flight.",
  incremental: true
})
export const keyVersionInfoSeries = (attributes: Labels = {}) =>
  Metric.gauge(`${metricPrefix}_key_version_info`, {
    description:
      "1, with the crypto key (label key) and the number of its version (label version) that new data is wrapped with; earlier versions have no series.",
    attributes
  })
export const keyVersionInfo = keyVersionInfoSeries()
export const kmsHealthy = Metric.gauge(`${metricPrefix}_kms_healthy`, {
  description: "1 if the last check of the KMS key succeeded, else 0."
})
export const kmsLastCheck = Metric.gauge(`${metricPrefix}_kms_last_check_timestamp_seconds`, {
  description: "Unix time of the last check of the KMS key."
})
