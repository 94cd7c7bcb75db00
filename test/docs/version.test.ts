import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { pluginVersion } from "../../src/version.ts"
import { projectRoot } from "../support/projectRoot.ts"

// The version lives in package.json only: the code reads it from there, and
// every place that shows an image tag (the static pod, the README's guide)
// names that same version, so a release bump cannot leave one behind.

const read = (file: string) => fs.readFileSync(path.join(projectRoot, file), "utf8")
const packageVersion = (): string => {
  const parsed: unknown = JSON.parse(read("package.json"))
  return typeof parsed === "object" && parsed !== null && "version" in parsed ? String(parsed.version) : ""
}
const imageTags = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/k8s-cloudkms-plugin:(\d+\.\d+\.\d+\S*?)(?=["|\s])/g)].map((m) => m[1] ?? "")

describe("the version, in one place", () => {
  it("the code reports package.json's version", () => {
    assert.match(packageVersion(), /^\d+\.\d+\.\d+/)
    assert.strictEqual(pluginVersion, packageVersion())
  })

  it("the static pod's image and the README's image tags name that version", () => {
    // The upgrade section's example of a newer image is the one tag meant to differ.
    const readme = read("README.md")
      .split("\n")
      .filter((line) => !line.includes("# the new image"))
      .join("\n")
    const tags = [...imageTags(read("docker/static-pod.yaml")), ...imageTags(readme)]
    assert.isAtLeast(tags.length, 2)
    for (const tag of tags) assert.strictEqual(tag, packageVersion())
  })
})
