import type * as LogLevel from "effect/LogLevel"

// The plugin's whole configuration as plain data: what parseConfig builds from
// the flags and env, and what every layer reads through PluginConfig.

export type KmsApi = "v1" | "v2" | "both"
export type KmsBackend = "cloud" | "fake"
export type LogFormat = "json" | "text"

/** Where the Cloud KMS client connects. */
export type CloudEndpoint =
  | { readonly _tag: "Google" }
  | { readonly _tag: "Custom"; readonly host: string; readonly port: number; readonly insecure: boolean }

/** How Cloud KMS calls are retried: one policy, ours (gax retries are off). */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly initialBackoffMillis: number
  readonly maxBackoffMillis: number
  readonly attemptTimeoutMillis: number
  /** Bound for calls that have no caller deadline (background refresh, v1 calls without one). */
  readonly callTimeoutMillis: number
}

/** The client-side Cloud KMS rate limit (--kms-qps-limit, --kms-burst). */
export interface KmsRateLimit {
  /** Calls per second. */
  readonly qps: number
  /** Calls let through at once after a quiet spell. */
  readonly burst: number
}

/** The plugin's whole configuration, validated once at start. */
export interface PluginConfigShape {
  readonly keyUri: string
  readonly decryptKeyUris: ReadonlyArray<string>
  readonly keySuffix: string | undefined
  readonly decryptKeySuffixes: ReadonlyArray<string>
  readonly kmsApi: KmsApi
  readonly backend: KmsBackend
  readonly cloudEndpoint: CloudEndpoint
  readonly retry: RetryPolicy
  /** Undefined: no client-side limit. */
  readonly kmsRateLimit: KmsRateLimit | undefined
  readonly keyRefreshIntervalMillis: number
  readonly socketPath: string
  readonly socketMode: number
  readonly shutdownGraceMillis: number
  readonly healthzBindAddress: string
  readonly healthzPort: number
  readonly healthzPath: string
  readonly healthzTimeoutMillis: number
  readonly healthzKmsCacheMillis: number
  /** Undefined: /metrics is served by the health listener. */
  readonly metricsPort: number | undefined
  /** Where /metrics listens: --metrics-bind-address with --metrics-port, else --healthz-bind-address. */
  readonly metricsBindAddress: string
  readonly metricsPath: string
  readonly gceConfig: string | undefined
  readonly fakeKeyFile: string | undefined
  readonly fakeLatencyMillis: number
  readonly logFormat: LogFormat
  readonly logLevel: LogLevel.LogLevel
}
