import * as grpc from "@grpc/grpc-js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { PluginConfig } from "../config/PluginConfig.ts"
import { type CallLimits, KeyManagement } from "../kms/KeyManagement.ts"
import type { KmsError } from "../kms/KmsErrors.ts"
import { Shutdown } from "../runtime/Shutdown.ts"
import { CallObserver, declareCallSeries, type RpcMethod } from "./CallObserver.ts"
import { kmsServices } from "./KmsProtos.ts"
import type { V1beta1, V2 } from "./messages.ts"
import { maxRequestMessageBytes } from "./RequestRules.ts"
import { bindSocket } from "./SocketBinding.ts"
import { type CallRunner, unaryCall } from "./unaryCall.ts"
import { makeV1beta1Handlers } from "./V1beta1Handlers.ts"
import { makeV2Handlers } from "./V2Handlers.ts"

const serverOptions: grpc.ServerOptions = {
  // Refused from the length prefix, before the message is buffered.
  "grpc.max_receive_message_length": maxRequestMessageBytes,
  "grpc.max_send_message_length": maxRequestMessageBytes,
  // Bounds what one connection can hold open (each stalled call can pin up to
  // a message's worth of memory); gRPC clients queue calls beyond it.
  "grpc.max_concurrent_streams": 1000
}

const noUid = (): undefined => undefined

/**
 * Serves KMS v2 and/or v1beta1 on the unix socket. Scoped: on release it stops
 * accepting, lets in-flight calls finish within the grace period, then cuts
 * the rest, and removes the socket.
 */
const make = Effect.gen(function* () {
  const config = yield* PluginConfig
  const kms = yield* KeyManagement
  const observer = yield* CallObserver
  const shutdown = yield* Shutdown
  const run: CallRunner = Effect.runCallbackWith(yield* Effect.context<never>())
  const observe = observer.observe

  // grpc-js would print its own unstructured lines on stderr; every failure
  // it reports reaches us as an error and is logged in our format.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE)
  const server = new grpc.Server(serverOptions)
  const services = kmsServices()
  const served: Array<RpcMethod> = []
  const call = <Req, Res>(
    method: RpcMethod,
    handler: (request: Req, limits: CallLimits) => Effect.Effect<Res, KmsError>,
    uidOf: (request: Req) => string | undefined
  ) => {
    served.push(method)
    return unaryCall(run, method, handler, uidOf, observe)
  }
  if (config.kmsApi !== "v1") {
    const v2 = makeV2Handlers(kms, config)
    const uid = (request: { readonly uid: string }) => request.uid
    server.addService(services.v2, {
      Status: call<V2.StatusRequest, V2.StatusResponse>({ api: "v2", name: "Status" }, v2.Status, noUid),
      Encrypt: call<V2.EncryptRequest, V2.EncryptResponse>({ api: "v2", name: "Encrypt" }, v2.Encrypt, uid),
      Decrypt: call<V2.DecryptRequest, V2.DecryptResponse>({ api: "v2", name: "Decrypt" }, v2.Decrypt, uid)
    })
  }
  if (config.kmsApi !== "v2") {
    const v1 = makeV1beta1Handlers(kms)
    server.addService(services.v1beta1, {
      Version: call<V1beta1.VersionRequest, V1beta1.VersionResponse>({ api: "v1beta1", name: "Version" }, v1.Version, noUid),
      Encrypt: call<V1beta1.EncryptRequest, V1beta1.EncryptResponse>({ api: "v1beta1", name: "Encrypt" }, v1.Encrypt, noUid),
      Decrypt: call<V1beta1.DecryptRequest, V1beta1.DecryptResponse>({ api: "v1beta1", name: "Decrypt" }, v1.Decrypt, noUid)
    })
  }
  yield* declareCallSeries(served)

  const binding = yield* Effect.acquireRelease(
    Effect.tap(bindSocket(server, config.socketPath, config.socketMode), (binding) =>
      // A forced exit (second signal) still removes the socket.
      Effect.sync(() => process.once("exit", binding.cleanUp))
    ),
    (binding) =>
      Effect.gen(function* () {
        // tryShutdown closes grpc-js's listener at once, then waits for open calls.
        binding.stopAccepting()
        const draining = yield* Effect.sync(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())))
        yield* Effect.logInfo("shutting down: no new connections, waiting for in-flight calls")
        const drained = yield* Effect.promise(() => draining).pipe(Effect.timeoutOption(config.shutdownGraceMillis))
        if (drained._tag === "None") {
          server.forceShutdown()
          yield* shutdown.markForced(`in-flight calls still running after the ${config.shutdownGraceMillis}ms grace period`)
          yield* Effect.logWarning("grace period exceeded: cut the remaining calls")
        }
        binding.cleanUp()
        process.removeListener("exit", binding.cleanUp)
        yield* Effect.logInfo(`stopped serving on ${config.socketPath}`)
      })
  )
  const apis = config.kmsApi === "both" ? "v2 and v1beta1" : config.kmsApi === "v1" ? "v1beta1" : "v2"
  yield* Effect.logInfo(`serving KMS ${apis} on ${binding.display}`)
  return GrpcServer.of({ target: binding.target })
})

/** The serving socket, once bound. */
export class GrpcServer extends Context.Service<
  GrpcServer,
  {
    /** grpc-js target for clients of this server, e.g. unix:///var/run/kmsplugin/socket.sock */
    readonly target: string
  }
>()("k8s-cloudkms-plugin/grpc/GrpcServer") {
  static readonly layer = Layer.effect(GrpcServer, make)
}
