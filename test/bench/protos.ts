import * as path from "node:path"
import type * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { projectRoot } from "../support/projectRoot.ts"
import { serviceOf } from "../support/protoServices.ts"

// The Kubernetes KMS protos as the bench's own processes see them (floor
// server and load generator). Loaded from proto/ directly, not through the
// plugin's modules, so the bench does not depend on plugin internals and
// works unchanged against a bundled plugin.

// Same loader options as the plugin, so the floor pays the same
// (de)serialisation costs and the comparison isolates everything else.
const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(projectRoot, "proto")]
}

export interface BenchServices {
  readonly v2: protoLoader.ServiceDefinition
  readonly v1beta1: protoLoader.ServiceDefinition
}

export const loadServices = (): BenchServices => {
  const definition = protoLoader.loadSync(["v2/api.proto", "v1beta1/api.proto"], loaderOptions)
  return {
    v2: serviceOf(definition, "v2.KeyManagementService"),
    v1beta1: serviceOf(definition, "v1beta1.KeyManagementService")
  }
}

export type Method = protoLoader.MethodDefinition<object, object>

export const methodOf = (service: protoLoader.ServiceDefinition, name: string): Method => {
  const method = service[name]
  if (method === undefined) throw new Error(`method ${name} missing from the protos`)
  return method
}

/** grpc-js target for a unix socket path. */
export const targetOf = (socketPath: string): string => `unix://${path.resolve(socketPath)}`

// grpc-js service definitions are structurally the proto-loader ones.
export const asGrpcService = (service: protoLoader.ServiceDefinition): grpc.ServiceDefinition => service
