import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ConfigError, type FlagProblem } from "./ConfigError.ts"
import type { CloudEndpoint, KmsApi, KmsBackend, KmsRateLimit, LogFormat, PluginConfigShape } from "./ConfigShape.ts"
import { parseDurationMillis } from "./Duration.ts"
import { envVarOf, type PluginFlags } from "./flags.ts"
import { cryptoKeyNameExample, isCryptoKeyName, isKeySuffix } from "./KeyNames.ts"
import { parseLogLevel } from "./logLevels.ts"
import { socketFileNameProblem } from "./SocketPath.ts"

/** Key used by `--kms-backend fake` when no --key-uri is given. */
export const fakeDefaultKeyUri = "projects/fake-project/locations/global/keyRings/fake-ring/cryptoKeys/fake-key"
export const defaultSocketPath = "/var/run/kmsplugin/socket.sock"

const hostPattern =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$/
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/
const ipv6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/
const urlPathSegment = /^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/

const trueWords: ReadonlySet<string> = new Set(["true", "yes", "on", "1", "y", "t"])
const falseWords: ReadonlySet<string> = new Set(["false", "no", "off", "0", "n", "f"])

/**
 * Validates every flag and turns them into the plugin's configuration. A flag
 * absent from the command line is read from its env var (KMS_PLUGIN_<FLAG>),
 * and a mistake in it is named by that variable. Pure: the paths on disk are
 * checked separately, by PluginConfig.load.
 */
export const parseConfig = (
  flags: PluginFlags,
  env: Readonly<Record<string, string | undefined>> = {}
): Result.Result<PluginConfigShape, ConfigError> => {
  const problems: Array<FlagProblem> = []
  const fromEnv = new Set<string>()
  const problem = (flag: string, message: string) => {
    problems.push(fromEnv.has(flag) ? { flag, message, envVar: envVarOf(flag) } : { flag, message })
    return undefined
  }
  /** The flag's value, else its env var's (remembered, so a problem with it names the variable). */
  const given = (flag: string, o: Option.Option<string>): string | undefined => {
    if (Option.isSome(o)) return o.value
    const fromVar = env[envVarOf(flag)]
    if (fromVar !== undefined) fromEnv.add(flag)
    return fromVar
  }
  const toggle = (flag: string, onCommandLine: boolean | undefined): boolean => {
    if (onCommandLine !== undefined) return onCommandLine
    const raw = given(flag, Option.none())
    if (raw === undefined) return false
    const word = raw.trim().toLowerCase()
    if (trueWords.has(word)) return true
    if (!falseWords.has(word)) problem(flag, `expected true or false, got ${JSON.stringify(raw)}`)
    return false
  }
  const ipAddress = (flag: string, raw: string | undefined, fallback: string): string =>
    raw === undefined
      ? fallback
      : isIpAddress(raw)
        ? raw
        : (problem(flag, `expected an IP address such as 127.0.0.1 or 0.0.0.0, got ${JSON.stringify(raw)}`) ?? fallback)

  const choice = <A extends string>(flag: string, o: Option.Option<string>, choices: ReadonlyArray<A>, fallback: A): A => {
    const raw = given(flag, o)
    if (raw === undefined) return fallback
    const found = choices.find((c) => c === raw.toLowerCase())
    return found ?? problem(flag, `expected one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`) ?? fallback
  }
  const duration = (flag: string, o: Option.Option<string>, fallbackMillis: number, minMillis = 1): number => {
    const raw = given(flag, o)
    if (raw === undefined) return fallbackMillis
    const millis = parseDurationMillis(raw)
    if (millis === undefined)
      return problem(flag, `expected a duration such as 500ms, 3s or 1m, got ${JSON.stringify(raw)}`) ?? fallbackMillis
    if (millis < minMillis) return problem(flag, `must be at least ${minMillis}ms, got ${JSON.stringify(raw)}`) ?? fallbackMillis
    return Math.round(millis)
  }
  const port = (flag: string, o: Option.Option<string>, fallback: number): number => {
    const raw = given(flag, o)
    if (raw === undefined) return fallback
    const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN
    return n >= 0 && n <= 65535 ? n : (problem(flag, `expected a port number 0-65535, got ${JSON.stringify(raw)}`) ?? fallback)
  }
  const count = (flag: string, o: Option.Option<string>, fallback: number, max: number): number => {
    const raw = given(flag, o)
    if (raw === undefined) return fallback
    const n = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN
    return n >= 1 && n <= max ? n : (problem(flag, `expected a whole number 1-${max}, got ${JSON.stringify(raw)}`) ?? fallback)
  }
  const urlPath = (flag: string, o: Option.Option<string>, fallback: string): string => {
    const raw = given(flag, o)
    if (raw === undefined) return fallback
    const path = raw.replace(/^\/+/, "")
    return urlPathSegment.test(path)
      ? path
      : (problem(flag, `expected a URL path such as ${fallback}, got ${JSON.stringify(raw)}`) ?? fallback)
  }
  const list = (flag: string, onCommandLine: ReadonlyArray<string>): ReadonlyArray<string> => {
    if (onCommandLine.length > 0) return onCommandLine
    const fromVar = given(flag, Option.none())
    return fromVar === undefined
      ? []
      : fromVar
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
  }
  const keyName = (flag: string, raw: string): string =>
    isCryptoKeyName(raw)
      ? raw
      : (problem(flag, `expected a crypto key name such as ${cryptoKeyNameExample}, got ${JSON.stringify(raw)}`) ?? raw)
  const suffix = (flag: string, raw: string): string =>
    isKeySuffix(raw) ? raw : (problem(flag, `expected 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(raw)}`) ?? raw)

  const backend: KmsBackend = choice("kms-backend", flags.kmsBackend, ["cloud", "fake"] as const, "cloud")
  const kmsApi: KmsApi = choice("kms", flags.kms, ["v1", "v2", "both"] as const, "both")
  const logFormat: LogFormat = choice("log-format", flags.logFormat, ["json", "text"] as const, "json")
  const rawLevel = given("log-level", flags.logLevel)
  const logLevel =
    rawLevel === undefined || rawLevel === ""
      ? "Info"
      : (parseLogLevel(rawLevel) ??
        problem("log-level", `expected debug, info, warn or error (any case), got ${JSON.stringify(rawLevel)}`) ??
        "Info")

  const rawKeyUri = given("key-uri", flags.keyUri)
  const keyUri =
    rawKeyUri === undefined
      ? backend === "fake"
        ? fakeDefaultKeyUri
        : (problem("key-uri", `required with --kms-backend cloud, e.g. --key-uri ${cryptoKeyNameExample}`) ?? "")
      : keyName("key-uri", rawKeyUri)
  const decryptKeyUris = [...new Set(list("decrypt-key-uri", flags.decryptKeyUri).map((k) => keyName("decrypt-key-uri", k)))].filter(
    (k) => k !== keyUri
  )

  const rawSuffix = given("key-suffix", flags.keySuffix)
  const keySuffix = rawSuffix === undefined || rawSuffix === "" ? undefined : suffix("key-suffix", rawSuffix)
  const decryptKeySuffixes = [...new Set(list("decrypt-key-suffix", flags.decryptKeySuffix).map((s) => suffix("decrypt-key-suffix", s)))]

  const fakeKmsPort = port("fake-kms-port", flags.fakeKmsPort, 8085)
  const rawEndpoint = given("kms-endpoint", flags.kmsEndpoint)
  const integrationTest = toggle("integration-test", flags.integrationTest)
  const kmsInsecure = toggle("kms-insecure", flags.kmsInsecure)
  const cloudEndpoint: CloudEndpoint = integrationTest
    ? { _tag: "Custom", host: "127.0.0.1", port: fakeKmsPort, insecure: true }
    : rawEndpoint === undefined
      ? kmsInsecure
        ? (problem("kms-insecure", "needs --kms-endpoint (plaintext is never used with Google's endpoint)") ?? { _tag: "Google" })
        : { _tag: "Google" }
      : (parseEndpoint(rawEndpoint, kmsInsecure) ??
        problem("kms-endpoint", `expected host:port, got ${JSON.stringify(rawEndpoint)}`) ?? { _tag: "Google" })

  const maxAttempts = count("kms-max-attempts", flags.kmsMaxAttempts, 5, 100)
  const attemptTimeoutMillis = duration("kms-attempt-timeout", flags.kmsAttemptTimeout, 2_000)
  const problemsBeforeBackoffs = problems.length
  const initialBackoffMillis = duration("kms-retry-initial-backoff", flags.kmsRetryInitialBackoff, 50)
  const maxBackoffMillis = duration("kms-retry-max-backoff", flags.kmsRetryMaxBackoff, 1_000)
  // Compare only two valid values: an invalid one already has its own message.
  if (problems.length === problemsBeforeBackoffs && maxBackoffMillis < initialBackoffMillis) {
    problem("kms-retry-max-backoff", "must not be shorter than --kms-retry-initial-backoff")
  }
  const callTimeoutMillis = duration("kms-call-timeout", flags.kmsCallTimeout, 10_000)
  const kmsRateLimit = rateLimit(given("kms-qps-limit", flags.kmsQpsLimit), given("kms-burst", flags.kmsBurst), problem)

  const rawSocket = given("path-to-unix-socket", flags.pathToUnixSocket)
  const socketPath = rawSocket === undefined ? defaultSocketPath : rawSocket
  if (socketPath === "" || socketPath === "@") problem("path-to-unix-socket", "must not be empty")
  else if (socketPath.includes("\0")) problem("path-to-unix-socket", "must not contain NUL")
  else if (socketPath.startsWith("@")) {
    // sun_path is 108 bytes: a leading NUL (the '@') and up to 107 name bytes, no terminator.
    const nameBytes = Buffer.byteLength(socketPath) - 1
    if (nameBytes > 107) problem("path-to-unix-socket", `abstract socket names are limited to 107 bytes after the '@', got ${nameBytes}`)
  } else if (Buffer.byteLength(socketPath) > 107) {
    problem("path-to-unix-socket", `unix socket paths are limited to 107 bytes, got ${Buffer.byteLength(socketPath)}`)
  } else {
    const notAFile = socketFileNameProblem(socketPath)
    if (notAFile !== undefined) problem("path-to-unix-socket", notAFile)
  }

  const rawMode = given("socket-mode", flags.socketMode)
  const socketMode =
    rawMode === undefined
      ? 0o600
      : (parseMode(rawMode) ??
        problem(
          "socket-mode",
          `expected an octal mode from 0600 to 0777 that lets the owner read and write, got ${JSON.stringify(rawMode)}`
        ) ??
        0o600)

  const healthzBindAddress = ipAddress("healthz-bind-address", given("healthz-bind-address", flags.healthzBindAddress), "127.0.0.1")
  const healthzPort = port("healthz-port", flags.healthzPort, 8081)
  const rawMetricsPort = given("metrics-port", flags.metricsPort)
  const metricsPort = rawMetricsPort === undefined ? undefined : port("metrics-port", flags.metricsPort, 8082)
  // Without --metrics-port, /metrics is served by the health listener: it
  // cannot also listen elsewhere. With it, its own listener, on loopback
  // unless told otherwise.
  const rawMetricsBind = given("metrics-bind-address", flags.metricsBindAddress)
  const askedMetricsBind = ipAddress("metrics-bind-address", rawMetricsBind, "127.0.0.1")
  const metricsBindAddress = metricsPort === undefined ? healthzBindAddress : askedMetricsBind
  if (metricsPort === undefined && rawMetricsBind !== undefined && isIpAddress(rawMetricsBind) && rawMetricsBind !== healthzBindAddress) {
    problem(
      "metrics-bind-address",
      `needs --metrics-port: without it /metrics is served by the health listener on --healthz-bind-address ${healthzBindAddress}; ` +
        "add --metrics-port (the Go plugin used 8082)"
    )
  }
  const rawVerbosity = Option.getOrUndefined(flags.v)
  if (rawVerbosity !== undefined && !/^-?\d{1,9}$/.test(rawVerbosity)) {
    problem("v", `expected glog's verbosity level, a whole number (it is ignored), got ${JSON.stringify(rawVerbosity)}`)
  }

  const config: PluginConfigShape = {
    keyUri,
    decryptKeyUris,
    keySuffix,
    decryptKeySuffixes,
    kmsApi,
    backend,
    cloudEndpoint,
    retry: { maxAttempts, initialBackoffMillis, maxBackoffMillis, attemptTimeoutMillis, callTimeoutMillis },
    kmsRateLimit,
    keyRefreshIntervalMillis: duration("key-refresh-interval", flags.keyRefreshInterval, 60_000, 100),
    socketPath,
    socketMode,
    shutdownGraceMillis: duration("shutdown-grace-period", flags.shutdownGracePeriod, 10_000, 0),
    healthzBindAddress,
    healthzPort,
    healthzPath: urlPath("healthz-path", flags.healthzPath, "healthz"),
    healthzTimeoutMillis: duration("healthz-timeout", flags.healthzTimeout, 5_000),
    healthzKmsCacheMillis: duration("healthz-kms-cache", flags.healthzKmsCache, 5_000, 0),
    // The same (fixed) port and address mean one listener for both; port 0 means a separate free port.
    metricsPort: metricsPort === healthzPort && metricsPort !== 0 && metricsBindAddress === healthzBindAddress ? undefined : metricsPort,
    metricsBindAddress,
    metricsPath: urlPath("metrics-path", flags.metricsPath, "metrics"),
    gceConfig: given("gce-config", flags.gceConfig),
    fakeKeyFile: given("fake-key-file", flags.fakeKeyFile),
    fakeLatencyMillis: duration("fake-latency", flags.fakeLatency, 0, 0),
    logFormat,
    logLevel
  }
  return problems.length === 0 ? Result.succeed(config) : Result.fail(new ConfigError({ problems }))
}

const isIpAddress = (raw: string): boolean => ipv4.test(raw) || ipv6.test(raw)

/** Most calls per second a limit may allow: beyond any Cloud KMS quota. */
export const maxQpsLimit = 100_000

/** --kms-qps-limit (a number > 0) and --kms-burst (a whole number >= 1, default the limit rounded up; only with a limit). */
const rateLimit = (
  rawQps: string | undefined,
  rawBurst: string | undefined,
  problem: (flag: string, message: string) => undefined
): KmsRateLimit | undefined => {
  const qps = rawQps === undefined ? undefined : /^\d+(?:\.\d+)?$/.test(rawQps) ? Number(rawQps) : Number.NaN
  const burst = rawBurst === undefined ? undefined : /^\d{1,6}$/.test(rawBurst) ? Number(rawBurst) : Number.NaN
  if (qps !== undefined && !(qps > 0 && qps <= maxQpsLimit)) {
    return problem(
      "kms-qps-limit",
      `expected calls per second, a number above 0 and at most ${maxQpsLimit} such as 50 or 12.5, got ${JSON.stringify(rawQps)}`
    )
  }
  if (burst !== undefined && !(burst >= 1))
    return problem("kms-burst", `expected a whole number of calls, at least 1, got ${JSON.stringify(rawBurst)}`)
  if (qps === undefined) return burst === undefined ? undefined : problem("kms-burst", "needs --kms-qps-limit (a burst of what rate?)")
  return { qps, burst: burst ?? Math.ceil(qps) }
}

const parseEndpoint = (raw: string, insecure: boolean): CloudEndpoint | undefined => {
  const colon = raw.lastIndexOf(":")
  if (colon <= 0) return undefined
  const host = raw.slice(0, colon)
  const portText = raw.slice(colon + 1)
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0
  if (port < 1 || port > 65535 || !hostPattern.test(host)) return undefined
  return { _tag: "Custom", host: host.replace(/^\[(.*)\]$/, "$1"), port, insecure }
}

const parseMode = (raw: string): number | undefined => {
  const digits = raw.replace(/^0o/i, "")
  if (!/^[0-7]{3,4}$/.test(digits)) return undefined
  const mode = Number.parseInt(digits, 8)
  return mode <= 0o777 && (mode & 0o600) === 0o600 ? mode : undefined
}
