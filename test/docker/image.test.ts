import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { kill, run, runToEnd } from "../support/childProcess.ts"
import { get } from "../support/http.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { execForm, inWorkdir, instructionsOf, lastOf, parseCopy, readDockerfile } from "./dockerfile.ts"

// The image without a Docker engine: `npm run build` (what the Dockerfile's
// build stage runs), the bundle laid out as in the image (dist/ and proto/
// side by side, node_modules next to them), started with exactly the
// Dockerfile's ENTRYPOINT, checked with `probe` and the health endpoints,
// then stopped with SIGTERM as `docker stop` and the kubelet do.

const dockerfile = readDockerfile(path.join(projectRoot, "docker/Dockerfile"))
const finalStage = dockerfile.stages.at(-1)
const entrypoint = execForm(finalStage === undefined ? "[]" : lastOf(finalStage, "ENTRYPOINT")?.args ?? "[]") ?? []
const workdir = finalStage === undefined ? "/" : lastOf(finalStage, "WORKDIR")?.args ?? "/"
const [nodeBinary = "", script = ""] = entrypoint
/** e.g. /app: where dist/, proto/ and node_modules/ sit in the image. */
const appRoot = path.posix.dirname(path.posix.dirname(script))

const packageJson = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as {
  readonly dependencies: Readonly<Record<string, string>>
}

let root = ""
const inImage = (p: string) => path.join(root, p)

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-img-"))
  // The repository's own dist/ is left alone: the same script, output redirected.
  const built = path.join(root, "build-output")
  const build = await runToEnd("npm", ["run", "build", "--", "--dir", built], {
    cwd: projectRoot,
    env: { PATH: `${path.join(projectRoot, "node_modules/.bin")}${path.delimiter}${process.env["PATH"] ?? ""}` }
  })
  assert.strictEqual(build.code, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`)
  // Lay out the runtime stage's COPY instructions, each from its local equivalent.
  const stage = finalStage
  if (stage === undefined) throw new Error("no stage in docker/Dockerfile")
  for (const instruction of instructionsOf(stage, "COPY")) {
    const copy = parseCopy(instruction.args)
    const destination = inImage(inWorkdir(workdir, copy.destination))
    fs.mkdirSync(path.dirname(destination), { recursive: true })
    const [source = ""] = copy.sources
    if (copy.from === "build" && source === "/src/dist") fs.cpSync(built, destination, { recursive: true })
    else if (copy.from === "prod-deps" && source === "/src/node_modules") fs.symlinkSync(path.join(projectRoot, "node_modules"), destination)
    else if (copy.from === undefined) fs.cpSync(path.join(projectRoot, source), destination, { recursive: true })
    else throw new Error(`line ${instruction.line}: no local equivalent for COPY ${instruction.args}`)
  }
})

afterAll(() => {
  if (root !== "") fs.rmSync(root, { recursive: true, force: true })
})

describe("the image's start command, on the built bundle", () => {
  it("the ENTRYPOINT is node on a bundle under the image's app directory", () => {
    assert.strictEqual(path.posix.basename(nodeBinary), "node")
    assert.strictEqual(appRoot, "/app")
    assert.strictEqual(script, `${appRoot}/dist/main.mjs`)
    assert.isTrue(fs.statSync(inImage(script)).isFile())
  })

  it("the bundle imports only Node built-ins and production dependencies (what the image's node_modules holds)", () => {
    const code = fs.readFileSync(inImage(script), "utf8")
    const specifiers = new Set<string>()
    for (const match of code.matchAll(/\bfrom\s*["'`]([^"'`]+)["'`]|\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)|\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? ""
      if (!specifier.startsWith(".")) specifiers.add(specifier)
    }
    const packages = [...specifiers].filter((s) => !s.startsWith("node:") && !builtinModules.includes(s))
      .map((s) => s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0] ?? s)
    assert.includeMembers([...new Set(packages)], ["@grpc/grpc-js", "@google-cloud/kms", "google-gax", "google-auth-library"])
    for (const name of packages) assert.property(packageJson.dependencies, name, `${name} is imported by the bundle but not a production dependency`)
  })

  it("serves, answers probe and the health endpoints, and on SIGTERM exits 0 and removes its socket", async () => {
    const socket = path.join(root, "kms.sock")
    const plugin = run(process.execPath, [inImage(script), "--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket], {
      cwd: inImage(workdir)
    })
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
})
