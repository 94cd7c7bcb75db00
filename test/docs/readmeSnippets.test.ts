import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as Metric from "effect/Metric"
import { parse } from "yaml"
import { defaultSocketPath } from "../../src/config/parseConfig.ts"
import * as Metrics from "../../src/observability/Metrics.ts"
import { runtimeMetricDefinitions } from "../../src/observability/RuntimeMetrics.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { type HelpText, readHelp } from "./cliHelp.ts"

// The README's operator snippets against the files and code they describe:
// its internal links land on headings; the kubeadm ClusterConfiguration and
// the kube-apiserver manifest excerpt name the same config file and socket
// directory as the install commands, docker/static-pod.yaml and
// docker/encryption-config-*.yaml; the "turn encryption off" config keeps
// the shipped provider unchanged; and the Go plugin comparison covers every
// flag and every metric this plugin has.

const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
const lines = readme.split("\n")

type Obj = Readonly<Record<string, unknown>>
const isObj = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value)
const obj = (value: unknown, what: string): Obj => {
  if (!isObj(value)) throw new Error(`${what}: expected a mapping`)
  return value
}
const list = (value: unknown, what: string): ReadonlyArray<unknown> => {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`)
  return value
}
const loadDocker = (file: string): Obj => obj(parse(fs.readFileSync(path.join(projectRoot, "docker", file), "utf8")), file)

interface CodeBlock {
  readonly language: string
  readonly text: string
}

/** Fenced code blocks, list-item indentation removed. */
const codeBlocks = (): ReadonlyArray<CodeBlock> => {
  const blocks: Array<CodeBlock> = []
  let open: { language: string; indent: number; body: Array<string> } | undefined
  for (const line of lines) {
    const fence = /^(\s*)```(\S*)\s*$/.exec(line)
    if (fence !== null) {
      if (open === undefined) {
        open = { language: fence[2] ?? "", indent: (fence[1] ?? "").length, body: [] }
      } else {
        blocks.push({ language: open.language, text: open.body.join("\n") })
        open = undefined
      }
      continue
    }
    if (open !== undefined) open.body.push(line.slice(Math.min(open.indent, line.length - line.trimStart().length)))
  }
  return blocks
}

const yamlDocs = (): ReadonlyArray<Obj> =>
  codeBlocks()
    .filter((b) => b.language === "yaml")
    .map((b) => parse(b.text))
    .filter(isObj)

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slugOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** The README text from `heading` to the next heading of the same or a higher level. */
const sectionOf = (heading: string): string => {
  const start = lines.indexOf(heading)
  assert.isAbove(start, -1, `no heading ${JSON.stringify(heading)}`)
  const level = heading.indexOf(" ")
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(" ") <= level)
  return lines.slice(start, end === -1 ? undefined : end).join("\n")
}

/** Rows of the first markdown table in `section` whose header starts with `firstHeader`, as cells. */
const tableIn = (section: string, firstHeader: string): ReadonlyArray<ReadonlyArray<string>> => {
  const rows = section.split("\n").filter((l) => l.startsWith("|"))
  const header = rows.findIndex((r) => r.startsWith(`| ${firstHeader} |`))
  assert.isAbove(header, -1, `no table starting with ${firstHeader}`)
  const body: Array<ReadonlyArray<string>> = []
  for (const row of rows.slice(header + 2)) {
    if (!row.startsWith("|")) break
    body.push(
      row
        .replace(/^\||\|$/g, "")
        .split("|")
        .map((c) => c.trim())
    )
  }
  return body
}
const backticked = (cell: string): Array<string> => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "")

/** The EncryptionConfiguration path the README installs (step 7). */
const installedConfigPath = (): string => {
  const match = /sudo install -m 0600 docker\/encryption-config-v2\.yaml (\S+)/.exec(readme)
  assert.isNotNull(match, "the README installs docker/encryption-config-v2.yaml somewhere")
  return match?.[1] ?? ""
}
const socketDir = path.posix.dirname(defaultSocketPath)

describe("README links", () => {
  // Sections other engineers are writing; remove a name once its heading is in.
  it("every #anchor link lands on a heading", () => {
    assert.strictEqual(
      slugOf("8. kubeadm: keep the settings in `ClusterConfiguration`"),
      "8-kubeadm-keep-the-settings-in-clusterconfiguration"
    )
    assert.strictEqual(slugOf("Per server process (median (min–max) of 3 sets)"), "per-server-process-median-minmax-of-3-sets")
    const anchors = new Set(lines.filter((l) => /^#{1,6} /.test(l)).map((l) => slugOf(l.replace(/^#+ /, ""))))
    const links = [...readme.matchAll(/\]\(#([^)\s]+)\)/g)].map((m) => m[1] ?? "")
    assert.isAbove(links.length, 10)
    for (const link of links) {
      assert.isTrue(anchors.has(link), `#${link} is no heading of the README`)
    }
  })

  it("the files the README links to exist", () => {
    for (const file of ["LICENSE", "NOTICE"]) assert.include(readme, `](${file})`)
    const linked = [...readme.matchAll(/\]\(((?!https?:|#)[^)\s]+)\)/g)].map((m) => m[1] ?? "")
    for (const file of linked) assert.isTrue(fs.existsSync(path.join(projectRoot, file)), file)
  })
})

describe("README kube-apiserver settings", () => {
  const configPath = installedConfigPath()
  const configDir = path.posix.dirname(configPath)

  it("the socket directory is the plugin's, static-pod.yaml's and every encryption-config endpoint's", () => {
    const pod = loadDocker("static-pod.yaml")
    const volumes = list(obj(pod["spec"], "spec")["volumes"], "volumes").map((v) => obj(v, "volume"))
    assert.isTrue(
      volumes.some((v) => isObj(v["hostPath"]) && v["hostPath"]["path"] === socketDir),
      `static-pod.yaml mounts ${socketDir}`
    )
    for (const file of ["encryption-config-v1.yaml", "encryption-config-v2.yaml", "encryption-config-v1-to-v2.yaml"]) {
      assert.include(fs.readFileSync(path.join(projectRoot, "docker", file), "utf8"), `endpoint: unix://${defaultSocketPath}`, file)
    }
  })

  it("step 7's kube-apiserver excerpt passes the installed file and mounts its directory and the socket's", () => {
    const manifest = yamlDocs().find((d) => isObj(d["spec"]) && Array.isArray(d["spec"]["containers"]))
    assert.isDefined(manifest, "no kube-apiserver manifest excerpt")
    const spec = obj(manifest?.["spec"], "spec")
    const container = obj(list(spec["containers"], "containers")[0], "container")
    assert.include(list(container["command"], "command"), `--encryption-provider-config=${configPath}`)
    const mounts = list(container["volumeMounts"], "volumeMounts").map((m) => obj(m, "volumeMount"))
    const volumes = list(spec["volumes"], "volumes").map((v) => obj(v, "volume"))
    for (const dir of [configDir, socketDir]) {
      const mount = mounts.find((m) => m["mountPath"] === dir)
      assert.isDefined(mount, `nothing mounted at ${dir}`)
      const volume = volumes.find((v) => v["name"] === mount?.["name"])
      assert.strictEqual(obj(volume?.["hostPath"], "hostPath")["path"], dir, `${dir}: the host's directory at the same path`)
    }
  })

  it("the kubeadm ClusterConfiguration (v1beta4) has the same flag and the same two mounts", () => {
    const config = yamlDocs().find((d) => d["kind"] === "ClusterConfiguration")
    assert.isDefined(config, "no ClusterConfiguration")
    assert.strictEqual(config?.["apiVersion"], "kubeadm.k8s.io/v1beta4")
    const apiServer = obj(config?.["apiServer"], "apiServer")
    // v1beta4: a list of name/value pairs (v1beta3 had a map).
    const extraArgs = list(apiServer["extraArgs"], "extraArgs").map((a) => obj(a, "extraArg"))
    for (const arg of extraArgs) assert.hasAllKeys(arg, ["name", "value"])
    for (const arg of extraArgs) assert.isString(arg["value"], `${String(arg["name"])}: quote the value, kubeadm wants a string`)
    assert.deepInclude(extraArgs, { name: "encryption-provider-config", value: configPath })
    const pathTypes = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"]
    const volumes = list(apiServer["extraVolumes"], "extraVolumes").map((v) => obj(v, "extraVolume"))
    for (const volume of volumes) {
      assert.includeMembers(["name", "hostPath", "mountPath", "readOnly", "pathType"], Object.keys(volume))
      assert.oneOf(volume["pathType"] ?? "", pathTypes)
    }
    for (const dir of [configDir, socketDir]) {
      assert.isTrue(
        volumes.some((v) => v["hostPath"] === dir && v["mountPath"] === dir),
        `${dir} mounted at the same path`
      )
    }
    assert.notStrictEqual(volumes.find((v) => v["hostPath"] === socketDir)?.["readOnly"], true)
  })

  it("turning encryption off: identity first, then the shipped v2 provider unchanged", () => {
    const shipped = loadDocker("encryption-config-v2.yaml")
    const shippedKms = list(obj(list(shipped["resources"], "resources")[0], "entry")["providers"], "providers")
      .map((p) => obj(p, "provider"))
      .find((p) => p["kms"] !== undefined)
    const off = yamlDocs().find((d) => {
      const entry = d["kind"] === "EncryptionConfiguration" ? list(d["resources"], "resources")[0] : undefined
      return isObj(entry) && Array.isArray(entry["providers"]) && isObj(entry["providers"][0]) && "identity" in entry["providers"][0]
    })
    assert.isDefined(off, "no EncryptionConfiguration with identity first")
    assert.strictEqual(off?.["apiVersion"], "apiserver.config.k8s.io/v1")
    const entry = obj(list(off?.["resources"], "resources")[0], "entry")
    assert.include(list(entry["resources"], "resources"), "secrets")
    assert.deepStrictEqual(list(entry["providers"], "providers"), [{ identity: {} }, shippedKms])
  })
})

describe("README: the Go plugin compared", () => {
  let help: HelpText | undefined
  beforeAll(async () => {
    help = await readHelp(["--help"])
  })

  const section = sectionOf("## Switching from the Go plugin")

  /** The flags of cmd/k8s-cloudkms-plugin/main.go in GoogleCloudPlatform/k8s-cloudkms-plugin. */
  const goFlags = [
    "--healthz-port",
    "--healthz-path",
    "--healthz-timeout",
    "--metrics-port",
    "--metrics-path",
    "--gce-config",
    "--key-uri",
    "--path-to-unix-socket",
    "--kms",
    "--key-suffix",
    "--integration-test",
    "--fake-kms-port"
  ]
  /** glog's flags that the plugin takes and ignores (hidden from --help; src/config/flags.ts). */
  const ignoredGlogFlags = ["--logtostderr", "--alsologtostderr", "--v"]

  it("the flag table has a row for every flag of either plugin, and every Go flag is one this plugin takes", () => {
    const rows = tableIn(section, "Flag")
    const named = new Set(rows.flatMap((cells) => backticked(cells[0] ?? "")).filter((n) => n.startsWith("-")))
    const ours = [...(help?.flags ?? []), ...(help?.globalFlags ?? [])].flatMap((f) => [f.name, ...f.aliases])
    assert.isAbove(ours.length, 20)
    for (const flag of [...ours, ...goFlags, ...ignoredGlogFlags]) assert.isTrue(named.has(flag), `no row for ${flag}`)
    const accepted = new Set([...(help?.flags ?? []).map((f) => f.name), ...ignoredGlogFlags])
    for (const flag of goFlags) assert.isTrue(accepted.has(flag), `the Go plugin's ${flag} is not a flag of this plugin`)
    for (const cells of rows) assert.lengthOf(cells, 3, cells.join(" | "))
  })

  it("the metric table names every metric this plugin exports, and no other", () => {
    const defined = [
      ...Object.values(Metrics).flatMap((value) => (Metric.isMetric(value) ? [value.id] : [])),
      ...runtimeMetricDefinitions.map((definition) => definition.name).filter((name) => name.startsWith("kms_plugin_"))
    ]
    assert.isAbove(defined.length, 5)
    const rows = tableIn(section, "Go plugin")
    const named = rows
      .flatMap((cells) => backticked(cells[1] ?? ""))
      .map((n) => n.replace(/\{.*$/, ""))
      .filter((n) => n.startsWith("kms_plugin_"))
    assert.sameMembers([...new Set(named)], defined)
  })
})
