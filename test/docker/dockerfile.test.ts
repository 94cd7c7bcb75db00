import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { readHelp } from "../docs/cliHelp.ts"
import { projectRoot } from "../support/projectRoot.ts"
import {
  contextKeeps,
  execForm,
  instructionsOf,
  inWorkdir,
  labelsOf,
  lastOf,
  parseCopy,
  parseDockerfile,
  readDockerfile,
  readIgnorePatterns,
  type Stage
} from "./dockerfile.ts"

// docker/Dockerfile read the way `docker build -f docker/Dockerfile .` reads
// it: no Docker engine here, so every claim about the image is checked
// against the file itself and the repository it builds from.

const dockerfilePath = path.join(projectRoot, "docker/Dockerfile")
const ignorePath = path.join(projectRoot, "docker/Dockerfile.dockerignore")
const dockerfile = readDockerfile(dockerfilePath)
const finalStage = dockerfile.stages.at(-1) as Stage
const packageJson = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")) as {
  readonly license: string
  readonly scripts: Readonly<Record<string, string>>
}

const stageNamed = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name)
  if (found === undefined) throw new Error(`no stage ${name}`)
  return found
}
const runs = (stage: Stage): ReadonlyArray<string> => instructionsOf(stage, "RUN").map((i) => i.args)
const copiesOf = (stage: Stage) => instructionsOf(stage, "COPY").map((i) => parseCopy(i.args))

/** Every file under a repository directory, relative to the root. */
const filesUnder = (dir: string): Array<string> =>
  fs
    .readdirSync(path.join(projectRoot, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(projectRoot, path.join(entry.parentPath, entry.name)))

describe("docker/Dockerfile", () => {
  it("the parser reads continuations, comments, ARG defaults and stages", () => {
    const parsed = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "ARG BASE=node:24",
        "FROM ${BASE} AS one",
        "RUN a \\",
        "  # dropped",
        "    b",
        "FROM scratch",
        'ENTRYPOINT ["/x", "y"]'
      ].join("\n")
    )
    assert.deepStrictEqual(
      parsed.stages.map((s) => [s.image, s.name]),
      [
        ["node:24", "one"],
        ["scratch", undefined]
      ]
    )
    assert.strictEqual(parsed.stages[0]?.instructions[0]?.args, "a b")
    assert.deepStrictEqual(execForm(parsed.stages[1]?.instructions[0]?.args ?? ""), ["/x", "y"])
  })

  it("builds on Node 24 and runs on distroless Node 24, Debian 13 both, images pinned by tag", () => {
    const build = stageNamed("build")
    assert.match(build.image, /^node:24-trixie-slim(@sha256:[0-9a-f]{64})?$/)
    assert.strictEqual(stageNamed("prod-deps").image, build.image)
    assert.match(finalStage.image, /^gcr\.io\/distroless\/nodejs24-debian13:nonroot(@sha256:[0-9a-f]{64})?$/)
    for (const stage of dockerfile.stages) assert.notMatch(stage.image, /:latest\b|^[^:@]+$/, `${stage.image} has no pinned tag`)
  })

  it("installs only from the lock file: npm ci after copying package-lock.json, never npm install", () => {
    for (const stage of dockerfile.stages) {
      const lockCopiedAt = stage.instructions.findIndex(
        (i) => i.keyword === "COPY" && parseCopy(i.args).sources.includes("package-lock.json")
      )
      stage.instructions.forEach((instruction, index) => {
        if (instruction.keyword !== "RUN") return
        assert.notMatch(instruction.args, /\bnpm\s+(install|i|add|update)\b/, `line ${instruction.line}`)
        if (/\bnpm ci\b/.test(instruction.args)) {
          assert.isAtLeast(lockCopiedAt, 0, `line ${instruction.line}: npm ci without package-lock.json`)
          assert.isBelow(lockCopiedAt, index, `line ${instruction.line}: npm ci before package-lock.json is copied`)
        }
      })
    }
  })

  it("the build stage installs every dependency without scripts, copies what the build reads, then runs npm run build", () => {
    const build = stageNamed("build")
    const buildRuns = runs(build)
    const ci = buildRuns.findIndex((r) => /\bnpm ci\b/.test(r))
    const runBuild = buildRuns.findIndex((r) => /\bnpm run build\b/.test(r))
    assert.isAtLeast(ci, 0)
    assert.notMatch(buildRuns[ci] ?? "", /--omit=dev|--production/, "rolldown is a dev dependency")
    // `prepare` would build before src/ is copied; nothing else needs a script (the pinned Node is a plain package).
    assert.match(buildRuns[ci] ?? "", /--ignore-scripts/)
    assert.isAbove(runBuild, ci)
    assert.strictEqual(packageJson.scripts["build"], "npm run -s check-node && node scripts/build.ts")
    const fromContext = copiesOf(build)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources)
    assert.includeMembers(fromContext, ["package.json", "package-lock.json", "tsconfig.json", "scripts", "src"])
    const buildAt = build.instructions.findIndex((i) => i.keyword === "RUN" && /\bnpm run build\b/.test(i.args))
    const lastCopy = build.instructions.findLastIndex((i) => i.keyword === "COPY")
    assert.isAbove(buildAt, lastCopy, "npm run build runs after every source is copied")
  })

  it("prod-deps installs production dependencies without optional ones or scripts, then slims what dist/ inlines", () => {
    const prodDeps = stageNamed("prod-deps")
    const prodRuns = runs(prodDeps)
    const ci = prodRuns.findIndex((r) => /\bnpm ci\b/.test(r))
    assert.match(prodRuns[ci] ?? "", /--omit=dev\b.*--omit=optional\b.*--ignore-scripts\b/)
    const slim = prodRuns.findIndex((r) => /^node scripts\/slimRuntimeModules\.ts \.$/.test(r))
    assert.isAbove(slim, ci)
    const copied = copiesOf(prodDeps).flatMap((c) => c.sources)
    // The script and its own imports must be in the stage.
    const imports = [
      ...fs.readFileSync(path.join(projectRoot, "scripts/slimRuntimeModules.ts"), "utf8").matchAll(/from "\.\/([^"]+)"/g)
    ].map((m) => `scripts/${m[1] ?? ""}`)
    assert.includeMembers(copied, ["scripts/slimRuntimeModules.ts", ...imports])
  })

  it("--omit=optional leaves out only the pinned Node toolchain, which the image does not need", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, "package-lock.json"), "utf8")) as {
      readonly packages: Readonly<Record<string, { readonly dev?: boolean; readonly optional?: boolean }>>
    }
    const prodOptional = Object.entries(lock.packages)
      .filter(([, p]) => p.optional === true && p.dev !== true)
      .map(([folder]) => folder)
    assert.isNotEmpty(prodOptional)
    for (const folder of prodOptional) {
      assert.match(
        folder,
        /^node_modules\/node-(linux|darwin|win)-[a-z0-9]+$/,
        `${folder}: a production optional dependency the image would lose`
      )
    }
  })

  it("the runtime stage holds production node_modules, dist/ and proto/ side by side, and nothing else", () => {
    const workdir = lastOf(finalStage, "WORKDIR")?.args ?? "/"
    const copies = copiesOf(finalStage)
    const destinations = copies.map((c) => inWorkdir(workdir, c.destination)).sort()
    assert.deepStrictEqual(destinations, ["/app/dist", "/app/node_modules", "/app/proto"])
    const find = (dest: string) => copies.find((c) => inWorkdir(workdir, c.destination) === dest)
    assert.deepStrictEqual([find("/app/node_modules")?.from, find("/app/node_modules")?.sources], ["prod-deps", ["/src/node_modules"]])
    assert.deepStrictEqual([find("/app/dist")?.from, find("/app/dist")?.sources], ["build", ["/src/dist"]])
    assert.deepStrictEqual([find("/app/proto")?.from, find("/app/proto")?.sources], [undefined, ["proto"]])
    // The build stage's WORKDIR is where npm ci and npm run build ran.
    assert.strictEqual(lastOf(stageNamed("build"), "WORKDIR")?.args, "/src")
    assert.strictEqual(lastOf(stageNamed("prod-deps"), "WORKDIR")?.args, "/src")
    assert.lengthOf(instructionsOf(finalStage, "RUN"), 0, "distroless has no shell")
  })

  it("starts with node /app/dist/main.mjs as the ENTRYPOINT (so pod args are plugin flags), no CMD", () => {
    const entrypoint = execForm(lastOf(finalStage, "ENTRYPOINT")?.args ?? "")
    assert.deepStrictEqual(entrypoint, ["/nodejs/bin/node", "/app/dist/main.mjs"])
    assert.isUndefined(lastOf(finalStage, "CMD"), "a CMD would be replaced by a pod's args anyway")
    assert.strictEqual(lastOf(finalStage, "WORKDIR")?.args, "/app")
  })

  it("every flag on the start command is a real plugin flag", async () => {
    const help = await readHelp(["--help"])
    const known = new Set(help.flags.map((f) => f.name))
    assert.isAbove(known.size, 20)
    for (const keyword of ["ENTRYPOINT", "CMD"]) {
      for (const word of execForm(lastOf(finalStage, keyword)?.args ?? "[]") ?? []) {
        if (!word.startsWith("--")) continue
        const name = word.split("=")[0] ?? word
        assert.isTrue(known.has(name), `${keyword} uses ${name}, which --help does not list`)
      }
    }
  })

  it("runs as the numeric distroless nonroot user 65532", () => {
    assert.strictEqual(lastOf(finalStage, "USER")?.args, "65532:65532")
  })

  it("carries OCI labels; version and revision come from build arguments, the version checked against package.json", () => {
    const labels = new Map<string, string>()
    for (const label of instructionsOf(finalStage, "LABEL")) for (const [key, value] of labelsOf(label.args)) labels.set(key, value)
    assert.strictEqual(labels.get("org.opencontainers.image.title"), "k8s-cloudkms-plugin")
    assert.strictEqual(labels.get("org.opencontainers.image.licenses"), packageJson.license)
    assert.strictEqual(labels.get("org.opencontainers.image.base.name"), "${RUNTIME_IMAGE}")
    assert.isAbove((labels.get("org.opencontainers.image.description") ?? "").length, 20)
    // No version written here: package.json is the one place (src/version.ts reads it too).
    assert.strictEqual(labels.get("org.opencontainers.image.version"), "${VERSION}")
    assert.strictEqual(labels.get("org.opencontainers.image.revision"), "${SOURCE_REVISION}")
    for (const stage of [finalStage, stageNamed("build")]) {
      assert.includeMembers(
        instructionsOf(stage, "ARG").map((a) => a.args),
        ["VERSION", "SOURCE_REVISION"],
        "declared with no default"
      )
    }
    assert.includeMembers(
      instructionsOf(finalStage, "ARG").map((a) => a.args),
      ["RUNTIME_IMAGE"]
    )
    const buildRuns = runs(stageNamed("build"))
    assert.isTrue(
      buildRuns.some(
        (r) => r.includes(`require("./package.json").version`) && r.includes("process.env.VERSION !== v") && r.includes("process.exit(1)")
      ),
      "a VERSION that is not package.json's stops the build"
    )
    assert.isTrue(
      buildRuns.some((r) => r === `SOURCE_REVISION="\${SOURCE_REVISION}" npm run build`),
      "the bundle reports the revision the label names"
    )
  })

  it("the README's docker build passes VERSION from package.json and SOURCE_REVISION from git", () => {
    const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
    const command = /^docker build -f docker\/Dockerfile(?:.*\\\n)*.*/m.exec(readme)?.[0] ?? ""
    assert.include(command, `--build-arg VERSION="$(node -p 'require("./package.json").version')"`)
    assert.include(command, `--build-arg SOURCE_REVISION="$(git rev-parse HEAD)"`)
  })

  it("the .dockerignore keeps every file the build copies and leaves out the rest of the checkout", () => {
    const patterns = readIgnorePatterns(ignorePath)
    assert.isTrue(contextKeeps(["*", "!src"], "src/main.ts"))
    assert.isFalse(contextKeeps(["*", "!src"], "node_modules/effect/package.json"))
    assert.isFalse(contextKeeps(["*"], ".git/HEAD"), "* matches dot files, as in Docker")
    assert.isFalse(contextKeeps(["**/*.log"], "a/b/c.log"))
    assert.isTrue(contextKeeps(["**/*.log"], "a/b/c.txt"))
    const fromContext = dockerfile.stages.flatMap((stage) =>
      copiesOf(stage)
        .filter((c) => c.from === undefined)
        .flatMap((c) => c.sources)
    )
    assert.includeMembers(fromContext, ["package.json", "package-lock.json", "scripts", "src", "proto"])
    for (const source of fromContext) {
      assert.isTrue(fs.existsSync(path.join(projectRoot, source)), `${source} is not in the repository`)
      const files = fs.statSync(path.join(projectRoot, source)).isDirectory() ? filesUnder(source) : [source]
      assert.isNotEmpty(files)
      for (const file of files) assert.isTrue(contextKeeps(patterns, file), `${file} is copied but ignored`)
    }
    for (const file of [
      "node_modules/effect/package.json",
      "dist/main.mjs",
      "run/kms.sock",
      ".git/HEAD",
      "test/docker/dockerfile.test.ts",
      "scratch/x",
      ".ci/run",
      "README.md",
      "docker/Dockerfile",
      "bin/k8s-cloudkms-plugin.js",
      ".dist-1.tmp/main.mjs"
    ]) {
      assert.isFalse(contextKeeps(patterns, file), `${file} would be sent to the builder`)
    }
  })
})
