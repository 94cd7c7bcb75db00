import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"
import packageJson from "../../package.json" with { type: "json" }
import { buildBundle, projectRoot, sourceRevision } from "../../scripts/build.ts"
import { pluginRevision, pluginVersion } from "../../src/version.ts"

// scripts/build.ts: the revision it fixes into the bundle, and the version
// that src/version.ts takes from package.json, from source and built.

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe("the source revision of a build", () => {
  const noGit = () => undefined
  const head = () => "0123456789abcdef0123456789abcdef01234567"

  it("SOURCE_REVISION wins (the image build, whose context has no .git), else the checkout's HEAD, else unknown", () => {
    assert.strictEqual(sourceRevision({ SOURCE_REVISION: "feedface" }, head), "feedface")
    assert.strictEqual(sourceRevision({ SOURCE_REVISION: "  feedface\n" }, head), "feedface")
    assert.strictEqual(sourceRevision({ SOURCE_REVISION: "" }, head), head())
    assert.strictEqual(sourceRevision({}, head), head())
    assert.strictEqual(sourceRevision({}, noGit), "unknown")
  })

  it("refuses a SOURCE_REVISION that is no commit id (it becomes a metric label)", () => {
    for (const bad of ["a b", 'x"y', "rev}", "a".repeat(65)]) {
      assert.throws(() => sourceRevision({ SOURCE_REVISION: bad }, noGit), /SOURCE_REVISION must be a commit id/, bad)
    }
  })
})

describe("src/version.ts", () => {
  it("from source: package.json's version, revision unknown", () => {
    assert.strictEqual(pluginVersion, packageJson.version)
    assert.strictEqual(pluginRevision, "unknown")
  })

  it("built: the same version, and the revision the build was given", async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-build-"))
    dirs.push(outDir)
    await buildBundle({ outDir, revision: "0123abcd", input: path.join(projectRoot, "src/version.ts") })
    const built: unknown = await import(pathToFileURL(path.join(outDir, "version.mjs")).href)
    assert.deepInclude(built, { pluginName: "k8s-cloudkms-plugin", pluginVersion: packageJson.version, pluginRevision: "0123abcd" })
    assert.notInclude(fs.readFileSync(path.join(outDir, "version.mjs"), "utf8"), "devDependencies", "only the version is inlined")
  })
})
