import * as grpc from "@grpc/grpc-js"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"
import type { CallRecord } from "./stats.ts"

// The soak's client of the plugin socket, dialled like the apiserver does:
// one connection, wait-for-ready, a deadline on every call (3 s by default,
// the apiserver's). Every call resolves (never rejects) with what the client
// saw: code, details, and the time from sending to the answer.

export interface Answer<A> extends CallRecord {
  /** Present when code is OK. */
  readonly response: A | undefined
}

export type RpcName = "v2.Status" | "v2.Encrypt" | "v2.Decrypt" | "v1beta1.Version" | "v1beta1.Encrypt" | "v1beta1.Decrypt"

export interface SoakClient {
  readonly call: (rpc: RpcName, request: object) => Promise<Answer<Record<string, unknown>>>
  readonly close: () => void
}

export const makeSoakClient = (target: string, deadlineMillis: number): SoakClient => {
  const services = kmsServices()
  const client = new grpc.Client(target, grpc.credentials.createInsecure())
  const methodOf = (rpc: RpcName): grpc.MethodDefinition<object, object> => {
    const [api, name] = rpc.split(".") as [string, string]
    const method = (api === "v2" ? services.v2 : services.v1beta1)[name]
    if (method === undefined) throw new Error(`no method ${rpc}`)
    return method
  }
  const methods = new Map<RpcName, grpc.MethodDefinition<object, object>>()

  const call = (rpc: RpcName, request: object): Promise<Answer<Record<string, unknown>>> =>
    new Promise((resolve) => {
      let method = methods.get(rpc)
      if (method === undefined) {
        method = methodOf(rpc)
        methods.set(rpc, method)
      }
      const uid = "uid" in request && typeof request.uid === "string" ? request.uid : undefined
      const started = performance.now()
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata({ waitForReady: true }),
        { deadline: Date.now() + deadlineMillis },
        (error, response) => {
          const elapsedMillis = performance.now() - started
          if (error !== null) {
            resolve({ method: rpc, uid, elapsedMillis, code: error.code, details: error.details, response: undefined })
          } else {
            resolve({ method: rpc, uid, elapsedMillis, code: grpc.status.OK, details: "", response: response as Record<string, unknown> })
          }
        }
      )
    })

  return { call, close: () => client.close() }
}
