import * as grpc from "@grpc/grpc-js"
import { type BenchServices, type Method, methodOf } from "./protos.ts"

// A KMS client over several HTTP/2 connections, calls spread round-robin.
// Answers are checked field by field: the server under test may be wrong,
// and a wrong answer must count as an error, not crash or pass silently.

export interface V2Encrypted {
  readonly ciphertext: Uint8Array
  readonly keyId: string
  readonly annotations: Readonly<Record<string, Uint8Array>>
}

export interface KmsClient {
  readonly v2Status: () => Promise<{ readonly healthz: string; readonly keyId: string }>
  readonly v2Encrypt: (plaintext: Uint8Array, uid: string) => Promise<V2Encrypted>
  readonly v2Decrypt: (encrypted: V2Encrypted, uid: string) => Promise<Uint8Array>
  readonly v1Encrypt: (plain: Uint8Array) => Promise<Uint8Array>
  readonly v1Decrypt: (cipher: Uint8Array) => Promise<Uint8Array>
  readonly close: () => void
}

const field = (value: object, name: string): unknown => (name in value ? Reflect.get(value, name) : undefined)

const bytes = (value: object, name: string): Uint8Array => {
  const found = field(value, name)
  if (!(found instanceof Uint8Array)) throw new Error(`answer has no bytes field ${name}`)
  return found
}

const text = (value: object, name: string): string => {
  const found = field(value, name)
  if (typeof found !== "string") throw new Error(`answer has no string field ${name}`)
  return found
}

const bytesMap = (value: object, name: string): Record<string, Uint8Array> => {
  const found = field(value, name)
  if (typeof found !== "object" || found === null) throw new Error(`answer has no map field ${name}`)
  const out: Record<string, Uint8Array> = {}
  for (const [key, entry] of Object.entries(found)) {
    if (!(entry instanceof Uint8Array)) throw new Error(`${name}[${key}] is not bytes`)
    out[key] = entry
  }
  return out
}

export const makeKmsClient = (
  target: string,
  services: BenchServices,
  options: { readonly channels: number; readonly deadlineMillis: number }
): KmsClient => {
  // A local subchannel pool per client (plus a distinct option value) keeps
  // grpc-js from sharing one connection among them.
  const clients = Array.from(
    { length: options.channels },
    (_, index) =>
      new grpc.Client(target, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        "bench.channel": index
      })
  )
  let next = 0

  const call = <A>(method: Method, request: object, decode: (answer: object) => A): Promise<A> =>
    new Promise((resolve, reject) => {
      const client = clients[next++ % clients.length]
      if (client === undefined) return reject(new Error("no channels"))
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: Date.now() + options.deadlineMillis },
        (error, answer) => {
          if (error !== null) return reject(error)
          if (answer === undefined) return reject(new Error(`${method.path}: empty answer`))
          try {
            resolve(decode(answer))
          } catch (cause) {
            reject(cause)
          }
        }
      )
    })

  const v2 = {
    status: methodOf(services.v2, "Status"),
    encrypt: methodOf(services.v2, "Encrypt"),
    decrypt: methodOf(services.v2, "Decrypt")
  }
  const v1 = { encrypt: methodOf(services.v1beta1, "Encrypt"), decrypt: methodOf(services.v1beta1, "Decrypt") }

  return {
    v2Status: () => call(v2.status, {}, (a) => ({ healthz: text(a, "healthz"), keyId: text(a, "keyId") })),
    v2Encrypt: (plaintext, uid) =>
      call(v2.encrypt, { plaintext, uid }, (a) => ({
        ciphertext: bytes(a, "ciphertext"),
        keyId: text(a, "keyId"),
        annotations: bytesMap(a, "annotations")
      })),
    v2Decrypt: (encrypted, uid) => call(v2.decrypt, { ...encrypted, uid }, (a) => bytes(a, "plaintext")),
    v1Encrypt: (plain) => call(v1.encrypt, { version: "v1beta1", plain }, (a) => bytes(a, "cipher")),
    v1Decrypt: (cipher) => call(v1.decrypt, { version: "v1beta1", cipher }, (a) => bytes(a, "plain")),
    close: () => {
      for (const client of clients) client.close()
    }
  }
}
