import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { bundleExternals, isBundleExternal } from "../../scripts/bundleExternals.ts"
import { startFakeCloudKms } from "../fakes/FakeCloudKms.ts"
import { kill, run, runToEnd } from "../support/childProcess.ts"
import { get } from "../support/http.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { execForm, instructionsOf, inWorkdir, lastOf, parseCopy, readDockerfile, type Stage } from "./dockerfile.ts"
import { imageNodeOptions } from "./imageRuntime.ts"

// The image without a Docker engine, stage by stage: `npm run build` (what
// the build stage runs); the prod-deps stage's own COPY and RUN lines run as
// written (npm ci from the lock, then the slimming script); the runtime
// stage's COPY lines laid out from those; then exactly the Dockerfile's
// ENTRYPOINT, checked with `probe` and the health endpoints, on the fake
// backend and on the Cloud KMS backend (whose libraries are the ones loaded
// from node_modules), and stopped with SIGTERM as `docker stop` and the
// kubelet do.

const dockerfile = readDockerfile(path.join(projectRoot, "docker/Dockerfile"))
const finalStage = dockerfile.stages.at(-1)
const entrypoint = execForm(finalStage === undefined ? "[]" : (lastOf(finalStage, "ENTRYPOINT")?.args ?? "[]")) ?? []
const workdir = finalStage === undefined ? "/" : (lastOf(finalStage, "WORKDIR")?.args ?? "/")
const [nodeBinary = "", script = ""] = entrypoint
/** e.g. /app: where dist/, proto/ and node_modules/ sit in the image. */
const appRoot = path.posix.dirname(path.posix.dirname(script))
const keyUri = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

let root = ""
const inImage = (p: string) => path.join(root, p)
/** Node 24 (this one) first on PATH, as in the build image. */
const stageEnv = { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env["PATH"] ?? ""}` }

/** COPY from the build context (the repository) into a stage directory. */
const copyFromContext = (args: string, stageDir: string, stageWorkdir: string) => {
  const copy = parseCopy(args)
  const destination = path.join(stageDir, inWorkdir(stageWorkdir, copy.destination))
  const intoDir = copy.sources.length > 1 || copy.destination.endsWith("/")
  for (const source of copy.sources) {
    const target = intoDir ? path.join(destination, path.basename(source)) : destination
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.cpSync(path.join(projectRoot, source), target, { recursive: true })
  }
}

/** A stage that only COPYs from the context and RUNs commands, played in a directory. */
const playStage = async (stage: Stage, stageDir: string) => {
  let stageWorkdir = "/"
  for (const instruction of stage.instructions) {
    if (instruction.keyword === "WORKDIR") stageWorkdir = inWorkdir(stageWorkdir, instruction.args)
    else if (instruction.keyword === "COPY") copyFromContext(instruction.args, stageDir, stageWorkdir)
    else if (instruction.keyword === "RUN") {
      const command = instruction.args.replace(/^(--mount=\S+\s+)+/, "")
      const cwd = path.join(stageDir, stageWorkdir)
      fs.mkdirSync(cwd, { recursive: true })
      // From npm's cache where it has them, as the Dockerfile's cache mount does.
      const done = await runToEnd("sh", ["-c", command], { cwd, env: { ...stageEnv, npm_config_prefer_offline: "true" } })
      assert.strictEqual(done.code, 0, `line ${instruction.line}: ${command}\n${done.stdout}\n${done.stderr}`)
    } else throw new Error(`line ${instruction.line}: no local equivalent for ${instruction.keyword}`)
  }
  return stageWorkdir
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-img-"))
  const stage = finalStage
  if (stage === undefined) throw new Error("no stage in docker/Dockerfile")
  // The build stage: the repository's own dist/ is left alone, the same script writes elsewhere.
  const built = path.join(root, "build-output")
  const build = await runToEnd("npm", ["run", "build", "--", "--dir", built], { cwd: projectRoot, env: stageEnv })
  assert.strictEqual(build.code, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`)
  const prodDeps = dockerfile.stages.find((s) => s.name === "prod-deps")
  if (prodDeps === undefined) throw new Error("no prod-deps stage")
  const prodDir = path.join(root, "prod-deps")
  const prodWorkdir = await playStage(prodDeps, prodDir)
  // The runtime stage's COPY instructions, each from its local equivalent.
  for (const instruction of instructionsOf(stage, "COPY")) {
    const copy = parseCopy(instruction.args)
    const destination = inImage(inWorkdir(workdir, copy.destination))
    fs.mkdirSync(path.dirname(destination), { recursive: true })
    const [source = ""] = copy.sources
    if (copy.from === "build" && source === "/src/dist") fs.cpSync(built, destination, { recursive: true })
    else if (copy.from === "prod-deps") fs.renameSync(path.join(prodDir, inWorkdir(prodWorkdir, source)), destination)
    else if (copy.from === undefined) fs.cpSync(path.join(projectRoot, source), destination, { recursive: true })
    else throw new Error(`line ${instruction.line}: no local equivalent for COPY ${instruction.args}`)
  }
}, 300_000)

afterAll(() => (root === "" ? undefined : fs.promises.rm(root, { recursive: true, force: true })), 120_000)

const packageJsonOf = (dir: string): { readonly name: string; readonly version: string } =>
  JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { readonly name: string; readonly version: string }

describe("the image's start command, on the built bundle", () => {
  it("the ENTRYPOINT is node on a bundle under the image's app directory", () => {
    assert.strictEqual(path.posix.basename(nodeBinary), "node")
    assert.strictEqual(appRoot, "/app")
    assert.strictEqual(script, `${appRoot}/dist/main.mjs`)
    assert.isTrue(fs.statSync(inImage(script)).isFile())
  })

  it("the bundle and its chunks import only Node built-ins and the libraries kept external", () => {
    const files = fs.readdirSync(inImage(`${appRoot}/dist`), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".mjs"))
    assert.isAbove(files.length, 1, "the entry and its lazily loaded chunks")
    const packages = new Set<string>()
    for (const file of files) {
      const code = fs.readFileSync(path.join(inImage(`${appRoot}/dist`), file), "utf8")
      for (const match of code.matchAll(
        /\bfrom\s*["'`]([^"'`]+)["'`]|\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)|\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g
      )) {
        const specifier = match[1] ?? match[2] ?? match[3] ?? ""
        if (!specifier.startsWith(".") && !specifier.startsWith("node:") && !builtinModules.includes(specifier)) packages.add(specifier)
      }
    }
    assert.includeMembers([...packages], [...bundleExternals])
    for (const specifier of packages)
      assert.isTrue(isBundleExternal(specifier), `${specifier} is imported by the bundle but not kept external`)
  })

  it("node_modules holds the external libraries whole, the inlined ones as package.json and licence only, and no Node toolchain", () => {
    const modules = inImage(`${appRoot}/node_modules`)
    for (const name of bundleExternals) {
      assert.isAbove(fs.readdirSync(path.join(modules, name)).length, 2, `${name} is loaded at run time`)
    }
    // Inlined in dist/, yet visible to scanners with its version and licence.
    const effect = path.join(modules, "effect")
    assert.strictEqual(packageJsonOf(effect).name, "effect")
    assert.sameMembers(fs.readdirSync(effect), ["LICENSE", "package.json"])
    assert.deepStrictEqual(
      fs.readdirSync(modules).filter((name) => /^node-(linux|darwin|win)-/.test(name)),
      []
    )
  })

  it("serves, answers probe and the health endpoints, and on SIGTERM exits 0 and removes its socket", async () => {
    const socket = path.join(root, "kms.sock")
    const plugin = run(
      process.execPath,
      [inImage(script), "--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket],
      {
        cwd: inImage(workdir),
        // The runtime stage's Node options: node refuses to start on one it does not allow there.
        env: { NODE_OPTIONS: imageNodeOptions().join(" ") }
      }
    )
    try {
      await plugin.waitForLine(/serving KMS v2 and v1beta1/)
      const healthLine = await plugin.waitForLine(/health server on http:\/\/127\.0\.0\.1:\d+/)
      const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(healthLine)?.[1] ?? ""
      assert.strictEqual(fs.statSync(socket).mode & 0o777, 0o600)

      const probe = await runToEnd(process.execPath, [inImage(script), "probe", "--path-to-unix-socket", socket], { cwd: inImage(workdir) })
      assert.strictEqual(probe.code, 0, probe.stdout + probe.stderr)
      assert.match(probe.stdout, /^\s+ok\s+v2 Status\b/m)
      assert.match(probe.stdout, /^\s+ok\s+v1beta1 Encrypt\/Decrypt\b/m)
      assert.match(probe.stdout, /\b0 failed\b/)

      for (const endpoint of ["/livez", "/healthz", "/healthz?ping-kms=true", "/readyz"]) {
        assert.deepStrictEqual(await get(`${base}${endpoint}`), { status: 200, body: "ok" }, endpoint)
      }
      const metrics = await get(`${base}/metrics`)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.body, "kms_plugin_grpc_requests_total")

      plugin.child.kill("SIGTERM")
      assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
      assert.isFalse(fs.existsSync(socket), "socket left behind")
    } finally {
      await kill(plugin)
    }
  })

  it("on the Cloud KMS backend, with the client libraries from the image's node_modules, probe passes", async () => {
    const fake = await startFakeCloudKms({ keys: [keyUri] })
    const socket = path.join(root, "cloud.sock")
    const plugin = run(
      process.execPath,
      [
        inImage(script),
        "--kms-backend",
        "cloud",
        "--key-uri",
        keyUri,
        "--kms-endpoint",
        fake.address,
        "--kms-insecure",
        "--healthz-port",
        "0",
        "--path-to-unix-socket",
        socket
      ],
      // No metadata server may be probed, whatever a library tries.
      { cwd: inImage(workdir), env: { METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9" } }
    )
    try {
      await plugin.waitForLine(/serving KMS v2 and v1beta1/)
      const probe = await runToEnd(process.execPath, [inImage(script), "probe", "--path-to-unix-socket", socket], { cwd: inImage(workdir) })
      assert.strictEqual(probe.code, 0, probe.stdout + probe.stderr + plugin.stderr())
      assert.match(probe.stdout, /^\s+ok\s+v2 Encrypt\/Decrypt\b/m)
      assert.isAbove(fake.calls.Encrypt, 0, "the round trip went through Cloud KMS")
      plugin.child.kill("SIGTERM")
      assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
    } finally {
      await kill(plugin)
      await fake.stop()
    }
  })
})
