import * as Flag from "effect/cli/Flag"
import * as Option from "effect/Option"

// Every plugin flag, as given on the command line. Each also has an env var
// (KMS_PLUGIN_<FLAG>), read by parseConfig when the flag is absent: there a
// value is validated once, whichever way it came, and a mistake is named the
// way the operator wrote it (--flag or KMS_PLUGIN_FLAG). The values stay raw
// strings (toggles: booleans, undefined when absent).

export const envVarOf = (flag: string): string => `KMS_PLUGIN_${flag.toUpperCase().replaceAll("-", "_")}`

const describe = (flag: string, text: string): string => `${text} [env ${envVarOf(flag)}]`

const text = (name: string, metavar: string, description: string) =>
  Flag.String(name).pipe(Flag.withMetavar(metavar), Flag.withDescription(describe(name, description)), Flag.optional)

// Repeatable; the env var holds a comma-separated list and is read by parseConfig.
const repeated = (name: string, metavar: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withMetavar(metavar),
    Flag.withDescription(describe(name, `${description} Repeatable; the env var takes a comma-separated list.`)),
    Flag.atLeast(0)
  )

// Undefined when absent, so the env var can stand in for it (parseConfig).
const toggle = (name: string, description: string) =>
  Flag.Boolean(name).pipe(Flag.withDescription(describe(name, description)), Flag.optional, Flag.map(Option.getOrUndefined))

// The Go plugin's glog flags, accepted and ignored so its manifests work
// unchanged (logs always go to stderr here). Hidden from --help. `--v` is
// glog's verbosity (`--v=2`, `-v 4`); a bare `-v` asks for the version
// (the command line is rewritten before parsing: src/cli/goStyleArgs.ts).
const ignoredGoSwitch = (name: string) => Flag.Boolean(name).pipe(Flag.withHidden, Flag.withDefault(false))
const ignoredGoValue = (name: string) => Flag.String(name).pipe(Flag.withHidden, Flag.optional)

/** The flags of the plugin itself (the root command and `selftest`). */
export const pluginFlags = {
  keyUri: text(
    "key-uri",
    "uri",
    "Cloud KMS crypto key that wraps new data keys: projects/P/locations/L/keyRings/R/cryptoKeys/K. Required with --kms-backend cloud."
  ),
  decryptKeyUri: repeated(
    "decrypt-key-uri",
    "uri",
    "Another crypto key that may still decrypt (never encrypt) data, for moving to a new --key-uri."
  ),
  keySuffix: text(
    "key-suffix",
    "suffix",
    "Appended to the v2 key_id as ':<suffix>' so a re-enabled key version gets a fresh key_id. Letters, digits, '.', '_', '-'."
  ),
  decryptKeySuffix: repeated("decrypt-key-suffix", "suffix", "An earlier --key-suffix whose key_ids must still decrypt."),
  kms: text("kms", "v1|v2|both", "Kubernetes KMS API(s) to serve on the socket. Default both."),
  kmsBackend: text(
    "kms-backend",
    "cloud|fake",
    "cloud: Google Cloud KMS. fake: in-process AES-256-GCM keys for development and tests, never for production. Default cloud."
  ),
  kmsEndpoint: text(
    "kms-endpoint",
    "host:port",
    "Cloud KMS-compatible gRPC endpoint to use instead of Google's. Default cloudkms.googleapis.com."
  ),
  kmsInsecure: toggle("kms-insecure", "Talk to --kms-endpoint over plaintext gRPC with no credentials (emulators and tests only)."),
  kmsMaxAttempts: text("kms-max-attempts", "n", "Attempts per Cloud KMS call, first try included. Default 5."),
  kmsAttemptTimeout: text("kms-attempt-timeout", "duration", "Timeout of one Cloud KMS attempt. Default 2s."),
  kmsRetryInitialBackoff: text(
    "kms-retry-initial-backoff",
    "duration",
    "First delay between Cloud KMS attempts; doubles each time, with jitter. Default 50ms."
  ),
  kmsRetryMaxBackoff: text("kms-retry-max-backoff", "duration", "Longest delay between Cloud KMS attempts. Default 1s."),
  kmsCallTimeout: text(
    "kms-call-timeout",
    "duration",
    "Bound on a whole Cloud KMS call (all attempts) when the caller sets no deadline. Default 10s."
  ),
  kmsQpsLimit: text(
    "kms-qps-limit",
    "qps",
    "Client-side limit on Cloud KMS Encrypt and Decrypt calls per second (retries included), e.g. 50 or 12.5. Set it below the " +
      "project's Cloud KMS cryptographic requests quota for the key's location. A call that cannot get a turn before its deadline " +
      "fails at once with RESOURCE_EXHAUSTED. Default: no limit."
  ),
  kmsBurst: text(
    "kms-burst",
    "n",
    "Calls --kms-qps-limit lets through at once after a quiet spell. Needs --kms-qps-limit. Default: the limit rounded up."
  ),
  keyRefreshInterval: text(
    "key-refresh-interval",
    "duration",
    "How often the current key version is checked with Cloud KMS; after a failed check, every 10s until one succeeds. Default 1m."
  ),
  pathToUnixSocket: text(
    "path-to-unix-socket",
    "path",
    "Unix socket to serve the KMS API on; its directory must exist. '@name' is a Linux abstract socket. Default /var/run/kmsplugin/socket.sock."
  ),
  socketMode: text("socket-mode", "octal", "File mode of the socket, set when it is created. Default 0600."),
  shutdownGracePeriod: text(
    "shutdown-grace-period",
    "duration",
    "On SIGTERM, SIGINT or SIGHUP: how long in-flight calls may take to finish before they are cut. Default 10s."
  ),
  healthzBindAddress: text(
    "healthz-bind-address",
    "ip",
    "Address the health server listens on (with /metrics, unless --metrics-port is set). Default 127.0.0.1."
  ),
  healthzPort: text("healthz-port", "port", "Port of /healthz, /livez, /readyz (and /metrics by default). Default 8081."),
  healthzPath: text("healthz-path", "path", "Path of the health check. Default healthz."),
  healthzTimeout: text("healthz-timeout", "duration", "Bound on one health check through the plugin's own socket. Default 5s."),
  healthzKmsCache: text(
    "healthz-kms-cache",
    "duration",
    "How long a ?ping-kms=true round trip result is reused, so probes cannot burn Cloud KMS quota. Default 5s."
  ),
  metricsPort: text(
    "metrics-port",
    "port",
    "Serve /metrics on a listener of its own, on this port at --metrics-bind-address, instead of on --healthz-port (the Go plugin used 8082)."
  ),
  metricsBindAddress: text(
    "metrics-bind-address",
    "ip",
    "Address of the /metrics listener that --metrics-port starts (without --metrics-port, /metrics is on the health listener, and this flag may only repeat --healthz-bind-address). Default 127.0.0.1."
  ),
  metricsPath: text("metrics-path", "path", "Path of the Prometheus metrics. Default metrics."),
  gceConfig: text("gce-config", "path", "gce.conf of a GKE hosted master: its [global] token-url and token-body give the credentials."),
  integrationTest: toggle(
    "integration-test",
    "Go plugin compatibility: use an insecure, credential-less Cloud KMS client against 127.0.0.1:--fake-kms-port."
  ),
  fakeKmsPort: text("fake-kms-port", "port", "Port of the fake Cloud KMS used by --integration-test. Default 8085."),
  fakeKeyFile: text(
    "fake-key-file",
    "path",
    "With --kms-backend fake: keep the fake keys in this file (mode 0600) so data survives restarts."
  ),
  fakeLatency: text(
    "fake-latency",
    "duration",
    "With --kms-backend fake: added to every Encrypt and Decrypt, to mimic a remote KMS. Default 0."
  ),
  logFormat: text("log-format", "json|text", "Log line format. Default json."),
  logLevel: text("log-level", "level", "Least severe level logged: debug, info, warn, error (any case). Default info."),
  logtostderr: ignoredGoSwitch("logtostderr"),
  alsologtostderr: ignoredGoSwitch("alsologtostderr"),
  v: ignoredGoValue("v")
}

export type PluginFlags = {
  readonly [K in keyof typeof pluginFlags]: (typeof pluginFlags)[K] extends Flag.Flag<infer A> ? A : never
}
