import { status } from "@grpc/grpc-js"
import { KmsStatusError } from "./KmsStatusError.ts"

// Typed reads of the decoded request objects (proto-loader with longs: String,
// defaults: true): absent strings are "", absent bytes an empty Buffer,
// absent wrapper messages (Int64Value) null.

const fieldOf = (message: unknown, key: string): unknown => {
  if (typeof message !== "object" || message === null) return undefined
  const value: unknown = Reflect.get(message, key)
  return value
}

export const stringField = (message: unknown, key: string): string => {
  const value = fieldOf(message, key)
  return typeof value === "string" ? value : ""
}

export const bytesField = (message: unknown, key: string): Buffer => {
  const value = fieldOf(message, key)
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.alloc(0)
}

export const stringsField = (message: unknown, key: string): ReadonlyArray<string> => {
  const value = fieldOf(message, key)
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []
}

/**
 * A google.protobuf.Int64Value: undefined when absent. The value arrives as a
 * decimal string (longs: String), but a number is accepted too.
 */
export const int64ValueField = (message: unknown, key: string): bigint | undefined => {
  const wrapper = fieldOf(message, key)
  if (wrapper === undefined || wrapper === null) return undefined
  const value = fieldOf(wrapper, "value")
  if (typeof value === "string" && /^-?[0-9]+$/.test(value)) return BigInt(value)
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value)
  if (value === undefined || value === null) return 0n // an Int64Value with the default value
  throw new KmsStatusError(status.INVALID_ARGUMENT, `${key} is not a valid Int64Value`)
}

/** How an Int64Value goes back on the wire with longs: String. */
export const int64Value = (value: number | bigint): { readonly value: string } => ({ value: value.toString() })
