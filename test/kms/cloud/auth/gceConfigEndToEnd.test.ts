import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../../../src/client/PluginClient.ts"
import { cloudKeyUri } from "../../../fakes/FakeCloud.ts"
import { fakeCloudKms } from "../../../fakes/FakeCloudKms.ts"
import { fakeMetadataServer, vmTokenReply } from "../../../fakes/FakeMetadataServer.ts"
import { tokenEndpoint } from "../../../fakes/FakeTokenUrl.ts"
import { spawnCli, spawnPlugin } from "../../../support/spawnPlugin.ts"
import { tempDir } from "../../../support/tempDir.ts"

// --gce-config end to end: the real entrypoint, TLS to a fake Cloud KMS (call
// credentials are only sent over TLS), the token endpoint and the metadata
// server all on loopback.

const vmToken = "vm-token-e2e"
const body = '{"projectNumber":"7","clusterId":"c"}'

const selfSignedCert = (dir: string) => {
  const key = path.join(dir, "key.pem")
  const cert = path.join(dir, "cert.pem")
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert
    ],
    { stdio: "ignore" }
  )
  return { keyFile: key, certFile: cert, key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") }
}

const setup = Effect.gen(function* () {
  const dir = yield* tempDir
  const tls = selfSignedCert(dir)
  const cloud = yield* fakeCloudKms({ keys: [cloudKeyUri], tls: { key: tls.key, cert: tls.cert } })
  const metadata = yield* fakeMetadataServer(vmTokenReply(vmToken))
  const endpoint = yield* tokenEndpoint({ vmToken, body, lifetimeMillis: 3_600_000 })
  const conf = path.join(dir, "gce.conf")
  fs.writeFileSync(conf, `[global]\nproject-id = p\ntoken-url = ${endpoint.url}\ntoken-body = "${body.replace(/"/g, '\\"')}"\n`)
  const env = { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: tls.certFile, GCE_METADATA_HOST: metadata.host, METADATA_SERVER_DETECTION: "none" }
  const args = ["--key-uri", cloudKeyUri, "--kms-endpoint", cloud.address, "--gce-config", conf]
  return { dir, cloud, endpoint, conf, env, args }
})

describe("--gce-config (the real entrypoint)", () => {
  it.live("Cloud KMS calls carry the hosted-master token; it is fetched once at start and never logged", () =>
    Effect.gen(function* () {
      const { args, cloud, dir, endpoint, env } = yield* setup
      const socket = path.join(dir, "kms.sock")
      const plugin = yield* spawnPlugin([...args, "--kms-backend", "cloud", "--path-to-unix-socket", socket], env)
      const client = yield* makePluginClient(`unix://${socket}`, { timeoutMillis: 5_000 })
      const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("seed") })
      yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
      assert.isAbove(cloud.requests.length, 0)
      for (const request of cloud.requests) assert.strictEqual(request.authorization, "Bearer hosted-token-1", request.method)
      assert.strictEqual(endpoint.served(), 1)
      assert.notMatch(plugin.stderr(), /hosted-token|vm-token/)
    }).pipe(Effect.scoped)
  )

  it.live("no first token (token-url failing): exit 1 naming --gce-config and the reason", () =>
    Effect.gen(function* () {
      const { args, dir, endpoint, env } = yield* setup
      endpoint.reply = () => ({ status: 503, body: "{}" })
      const plugin = spawnCli([...args, "--path-to-unix-socket", path.join(dir, "kms.sock"), "--healthz-port", "0"], env)
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.strictEqual(exit.code, 1)
      assert.include(plugin.stderr(), "--gce-config")
      assert.include(plugin.stderr(), "503")
      assert.isFalse(fs.existsSync(path.join(dir, "kms.sock")))
    }).pipe(Effect.scoped)
  )

  it.live("a malformed gce.conf: exit 2 naming --gce-config", () =>
    Effect.gen(function* () {
      const { args, conf, dir, env } = yield* setup
      fs.writeFileSync(conf, "[global]\ntoken-url = https://x.example.com\n")
      const plugin = spawnCli([...args, "--path-to-unix-socket", path.join(dir, "kms.sock"), "--healthz-port", "0"], env)
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.strictEqual(exit.code, 2)
      assert.include(plugin.stderr(), "--gce-config")
      assert.include(plugin.stderr(), "both")
    }).pipe(Effect.scoped)
  )
})
