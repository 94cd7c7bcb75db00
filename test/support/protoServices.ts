import type * as protoLoader from "@grpc/proto-loader"

// Messages and enums carry a `format`; services are plain method tables.
const isService = (found: protoLoader.AnyDefinition): found is protoLoader.ServiceDefinition => !("format" in found)

/** The service `name` of a loaded proto package (a grpc-js ServiceDefinition too); throws if it is missing. */
export const serviceOf = (definition: protoLoader.PackageDefinition, name: string): protoLoader.ServiceDefinition => {
  const found = definition[name]
  if (found === undefined || !isService(found)) throw new Error(`${name} missing from the protos`)
  return found
}
