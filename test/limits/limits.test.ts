import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { imageNodeOptions } from "../docker/imageRuntime.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { type Bundle, buildBundle } from "./bundle.ts"
import { plans } from "./options.ts"
import { readPodResources } from "./podResources.ts"
import { markdown } from "./report.ts"
import { type LimitsResult, runLimits, type ScenarioResult } from "./runLimits.ts"

// The short variant of `npm run soak -- --limits` (test/limits/run.ts): the
// built entrypoint, run as the image runs it, inside a fresh cgroup with
// docker/static-pod.yaml's memory and CPU limits, through the fault soak's
// phases (1.5 s per share), a cold-start storm of 1000 distinct Decrypts at
// c=64 (cloud mode) and 4 s of 64 KiB Encrypts at c=256 (fake backend);
// about a minute. Needs root and the memory and cpu cgroup controllers (CI runs
// as root): without them it fails, saying why. The figures are printed and
// written to test/limits/results/short.json.

const out = path.join(projectRoot, "test/limits/results/short.json")

const failures = (result: LimitsResult) =>
  result.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail}`)
    .join("\n") || "none"

describe("the plugin inside the static pod's limits (short)", () => {
  let bundle: Bundle | undefined
  let result: LimitsResult
  const pod = readPodResources()

  beforeAll(async () => {
    bundle = await buildBundle()
    const plan = plans.short
    result = await runLimits({
      limits: pod.limits,
      entry: bundle.entry,
      entryLabel: "dist/main.mjs",
      nodeArgs: imageNodeOptions(),
      deadlineMillis: plan.deadlineMillis,
      ...(plan.soak === undefined ? {} : { soak: plan.soak }),
      ...(plan.storm === undefined ? {} : { storm: plan.storm }),
      ...(plan.bulk === undefined ? {} : { bulk: plan.bulk }),
      // LIMITS_VERBOSE=1 shows the progress.
      log: process.env["LIMITS_VERBOSE"] === "1" ? (line) => process.stderr.write(`limits: ${line}\n`) : () => {}
    })
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, `${JSON.stringify({ preset: "short", ...result }, null, 2)}\n`)
    // The peaks, in the test log: CI's record of them.
    process.stderr.write(`\n${markdown(result)}\n`)
  }, 180_000)

  afterAll(() => bundle?.remove())

  const scenario = (name: string): ScenarioResult => {
    const found = result.scenarios.find((s) => s.name === name)
    assert.isDefined(found, `scenario ${name} did not run; failed checks:\n${failures(result)}`)
    return found!
  }

  it("ran in a cgroup with the manifest's limits: the soak, the storm and the 64 KiB Encrypts, each with calls", () => {
    assert.strictEqual(result.limits.memoryMib, pod.limits.memoryBytes / 2 ** 20)
    assert.strictEqual(result.limits.cpus, pod.limits.cpus)
    assert.deepStrictEqual(
      result.scenarios.map((s) => s.name),
      ["soak", "storm", "bulk"]
    )
    for (const s of result.scenarios) {
      assert.isAbove(s.calls, 0, s.name)
      assert.strictEqual(s.memory.limitMib, result.limits.memoryMib, `${s.name}: the cgroup's own limit`)
    }
  })

  it("no OOM kill, read from each cgroup's own counter", () => {
    for (const s of result.scenarios) assert.strictEqual(s.cgroup.oomKills, 0, `${s.name}: ${JSON.stringify(s.cgroup)}`)
  })

  it("never a wrong plaintext", () => {
    for (const s of result.scenarios) assert.strictEqual(s.wrongPlaintexts, 0, s.name)
  })

  it("every answer before its caller's deadline", () => {
    for (const s of result.scenarios) assert.strictEqual(s.lateCalls, 0, `${s.name}: slowest ${s.slowestMillis} ms`)
    assert.strictEqual(scenario("soak").slowestMillis <= result.deadlineMillis, true)
  })

  it("reports the peaks: the cgroup's, its anonymous memory's, and the plugin's VmHWM, each within the limit", () => {
    for (const s of result.scenarios) {
      assert.isTrue(Number.isFinite(s.memory.cgroupPeakMib) && s.memory.cgroupPeakMib > 0, `${s.name}: ${JSON.stringify(s.memory)}`)
      assert.isTrue(Number.isFinite(s.memory.processPeakRssMib) && s.memory.processPeakRssMib > 0, `${s.name}: ${JSON.stringify(s.memory)}`)
      assert.isAtMost(s.memory.cgroupPeakMib, s.memory.limitMib)
    }
    assert.isTrue(fs.existsSync(out))
  })

  it("passes every check: the soak's own (success rates, nothing left in flight, no leak, clean exit) and each scenario's", () => {
    assert.isTrue(result.ok, failures(result))
  })
})
