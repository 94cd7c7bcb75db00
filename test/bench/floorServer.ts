import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import * as grpc from "@grpc/grpc-js"
import { asGrpcService, loadServices, targetOf } from "./protos.ts"

// The runtime's floor: bare grpc-js + proto-loader serving the same KMS protos
// with node:crypto AES-256-GCM and nothing else (no Effect, no validation
// layers, no logging, no metrics). Whatever the plugin costs above this is
// the price of its own code, not of Node, gRPC or the crypto.
//
//   node test/bench/floorServer.ts --socket /tmp/x/floor.sock [--delay-ms 20]

const keyId = "floor-key-1"
// A KeyObject made once, as the plugin's fake backend does: handing raw bytes
// to node:crypto rebuilds a key object on every call (a measurable share of
// the CPU), so both sides pay the same crypto cost and it cancels out.
const key = crypto.createSecretKey(crypto.randomBytes(32))
const nonceBytes = 12
const tagBytes = 16

// ciphertext = nonce | sealed | tag, as the fake backend lays it out.
const seal = (plaintext: Uint8Array): Buffer => {
  const nonce = crypto.randomBytes(nonceBytes)
  const cipher = crypto.createCipheriv("aes-256-gcm", key, nonce)
  const sealed = cipher.update(plaintext)
  cipher.final()
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()])
}

/** The plaintext, or undefined when the ciphertext is not ours or was altered. */
const open = (ciphertext: Uint8Array): Buffer | undefined => {
  if (ciphertext.length < nonceBytes + tagBytes) return undefined
  const decipher = crypto.createDecipheriv("aes-256-gcm", key, ciphertext.subarray(0, nonceBytes))
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - tagBytes))
  try {
    const plain = decipher.update(ciphertext.subarray(nonceBytes, ciphertext.length - tagBytes))
    decipher.final()
    return plain
  } catch {
    return undefined
  }
}

// proto-loader hands requests over untyped; these are the only checks made.
const bytesField = (request: unknown, field: string): Uint8Array | undefined => {
  if (typeof request !== "object" || request === null || !(field in request)) return undefined
  const value: unknown = Reflect.get(request, field)
  return value instanceof Uint8Array ? value : undefined
}

const stringField = (request: unknown, field: string): string | undefined => {
  if (typeof request !== "object" || request === null || !(field in request)) return undefined
  const value: unknown = Reflect.get(request, field)
  return typeof value === "string" ? value : undefined
}

const invalid = (details: string): Partial<grpc.StatusObject> => ({ code: grpc.status.INVALID_ARGUMENT, details })

type Handler = grpc.handleUnaryCall<unknown, object>

// --delay-ms N answers each Encrypt and Decrypt N ms late, as a server that
// waits on a remote KMS must (the plugin answers once Cloud KMS has): a call
// held open costs more than one answered at once (a timer, objects that
// outlive a young-generation GC, smaller batches), and the Cloud KMS cost set
// compares the plugin with that.
let delayMillis = 0
const answer = (send: () => void): void => {
  if (delayMillis > 0) setTimeout(send, delayMillis)
  else send()
}

const encryptWith =
  (field: string, reply: (ciphertext: Buffer) => object): Handler =>
  (call, callback) => {
    const plaintext = bytesField(call.request, field)
    if (plaintext === undefined || plaintext.length === 0) return callback(invalid("empty plaintext"))
    const sealed = seal(plaintext)
    answer(() => callback(null, reply(sealed)))
  }

const v2Handlers: grpc.UntypedServiceImplementation = {
  Status: (_call: grpc.ServerUnaryCall<unknown, object>, callback: grpc.sendUnaryData<object>) =>
    callback(null, { version: "v2", healthz: "ok", keyId }),
  Encrypt: encryptWith("plaintext", (ciphertext) => ({ ciphertext, keyId, annotations: {} })),
  Decrypt: ((call, callback) => {
    if (stringField(call.request, "keyId") !== keyId) return callback(invalid("unknown key_id"))
    const plaintext = open(bytesField(call.request, "ciphertext") ?? new Uint8Array())
    if (plaintext === undefined) return callback(invalid("ciphertext does not open"))
    answer(() => callback(null, { plaintext }))
  }) satisfies Handler
}

const v1beta1Handlers: grpc.UntypedServiceImplementation = {
  Version: (_call: grpc.ServerUnaryCall<unknown, object>, callback: grpc.sendUnaryData<object>) =>
    callback(null, { version: "v1beta1", runtimeName: "floor", runtimeVersion: "0.0.0" }),
  Encrypt: encryptWith("plain", (cipher) => ({ cipher })),
  Decrypt: ((call, callback) => {
    const plain = open(bytesField(call.request, "cipher") ?? new Uint8Array())
    if (plain === undefined) return callback(invalid("cipher does not open"))
    answer(() => callback(null, { plain }))
  }) satisfies Handler
}

// Also takes the plugin's socket flag and ignores the plugin's other flags, so
// the harness can run the floor in the plugin's seat (BENCH_PLUGIN_CMD="node
// test/bench/floorServer.ts"): a floor-vs-floor run shows the noise level.
const { values } = parseArgs({
  options: { socket: { type: "string" }, "path-to-unix-socket": { type: "string" }, "delay-ms": { type: "string" } },
  strict: false,
  allowPositionals: true
})
const delay = values["delay-ms"]
if (delay !== undefined) {
  delayMillis = typeof delay === "string" && /^\d+$/.test(delay) ? Number(delay) : Number.NaN
  if (!Number.isFinite(delayMillis)) {
    process.stderr.write("--delay-ms must be a whole number of milliseconds\n")
    process.exit(2)
  }
}
const given = values.socket ?? values["path-to-unix-socket"]
const socketPath = typeof given === "string" ? given : undefined
if (socketPath === undefined) {
  process.stderr.write("usage: node test/bench/floorServer.ts --socket PATH [--delay-ms N]\n")
  process.exit(2)
}

const services = loadServices()
const server = new grpc.Server()
server.addService(asGrpcService(services.v2), v2Handlers)
server.addService(asGrpcService(services.v1beta1), v1beta1Handlers)

fs.rmSync(socketPath, { force: true })
server.bindAsync(targetOf(socketPath), grpc.ServerCredentials.createInsecure(), (error) => {
  if (error !== null) {
    process.stderr.write(`floor: cannot bind ${socketPath}: ${error.message}\n`)
    process.exit(1)
  }
})

// Stop on the signals the orchestrator (or a terminal) sends; remove the socket.
const stop = () => {
  server.forceShutdown()
  fs.rmSync(socketPath, { force: true })
  process.exit(0)
}
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
