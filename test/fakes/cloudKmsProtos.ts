import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { serviceOf } from "../support/protoServices.ts"

// The fake speaks exactly the protos the real client is built from: the KMS
// protos shipped in @google-cloud/kms, and the IAM protos of the google-gax
// copy that package uses (its testIamPermissions goes through gax's
// IamClient, so google.iam.v1 is not in the KMS protos.json).

type ProtoJson = Parameters<typeof protoLoader.fromJSON>[0]

const isProtoJson = (value: unknown): value is ProtoJson =>
  typeof value === "object" && value !== null && "nested" in value && typeof value.nested === "object" && value.nested !== null

const readProtoJson = (file: string): ProtoJson => {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"))
  if (!isProtoJson(parsed)) throw new Error(`${file} is not a protobuf.js JSON descriptor`)
  return parsed
}

const loaderOptions: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true }

export interface CloudKmsServices {
  readonly kms: grpc.ServiceDefinition
  readonly iam: grpc.ServiceDefinition
}

let loaded: CloudKmsServices | undefined

/** google.cloud.kms.v1.KeyManagementService and google.iam.v1.IAMPolicy, loaded once. */
export const cloudKmsServices = (): CloudKmsServices => {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url)
    const kmsEntry = require.resolve("@google-cloud/kms") // …/@google-cloud/kms/build/src/index.js
    const gaxEntry = createRequire(kmsEntry).resolve("google-gax") // …/google-gax/build/src/index.js
    const kms = protoLoader.fromJSON(readProtoJson(path.resolve(path.dirname(kmsEntry), "../protos/protos.json")), loaderOptions)
    const iam = protoLoader.fromJSON(readProtoJson(path.resolve(path.dirname(gaxEntry), "../protos/iam_service.json")), loaderOptions)
    loaded = {
      kms: serviceOf(kms, "google.cloud.kms.v1.KeyManagementService"),
      iam: serviceOf(iam, "google.iam.v1.IAMPolicy")
    }
  }
  return loaded
}
