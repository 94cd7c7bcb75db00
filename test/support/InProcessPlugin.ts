import * as path from "node:path"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { makePluginClient, type PluginClient } from "../../src/client/PluginClient.ts"
import type { ConfigError } from "../../src/config/ConfigError.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig, type PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { CallObserver, type CallOutcome } from "../../src/grpc/CallObserver.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import { HealthServer } from "../../src/health/HealthServer.ts"
import * as CloudKms from "../../src/kms/cloud/CloudKms.ts"
import * as FakeKms from "../../src/kms/fake/FakeKms.ts"
import { FakeKmsControl, type FakeKmsControlShape } from "../../src/kms/fake/FakeKms.ts"
import { type BackendRoute, BackendRoutes, KeyManagement, type KeyManagementShape } from "../../src/kms/KeyManagement.ts"
import { plugin } from "../../src/main.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import type { StartupError } from "../../src/runtime/StartupError.ts"
import { cloudKeyUri, FakeCloud } from "../fakes/FakeCloud.ts"
import { configFrom, noFlags } from "./config.ts"
import { lineCollector } from "./logCapture.ts"
import { tempDir } from "./tempDir.ts"

// The one place that builds the plugin inside the test process (so a
// mutation run sees which test covers which line). Parametrised by backend:
// the fake one, the cloud one against the FakeCloud in the test's context, or
// a KeyManagement test double. By default only the gRPC server runs, with its
// log lines and call outcomes captured; with `health: true` it is the whole
// plugin as src/main.ts composes it (socket and health server, logging off).
// Either way on a temp socket, with a client of it and a scope the test may
// close itself to watch the shutdown.

/** The fake backend's --key-uri, and another key for --decrypt-key-uri tests. */
export const fakeKeyUri = "projects/test-project/locations/global/keyRings/test-ring/cryptoKeys/test-key"
export const oldKeyUri = "projects/test-project/locations/global/keyRings/test-ring/cryptoKeys/old-key"

/** A KeyManagement test double (KeyManagement.layerTest): what is not given dies when used. */
export type KeyManagementDouble = Layer.PartialEffectful<KeyManagementShape>

export type Backend = "fake" | "cloud" | KeyManagementDouble

interface Common {
  /** On top of the backend's defaults (see backendFlags). */
  readonly flags?: Partial<PluginFlags>
  /** Defaults to <temp dir>/kms.sock. */
  readonly socketPath?: string
  /** The client's per-call deadline; 10 s by default. */
  readonly clientTimeoutMillis?: number
}

export type InProcessOptions =
  | (Common & { readonly health?: false; readonly backend?: Backend })
  | (Common & { readonly health: true; readonly backend?: "fake" | "cloud" })

type WithCloud = Common & { readonly health?: boolean; readonly backend: "cloud" }
type WithoutCloud =
  | (Common & { readonly health?: false; readonly backend?: "fake" | KeyManagementDouble })
  | (Common & { readonly health: true; readonly backend?: "fake" })

export interface InProcess {
  readonly config: PluginConfigShape
  readonly target: string
  readonly socketPath: string
  readonly client: PluginClient
  /** The fake backend's control (rotation, version states); dies for another backend. */
  readonly control: FakeKmsControlShape
  /** The health server's URL, and the metrics listener's (the same unless --metrics-port); with `health: true` only. */
  readonly url: string
  readonly metricsUrl: string
  /** Every log message, as text, in order; without `health` only (the whole plugin logs through its own Logging layer). */
  readonly lines: ReadonlyArray<string>
  /** Every call outcome the server reported, in order; without `health` only. */
  readonly outcomes: ReadonlyArray<CallOutcome>
  /** Waits until at least n outcomes were reported (the observer runs after the answer is sent). */
  readonly awaitOutcomes: (n: number) => Effect.Effect<ReadonlyArray<CallOutcome>>
  readonly shutdown: Shutdown["Service"]
  /** Releases the plugin (drain, grace period, socket removal) now. */
  readonly stop: Effect.Effect<void>
}

type StartFailure = ConfigError | StartupError

/** The flags each backend starts from: the fake with fakeKeyUri; the cloud one with key-a of the FakeCloud in context. */
const backendFlags = (backend: Backend): Effect.Effect<Partial<PluginFlags>, never, FakeCloud> =>
  backend === "cloud"
    ? FakeCloud.useSync((fake) => ({
        kmsBackend: Option.some("cloud"),
        keyUri: Option.some(cloudKeyUri),
        kmsEndpoint: Option.some(fake.address),
        kmsInsecure: true,
        kmsRetryInitialBackoff: Option.some("10ms"),
        kmsRetryMaxBackoff: Option.some("50ms"),
        // Long enough that no attempt times out on a loaded machine: call counts stay exact.
        kmsAttemptTimeout: Option.some("10s")
      }))
    : Effect.succeed({ kmsBackend: Option.some("fake"), keyUri: Option.some(fakeKeyUri) })

const backendLayer = (backend: Backend): Layer.Layer<KeyManagement, StartFailure, PluginConfig> =>
  backend === "fake" ? FakeKms.layer : backend === "cloud" ? CloudKms.layer : KeyManagement.layerTest(backend)

const fail = (field: string, why: string): never => {
  throw new Error(`InProcessPlugin.${field}: ${why}`)
}

const noControl: FakeKmsControlShape = {
  rotate: () => Effect.die("InProcessPlugin.control: only the fake backend has one"),
  setVersionState: () => Effect.die("InProcessPlugin.control: only the fake backend has one"),
  setPrimary: () => Effect.die("InProcessPlugin.control: only the fake backend has one")
}

/** A scope of its own, closed with the test's at the latest: `stop` closes it earlier. */
const ownScope = Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))

/** The whole plugin of src/main.ts (socket and health server), --log-level none, a free health port. */
const wholePlugin = (flags: PluginFlags, clientTimeoutMillis: number) =>
  Effect.gen(function* () {
    const scope = yield* ownScope
    const running = yield* Layer.buildWithScope(plugin(flags).pipe(Layer.provideMerge(Shutdown.layerTest)), scope)
    const config = Context.get(running, PluginConfig)
    const health = Context.get(running, HealthServer)
    const { target } = Context.get(running, GrpcServer)
    const client = yield* makePluginClient(target, { timeoutMillis: clientTimeoutMillis })
    const why = "the whole plugin logs and observes calls itself; use health: false to capture them"
    const inProcess: InProcess = {
      config,
      target,
      socketPath: config.socketPath,
      client,
      control: noControl,
      url: health.url,
      metricsUrl: health.metricsUrl,
      get lines() {
        return fail("lines", why)
      },
      get outcomes() {
        return fail("outcomes", why)
      },
      awaitOutcomes: () => fail("awaitOutcomes", why),
      shutdown: Context.get(running, Shutdown),
      stop: Scope.close(scope, Exit.void)
    }
    return inProcess
  })

/** The gRPC server over the backend, every log line and call outcome kept. */
const grpcServer = (backend: Backend, config: PluginConfigShape, clientTimeoutMillis: number) =>
  Effect.gen(function* () {
    const logs = lineCollector()
    const outcomes: Array<CallOutcome> = []
    const waiters: Array<{ readonly n: number; readonly done: Deferred.Deferred<ReadonlyArray<CallOutcome>> }> = []
    const wake = () =>
      Effect.forEach(
        waiters.filter((w) => w.n <= outcomes.length),
        (w) => Deferred.succeed(w.done, [...outcomes])
      )
    // The plugin's own observer (metrics, the failed-call log line), and a record of each outcome.
    const observer = Layer.effect(
      CallObserver,
      CallObserver.useSync((real) =>
        CallObserver.of({
          observe: (outcome) =>
            Effect.sync(() => void outcomes.push(outcome)).pipe(Effect.andThen(real.observe(outcome)), Effect.andThen(Effect.suspend(wake)))
        })
      )
    ).pipe(Layer.provide(CallObserver.layer))
    const awaitOutcomes = (n: number) =>
      Effect.gen(function* () {
        const done = yield* Deferred.make<ReadonlyArray<CallOutcome>>()
        waiters.push({ n, done })
        yield* Effect.suspend(wake)
        return yield* Deferred.await(done)
      })
    const scope = yield* ownScope
    const context = yield* Layer.buildWithScope(
      GrpcServer.layer.pipe(
        Layer.provideMerge(Layer.mergeAll(backendLayer(backend), observer)),
        Layer.provide(PluginConfig.layerTest(config)),
        Layer.provideMerge(Shutdown.layerTest),
        Layer.provide(logs.layer)
      ),
      scope
    )
    const { target } = Context.get(context, GrpcServer)
    const client = yield* makePluginClient(target, { timeoutMillis: clientTimeoutMillis })
    const inProcess: InProcess = {
      config,
      target,
      socketPath: config.socketPath,
      client,
      control: Option.getOrElse(Context.getOption(context, FakeKmsControl), () => noControl),
      get url() {
        return fail("url", "the health server runs with health: true only")
      },
      get metricsUrl() {
        return fail("metricsUrl", "the health server runs with health: true only")
      },
      lines: logs.messages,
      outcomes,
      awaitOutcomes,
      shutdown: Context.get(context, Shutdown),
      stop: Scope.close(scope, Exit.void)
    }
    return inProcess
  })

const build = (options: InProcessOptions): Effect.Effect<InProcess, StartFailure, Scope.Scope | FakeCloud> =>
  Effect.gen(function* () {
    const backend = options.backend ?? "fake"
    const socketPath = options.socketPath ?? path.join(yield* tempDir, "kms.sock")
    const flags: Partial<PluginFlags> = {
      ...(yield* backendFlags(backend)),
      // The cloud backend's key check every 200 ms: rotation and recovery show quickly.
      ...(backend === "cloud" ? { keyRefreshInterval: Option.some("200ms") } : {}),
      pathToUnixSocket: Option.some(socketPath),
      ...options.flags
    }
    const clientTimeoutMillis = options.clientTimeoutMillis ?? 10_000
    return options.health === true
      ? yield* wholePlugin({ ...noFlags, healthzPort: Option.some("0"), logLevel: Option.some("none"), ...flags }, clientTimeoutMillis)
      : yield* grpcServer(backend, configFrom(flags), clientTimeoutMillis)
  })

/** The plugin, built and serving in this process; released with the scope (or `stop`). */
export function inProcessPlugin(options: WithCloud): Effect.Effect<InProcess, StartFailure, Scope.Scope | FakeCloud>
export function inProcessPlugin(options?: WithoutCloud): Effect.Effect<InProcess, StartFailure, Scope.Scope>
export function inProcessPlugin(options: InProcessOptions = {}): Effect.Effect<InProcess, StartFailure, Scope.Scope | FakeCloud> {
  return build(options)
}

/** The in-process plugin as a service of the test's context (for `layer(...)` and `Effect.provide`). */
export class InProcessPlugin extends Context.Service<InProcessPlugin, InProcess>()("test/InProcessPlugin") {
  static layer(options: WithCloud): Layer.Layer<InProcessPlugin, StartFailure, FakeCloud>
  static layer(options?: WithoutCloud): Layer.Layer<InProcessPlugin, StartFailure>
  static layer(options: InProcessOptions = {}): Layer.Layer<InProcessPlugin, StartFailure, FakeCloud> {
    return Layer.effect(InProcessPlugin, build(options))
  }
}

export interface InProcessBackend {
  readonly kms: KeyManagementShape
  /** The fake backend's control; dies for the cloud one. */
  readonly control: FakeKmsControlShape
  readonly config: PluginConfigShape
  /** The HTTP routes it adds to the health server (the fake's POST /fake/rotate). */
  readonly routes: ReadonlyArray<BackendRoute>
  readonly logs: ReturnType<typeof lineCollector>
}

/** The backend alone (KeyManagement, no server in front), with the same defaults, and every line it logs. */
export function inProcessBackend(options: {
  readonly backend: "cloud"
  readonly flags?: Partial<PluginFlags>
}): Effect.Effect<InProcessBackend, StartFailure, Scope.Scope | FakeCloud>
export function inProcessBackend(options?: {
  readonly backend?: "fake"
  readonly flags?: Partial<PluginFlags>
}): Effect.Effect<InProcessBackend, StartFailure, Scope.Scope>
export function inProcessBackend(
  options: { readonly backend?: "fake" | "cloud"; readonly flags?: Partial<PluginFlags> } = {}
): Effect.Effect<InProcessBackend, StartFailure, Scope.Scope | FakeCloud> {
  return Effect.gen(function* () {
    const backend = options.backend ?? "fake"
    const logs = lineCollector()
    const config = configFrom({ ...(yield* backendFlags(backend)), ...options.flags })
    const context = yield* Layer.build(backendLayer(backend).pipe(Layer.provide(PluginConfig.layerTest(config)), Layer.provide(logs.layer)))
    return {
      kms: Context.get(context, KeyManagement),
      control: Option.getOrElse(Context.getOption(context, FakeKmsControl), () => noControl),
      config,
      routes: Context.get(context, BackendRoutes),
      logs
    }
  })
}
