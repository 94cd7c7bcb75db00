import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"

// Loads proto/v2/api.proto and proto/v1beta1/api.proto once. The folder is
// found by walking up from this module, so the same code works from src/ and
// from the bundle in dist/.

const findProtoRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, "proto")
    if (fs.existsSync(path.join(candidate, "v2", "api.proto"))) return candidate
    dir = path.dirname(dir)
  }
  throw new Error("proto/v2/api.proto not found next to the plugin")
}

const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true
}

// Messages and enums carry a `format`; services are plain method tables.
const isService = (found: protoLoader.AnyDefinition): found is protoLoader.ServiceDefinition => !("format" in found)

const serviceOf = (definition: protoLoader.PackageDefinition, name: string): grpc.ServiceDefinition => {
  const found = definition[name]
  if (found === undefined || !isService(found)) throw new Error(`${name} missing from the protos`)
  return found
}

export interface KmsServices {
  readonly v2: grpc.ServiceDefinition
  readonly v1beta1: grpc.ServiceDefinition
}

let loaded: KmsServices | undefined

/** Service definitions of both Kubernetes KMS APIs (server and client side). */
export const kmsServices = (): KmsServices => {
  if (loaded === undefined) {
    const root = findProtoRoot()
    const definition = protoLoader.loadSync(["v2/api.proto", "v1beta1/api.proto"], { ...loaderOptions, includeDirs: [root] })
    loaded = {
      v2: serviceOf(definition, "v2.KeyManagementService"),
      v1beta1: serviceOf(definition, "v1beta1.KeyManagementService")
    }
  }
  return loaded
}
