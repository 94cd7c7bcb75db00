import * as Metric from "effect/Metric"

// Every metric the plugin exports, in one place, with one prefix. Labels
// carry API, method, operation and outcome names only: never data, never
// key material. Listed in the README.

export const metricPrefix = "kms_plugin"

const latencyBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export const grpcRequests = Metric.counter(`${metricPrefix}_grpc_requests_total`, {
  description: "KMS gRPC calls served, by API version, method and gRPC status code.",
  incremental: true
})
export const grpcDuration = Metric.histogram(`${metricPrefix}_grpc_request_duration_seconds`, {
  description: "Time to answer a KMS gRPC call, by API version and method.",
  boundaries: latencyBoundaries
})
export const cloudKmsCalls = Metric.counter(`${metricPrefix}_cloudkms_calls_total`, {
  description: "Cloud KMS call attempts, by operation and outcome (OK or the gRPC code, or INTEGRITY for a CRC32C mismatch).",
  incremental: true
})
export const cloudKmsDuration = Metric.histogram(`${metricPrefix}_cloudkms_call_duration_seconds`, {
  description: "Time of one Cloud KMS call attempt, by operation.",
  boundaries: latencyBoundaries
})
export const cloudKmsRetries = Metric.counter(`${metricPrefix}_cloudkms_retries_total`, {
  description: "Cloud KMS attempts retried after a transient failure, by operation.",
  incremental: true
})
export const integrityFailures = Metric.counter(`${metricPrefix}_cloudkms_integrity_failures_total`, {
  description: "Cloud KMS responses refused because a CRC32C or resource name check failed, by operation.",
  incremental: true
})
export const coalescedDecrypts = Metric.counter(`${metricPrefix}_decrypt_coalesced_total`, {
  description: "Decrypt calls answered by joining an identical Decrypt already in flight.",
  incremental: true
})
export const keyVersionInfo = Metric.gauge(`${metricPrefix}_key_version_info`, {
  description: "1, with the crypto key (label key) and the number of its version (label version) that new data is wrapped with; earlier versions have no series."
})
export const kmsHealthy = Metric.gauge(`${metricPrefix}_kms_healthy`, {
  description: "1 if the last check of the KMS key succeeded, else 0."
})
export const kmsLastCheck = Metric.gauge(`${metricPrefix}_kms_last_check_timestamp_seconds`, {
  description: "Unix time of the last check of the KMS key."
})
