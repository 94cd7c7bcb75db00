import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { parse } from "yaml"
import { parseDurationMillis } from "../../src/config/Duration.ts"
import { isCryptoKeyName } from "../../src/config/KeyNames.ts"
import { defaultSocketPath } from "../../src/config/parseConfig.ts"
import { type HelpText, parseArgs, readHelp } from "../docs/cliHelp.ts"
import { readLimitsResult } from "../limits/results.ts"
import { kill, run } from "../support/childProcess.ts"
import { get } from "../support/http.ts"
import { mainScript, projectRoot } from "../support/projectRoot.ts"
import { imageNodeOptions } from "./imageRuntime.ts"

// Every YAML under docker/, parsed, checked against the plugin (its flags,
// its default socket, its health endpoints) and against the apiserver's
// EncryptionConfiguration rules (docs: kms-contract.md §4).

const dockerDir = path.join(projectRoot, "docker")
const yamlFiles = fs
  .readdirSync(dockerDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort()
const load = (file: string): unknown => parse(fs.readFileSync(path.join(dockerDir, file), "utf8"))

// Loose views of the documents: the tests assert every field they use.
type Obj = Readonly<Record<string, unknown>>
const obj = (value: unknown, what: string): Obj => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${what}: expected a mapping`)
  return value as Obj
}
const list = (value: unknown, what: string): ReadonlyArray<unknown> => {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`)
  return value
}
const str = (value: unknown, what: string): string => {
  if (typeof value !== "string") throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`)
  return value
}

const kinds = new Map(yamlFiles.map((file) => [file, obj(load(file), file)["kind"]]))
const podFiles = yamlFiles.filter((f) => kinds.get(f) === "Pod")
const encryptionFiles = yamlFiles.filter((f) => kinds.get(f) === "EncryptionConfiguration")

const pod = obj(load("static-pod.yaml"), "static-pod.yaml")
const spec = obj(pod["spec"], "spec")
const containers = list(spec["containers"], "spec.containers").map((c, i) => obj(c, `containers[${i}]`))
const container = containers[0] ?? {}
const args = list(container["args"], "args").map((a, i) => str(a, `args[${i}]`))
const argPairs = parseArgs(args)
const argValue = (name: string): string | undefined => argPairs.find(([flag]) => flag === name)?.[1]
/** The manifest's placeholders replaced the way the README asks. */
const filledIn = (text: string): string =>
  text
    .replace("PROJECT_ID", "my-project")
    .replace("LOCATION", "us-east1")
    .replace("KEY_RING", "my-ring")
    .replace(/\bKEY$/, "my-key")

let help: HelpText | undefined
const helpDefault = (flag: string): string => {
  const found = help?.flags.find((f) => f.name === flag)?.defaultValue
  if (found === undefined) throw new Error(`--help gives no default for ${flag}`)
  return found
}

beforeAll(async () => {
  help = await readHelp(["--help"])
})

/** Kubernetes memory quantity in bytes (the suffixes these manifests use). */
const bytesOf = (quantity: unknown): number => {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(quantity))
  if (match === null) throw new Error(`not a memory quantity: ${String(quantity)}`)
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ""] ?? 1
  return Number(match[1]) * unit
}

const cpusOf = (quantity: unknown): number => {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity))
  if (match === null) throw new Error(`not a CPU quantity: ${String(quantity)}`)
  return Number(match[1]) / (match[2] === "m" ? 1000 : 1)
}

/** The limit must stay this many times above the highest peak measured inside it. */
const limitHeadroom = 1.25

const staticPodText = fs.readFileSync(path.join(dockerDir, "static-pod.yaml"), "utf8")

interface KmsProvider {
  readonly apiVersion: string | undefined
  readonly name: string
  readonly endpoint: string
  readonly cachesize: unknown
  readonly timeout: unknown
}

const providersOf = (
  file: string
): ReadonlyArray<{ readonly resources: ReadonlyArray<string>; readonly providers: ReadonlyArray<Obj> }> => {
  const doc = obj(load(file), file)
  return list(doc["resources"], `${file} resources`).map((entry, i) => {
    const e = obj(entry, `${file} resources[${i}]`)
    return {
      resources: list(e["resources"], `${file} resources[${i}].resources`).map((r) => str(r, "resource")),
      providers: list(e["providers"], `${file} resources[${i}].providers`).map((p, j) => obj(p, `${file} providers[${j}]`))
    }
  })
}
const kmsOf = (provider: Obj): KmsProvider | undefined => {
  if (provider["kms"] === undefined) return undefined
  const kms = obj(provider["kms"], "kms")
  return {
    apiVersion: kms["apiVersion"] === undefined ? undefined : str(kms["apiVersion"], "kms.apiVersion"),
    name: str(kms["name"], "kms.name"),
    endpoint: str(kms["endpoint"], "kms.endpoint"),
    cachesize: kms["cachesize"],
    timeout: kms["timeout"]
  }
}
const kmsProviders = (file: string): ReadonlyArray<KmsProvider> =>
  providersOf(file).flatMap((e) => e.providers.flatMap((p) => kmsOf(p) ?? []))

describe("docker/*.yaml", () => {
  it("each file is a Pod or an EncryptionConfiguration; the expected ones are there", () => {
    for (const file of yamlFiles) assert.oneOf(kinds.get(file), ["Pod", "EncryptionConfiguration"], file)
    assert.deepStrictEqual(podFiles, ["static-pod.yaml"])
    assert.deepStrictEqual(encryptionFiles, ["encryption-config-v1-to-v2.yaml", "encryption-config-v1.yaml", "encryption-config-v2.yaml"])
  })
})

describe("docker/static-pod.yaml", () => {
  it("is a kube-system pod on the host network, node-critical, one container run by the image's ENTRYPOINT", () => {
    assert.strictEqual(pod["apiVersion"], "v1")
    assert.strictEqual(obj(pod["metadata"], "metadata")["namespace"], "kube-system")
    assert.strictEqual(spec["hostNetwork"], true)
    assert.strictEqual(spec["dnsPolicy"], "Default", "cluster DNS needs the apiserver, which needs the plugin")
    assert.strictEqual(spec["priorityClassName"], "system-node-critical")
    assert.strictEqual(spec["priority"], 2000001000, "the value of system-node-critical, as kubeadm's static pods set it")
    assert.lengthOf(containers, 1)
    assert.isUndefined(container["command"], "a command would replace the image's ENTRYPOINT (node /app/dist/main.mjs)")
    assert.match(str(container["image"], "image"), /\/k8s-cloudkms-plugin:\d+\.\d+\.\d+$/)
  })

  it("uses only flags the plugin's --help lists, each once, in --flag=value form", () => {
    const known = new Set(help?.flags.map((f) => f.name))
    assert.isAbove(known.size, 20)
    for (const arg of args) assert.match(arg, /^--[a-z0-9-]+=\S+$/, arg)
    for (const [flag] of argPairs) assert.isTrue(known.has(flag), `${flag} is not a plugin flag`)
    assert.strictEqual(new Set(argPairs.map(([flag]) => flag)).size, argPairs.length, "a flag given twice")
  })

  it("--key-uri is a placeholder the plugin refuses until filled in, and valid once it is", () => {
    const keyUri = argValue("--key-uri") ?? ""
    assert.strictEqual(keyUri, "projects/PROJECT_ID/locations/LOCATION/keyRings/KEY_RING/cryptoKeys/KEY")
    // Project IDs and locations are lower case: an unedited manifest exits 2 instead of calling Cloud KMS.
    assert.isFalse(isCryptoKeyName(keyUri))
    assert.isTrue(isCryptoKeyName(filledIn(keyUri)), filledIn(keyUri))
  })

  it("socket: --path-to-unix-socket = the plugin's default = inside the hostPath volume, mounted at the same path", () => {
    const socket = argValue("--path-to-unix-socket")
    assert.strictEqual(socket, defaultSocketPath)
    assert.strictEqual(helpDefault("--path-to-unix-socket"), defaultSocketPath)
    const socketDir = path.posix.dirname(defaultSocketPath)
    const mounts = list(container["volumeMounts"], "volumeMounts").map((m) => obj(m, "volumeMount"))
    const mount = mounts.find((m) => m["mountPath"] === socketDir)
    assert.isDefined(mount, `nothing mounted at ${socketDir}`)
    const volume = list(spec["volumes"], "volumes")
      .map((v) => obj(v, "volume"))
      .find((v) => v["name"] === mount?.["name"])
    const hostPath = obj(volume?.["hostPath"], "hostPath")
    assert.strictEqual(hostPath["path"], socketDir, "the apiserver mounts the host's directory at the same path")
    assert.strictEqual(hostPath["type"], "DirectoryOrCreate")
    assert.notStrictEqual(mount?.["readOnly"], true)
  })

  it("probes: 127.0.0.1 and the health port (8081, the default), /livez for liveness, /healthz for readiness", () => {
    assert.strictEqual(helpDefault("--healthz-port"), "8081")
    assert.strictEqual(helpDefault("--healthz-bind-address"), "127.0.0.1")
    const port = Number(argValue("--healthz-port") ?? helpDefault("--healthz-port"))
    const host = argValue("--healthz-bind-address") ?? helpDefault("--healthz-bind-address")
    assert.strictEqual(port, 8081)
    const healthzPath = `/${argValue("--healthz-path") ?? helpDefault("--healthz-path")}`
    const probe = (kind: string) => obj(obj(container[kind], kind)["httpGet"], `${kind}.httpGet`)
    for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      assert.strictEqual(probe(kind)["host"], host, kind)
      assert.strictEqual(probe(kind)["port"], port, kind)
      assert.oneOf(probe(kind)["path"], ["/livez", healthzPath, "/readyz"], kind)
    }
    assert.strictEqual(probe("livenessProbe")["path"], "/livez", "liveness must not depend on Cloud KMS")
    assert.strictEqual(probe("startupProbe")["path"], "/livez")
    assert.strictEqual(probe("readinessProbe")["path"], "/healthz")
  })

  it("every probe's timeoutSeconds outlasts the plugin's own check, whose bound is no looser than the apiserver's timeout", () => {
    assert.strictEqual(helpDefault("--healthz-timeout"), "5s")
    const healthzTimeout = parseDurationMillis(argValue("--healthz-timeout") ?? helpDefault("--healthz-timeout"))
    assert.isDefined(healthzTimeout)
    // /livez and /healthz make one call through the socket per API served
    // (Status for v2, Version for v1beta1; src/health/HealthChecks.ts), one
    // after the other, each with its own --healthz-timeout deadline.
    const api = argValue("--kms") ?? helpDefault("--kms")
    const callsPerCheck = api === "both" ? 2 : 1
    for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const timeoutSeconds = obj(container[kind], kind)["timeoutSeconds"]
      assert.isNumber(timeoutSeconds, `${kind}.timeoutSeconds: set it (the kubelet's default is 1s)`)
      assert.isAbove(
        Number(timeoutSeconds) * 1000,
        callsPerCheck * (healthzTimeout ?? Infinity),
        `${kind}: the kubelet must not time out before the plugin answers`
      )
    }
    const apiserverTimeouts = encryptionFiles.flatMap((file) => kmsProviders(file).map((p) => parseDurationMillis(String(p.timeout)) ?? 0))
    assert.isNotEmpty(apiserverTimeouts)
    assert.isAtMost(healthzTimeout ?? Infinity, Math.min(...apiserverTimeouts), "a check may take no longer than an apiserver call may")
  })

  it("terminationGracePeriodSeconds is longer than the plugin's --shutdown-grace-period", () => {
    const grace = parseDurationMillis(argValue("--shutdown-grace-period") ?? helpDefault("--shutdown-grace-period"))
    assert.strictEqual(helpDefault("--shutdown-grace-period"), "10s")
    assert.isDefined(grace)
    assert.isAbove(Number(spec["terminationGracePeriodSeconds"]) * 1000, (grace ?? Infinity) + 5_000)
  })

  it("security: read-only root, no privilege escalation, every capability dropped, RuntimeDefault seccomp", () => {
    const sc = obj(container["securityContext"], "securityContext")
    assert.strictEqual(sc["readOnlyRootFilesystem"], true)
    assert.strictEqual(sc["allowPrivilegeEscalation"], false)
    assert.notStrictEqual(sc["privileged"], true)
    const caps = obj(sc["capabilities"], "capabilities")
    assert.deepStrictEqual(caps["drop"], ["ALL"])
    assert.isUndefined(caps["add"])
    const podSc = obj(spec["securityContext"], "pod securityContext")
    assert.strictEqual(obj(podSc["seccompProfile"], "seccompProfile")["type"], "RuntimeDefault")
  })

  it("the user can create the socket: uid 0 with a DirectoryOrCreate hostPath, or a non-root uid with a pre-created Directory", () => {
    const podSc = obj(spec["securityContext"], "pod securityContext")
    const uid = obj(container["securityContext"], "securityContext")["runAsUser"] ?? podSc["runAsUser"]
    const socketVolume = list(spec["volumes"], "volumes")
      .map((v) => obj(v, "volume"))
      .find((v) => obj(v["hostPath"] ?? {}, "hostPath")["path"] === path.posix.dirname(defaultSocketPath))
    const type = obj(socketVolume?.["hostPath"], "hostPath")["type"]
    // DirectoryOrCreate makes the directory root:root 0755, not writable by uid 65532.
    if (type === "DirectoryOrCreate") assert.strictEqual(uid, 0)
    else assert.strictEqual(type, "Directory")
  })

  // Sized from the limits run (`npm run soak -- --limits`, test/limits/README.md):
  // the built entrypoint inside a cgroup with these very limits, through the
  // fault soak, a cold-start storm and bulk 64 KiB calls. Its results are
  // committed in test/limits/results/latest.json.
  describe("resources, from the plugin measured inside these very limits (test/limits/results/latest.json)", () => {
    const resources = obj(container["resources"], "resources")
    const requests = obj(resources["requests"], "requests")
    const limits = obj(resources["limits"], "limits")
    const measured = readLimitsResult(path.join(projectRoot, "test/limits/results/latest.json"))
    /** The highest peak of any scenario: the plugin's VmHWM (which counts the pages of node it maps, as a pod is charged for). */
    const peakMib = Math.max(...measured.scenarios.map((s) => s.memory.processPeakRssMib))

    it("the run measured these limits, the long way, and passed: no OOM kill, no wrong plaintext, no late answer", () => {
      assert.strictEqual(
        measured.limits.memoryMib * 2 ** 20,
        bytesOf(limits["memory"]),
        "the limit changed: re-measure with npm run soak -- --limits"
      )
      assert.strictEqual(measured.limits.cpus, cpusOf(limits["cpu"]), "the CPU limit changed: re-measure with npm run soak -- --limits")
      assert.strictEqual(measured.preset, "long")
      // node, the image's NODE_OPTIONS, the bundle: the plugin as the image runs it.
      assert.deepStrictEqual(measured.command.slice(1, -1), [...imageNodeOptions()], "the image's NODE_OPTIONS changed: re-measure")
      assert.match(measured.command.at(-1) ?? "", /dist\/main\.mjs$/)
      assert.deepStrictEqual(
        measured.scenarios.map((s) => s.name),
        ["soak", "storm", "bulk"]
      )
      assert.isTrue(measured.ok)
      for (const s of measured.scenarios) {
        assert.strictEqual(s.cgroup.oomKills, 0, s.name)
        assert.strictEqual(s.wrongPlaintexts, 0, s.name)
        assert.strictEqual(s.lateCalls, 0, s.name)
      }
    })

    it(`memory: the limit is ≥ ${limitHeadroom}× the measured peak, the request covers the peak, and the manifest says so`, () => {
      assert.isTrue(Number.isFinite(peakMib) && peakMib > 0, String(peakMib))
      assert.isAtLeast(bytesOf(limits["memory"]), limitHeadroom * peakMib * 2 ** 20)
      assert.isAtLeast(bytesOf(requests["memory"]), peakMib * 2 ** 20)
      assert.isAtMost(bytesOf(requests["memory"]), bytesOf(limits["memory"]))
      // The comment above `resources:` quotes the figure it was sized from.
      assert.include(staticPodText, `${Math.round(peakMib)} MiB`, "docker/static-pod.yaml's comment does not quote the measured peak")
    })

    it("CPU: one CPU at most (the plugin's JavaScript runs on one thread), a request no higher", () => {
      assert.isAtLeast(cpusOf(limits["cpu"]), 1)
      assert.isAtMost(cpusOf(requests["cpu"]), cpusOf(limits["cpu"]))
      assert.isAbove(cpusOf(requests["cpu"]), 0)
    })
  })

  describe("its args and probe paths, on the real plugin (fake backend, temporary socket, free port)", () => {
    let dir = ""
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-pod-"))
    })
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

    it("parse, serve, answer 200 on every probe path, and stop with exit 0 on SIGTERM", async () => {
      const socket = path.join(dir, "kms.sock")
      const local = args.map((arg) =>
        arg.startsWith("--path-to-unix-socket=")
          ? `--path-to-unix-socket=${socket}`
          : arg.startsWith("--healthz-port=")
            ? "--healthz-port=0"
            : filledIn(arg)
      )
      const plugin = run(process.execPath, [mainScript, ...local, "--kms-backend=fake"], { cwd: projectRoot })
      try {
        const line = await plugin.waitForLine(/health server on http:\/\/127\.0\.0\.1:\d+/)
        const base = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? ""
        for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
          const probePath = str(obj(obj(container[kind], kind)["httpGet"], "httpGet")["path"], "path")
          assert.deepStrictEqual(await get(`${base}${probePath}`), { status: 200, body: "ok" }, `${kind} ${probePath}`)
        }
        plugin.child.kill("SIGTERM")
        assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
        assert.isFalse(fs.existsSync(socket))
      } finally {
        await kill(plugin)
      }
    })
  })
})

describe("docker/encryption-config-*.yaml", () => {
  const v2Name = kmsProviders("encryption-config-v2.yaml")[0]?.name
  const v1Name = kmsProviders("encryption-config-v1.yaml")[0]?.name

  for (const file of ["encryption-config-v1-to-v2.yaml", "encryption-config-v1.yaml", "encryption-config-v2.yaml"]) {
    it(`${file}: apiserver.config.k8s.io/v1 EncryptionConfiguration, secrets, valid kms providers, identity last`, () => {
      const doc = obj(load(file), file)
      assert.strictEqual(doc["apiVersion"], "apiserver.config.k8s.io/v1")
      assert.strictEqual(doc["kind"], "EncryptionConfiguration")
      const entries = providersOf(file)
      assert.isNotEmpty(entries)
      for (const entry of entries) {
        assert.include(entry.resources, "secrets")
        assert.isAtLeast(entry.providers.length, 2)
        for (const provider of entry.providers) assert.lengthOf(Object.keys(provider), 1, "one provider type per list item")
        assert.deepStrictEqual(entry.providers.at(-1), { identity: {} }, "identity last: reads of not-yet-encrypted data")
        assert.isDefined(kmsOf(entry.providers[0] ?? {}), "the first provider (the writer) is the plugin")
        assert.isTrue(entry.providers.slice(0, -1).every((p) => kmsOf(p) !== undefined))
      }
      const kms = kmsProviders(file)
      for (const p of kms) {
        assert.oneOf(p.apiVersion, ["v1", "v2"], "set explicitly: empty means v1")
        assert.strictEqual(p.endpoint, `unix://${defaultSocketPath}`)
        assert.match(p.name, /^[a-z0-9][a-z0-9-]*$/)
        assert.notInclude(p.name, ":")
        assert.isString(p.timeout)
        assert.isAbove(parseDurationMillis(String(p.timeout)) ?? 0, 0)
        if (p.apiVersion === "v2") {
          assert.isUndefined(p.cachesize, "cachesize is not supported in v2")
        } else {
          assert.isNumber(p.cachesize)
          assert.notStrictEqual(p.cachesize, 0, "0 is invalid; negative disables the cache")
          assert.isTrue(Number.isInteger(p.cachesize))
        }
      }
      assert.strictEqual(new Set(kms.map((p) => p.name)).size, kms.length, "names must be unique")
    })
  }

  it("v2 uses only v2, v1 only v1; the migration writes with v2 and still reads v1 under the unchanged names", () => {
    assert.deepStrictEqual(
      kmsProviders("encryption-config-v2.yaml").map((p) => p.apiVersion),
      ["v2"]
    )
    assert.deepStrictEqual(
      kmsProviders("encryption-config-v1.yaml").map((p) => p.apiVersion),
      ["v1"]
    )
    const migration = kmsProviders("encryption-config-v1-to-v2.yaml")
    assert.deepStrictEqual(
      migration.map((p) => [p.apiVersion, p.name]),
      [
        ["v2", v2Name],
        ["v1", v1Name]
      ]
    )
    assert.notStrictEqual(v1Name, v2Name)
    const v1 = kmsProviders("encryption-config-v1.yaml")[0]
    assert.strictEqual(migration[1]?.cachesize, v1?.cachesize)
  })
})
