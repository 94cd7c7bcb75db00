import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as grpc from "@grpc/grpc-js"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"

// A deliberately wrong KMS plugin on a unix socket, to prove the soak's
// detectors fire: every third v2 Decrypt returns a plaintext with one byte
// flipped, every fifth Status answers after the caller's deadline, and
// v1beta1 Encrypt fails with INTERNAL and the plaintext (hex) in its message.

export interface Saboteur {
  readonly target: string
  readonly close: () => Promise<void>
}

const mask = 0x5a
const xor = (bytes: Uint8Array): Buffer => Buffer.from(bytes.map((b) => b ^ mask))

export const startSaboteur = async (options: { readonly keyId: string; readonly lateMillis: number }): Promise<Saboteur> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kms-saboteur-"))
  const target = `unix://${path.join(dir, "kms.sock")}`
  const services = kmsServices()
  const server = new grpc.Server()
  let decrypts = 0
  let statuses = 0
  const timers = new Set<NodeJS.Timeout>()
  type Call = grpc.ServerUnaryCall<Record<string, Uint8Array>, object>
  server.addService(services.v2, {
    Status: (_call: Call, callback: grpc.sendUnaryData<object>) => {
      const answer = () => callback(null, { version: "v2", healthz: "ok", keyId: options.keyId })
      if (++statuses % 5 !== 0) return answer()
      const timer = setTimeout(() => {
        timers.delete(timer)
        answer()
      }, options.lateMillis)
      timers.add(timer)
    },
    Encrypt: (call: Call, callback: grpc.sendUnaryData<object>) =>
      callback(null, { ciphertext: xor(call.request["plaintext"] ?? new Uint8Array()), keyId: options.keyId, annotations: {} }),
    Decrypt: (call: Call, callback: grpc.sendUnaryData<object>) => {
      const plaintext = xor(call.request["ciphertext"] ?? new Uint8Array())
      if (++decrypts % 3 === 0) plaintext[plaintext.length - 1] = (plaintext[plaintext.length - 1] ?? 0) ^ 1
      callback(null, { plaintext })
    }
  })
  server.addService(services.v1beta1, {
    Version: (_call: Call, callback: grpc.sendUnaryData<object>) =>
      callback(null, { version: "v1beta1", runtimeName: "saboteur", runtimeVersion: "0.0.0" }),
    Encrypt: (call: Call, callback: grpc.sendUnaryData<object>) =>
      callback({
        code: grpc.status.INTERNAL,
        details: `cannot wrap ${Buffer.from(call.request["plain"] ?? new Uint8Array()).toString("hex")}`
      }),
    Decrypt: (call: Call, callback: grpc.sendUnaryData<object>) =>
      callback(null, { plain: xor(call.request["cipher"] ?? new Uint8Array()) })
  })
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (error) => (error === null ? resolve() : reject(error)))
  )
  return {
    target,
    close: async () => {
      for (const timer of timers) clearTimeout(timer)
      server.forceShutdown()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
