import { status } from "@grpc/grpc-js"
import type { Latency } from "../fakes/FakeCloudKms.ts"
import type { FakeControl } from "./fakeControl.ts"

// The soak's phases: what the fake Cloud KMS does wrong in each, which
// answers the plugin may give there, and what success rate it must reach.
// Fault schedules (latency spikes, restarts, rotation) run on timers: they
// pace the faults, nothing waits on them. At the end of a phase the driver
// stops them and clears every fault.

export interface PhaseContext {
  readonly fake: FakeControl
  readonly keyUri: string
  readonly durationMillis: number
  /** Records a fault event (restart, rotation, spike) for the report. */
  readonly note: (event: string) => void
}

export interface Phase {
  readonly name: string
  readonly description: string
  /** Share of the soak's time (durations are phaseMillis × share). */
  readonly share: number
  /** Lowest acceptable success rate (0..1); undefined: reported only. */
  readonly minSuccessRate: number | undefined
  /** Codes the plugin may answer with in this phase; any other failure is unexpected. */
  readonly expectedCodes: ReadonlyArray<status>
  /** Sets the faults up; resolves, once they are in place, with what stops its schedules (and waits for work under way). */
  readonly start: (context: PhaseContext) => Promise<() => Promise<void>>
}

const calm: Latency = { millis: 2, jitterMillis: 8 }
const jittery: Latency = { millis: 5, jitterMillis: 60 }
/** 1.8 s to 3.5 s: on both sides of the 2 s attempt timeout and of the 3 s deadline. */
const nearDeadline: Latency = { millis: 1_800, jitterMillis: 1_700 }

const timers = () => {
  const handles: Array<NodeJS.Timeout> = []
  const pending = new Set<Promise<void>>()
  return {
    /** At half a period, then every period: short phases get their share too. */
    every: (millis: number, run: () => void) =>
      handles.push(
        setTimeout(() => {
          run()
          handles.push(setInterval(run, millis))
        }, millis / 2)
      ),
    after: (millis: number, run: () => void) => handles.push(setTimeout(run, millis)),
    /** Work started by a timer that stop() must wait for. */
    track: (work: Promise<void>) => {
      pending.add(work)
      void work.finally(() => pending.delete(work))
    },
    stop: async () => {
      for (const handle of handles) clearInterval(handle)
      await Promise.all(pending)
    }
  }
}

const nothingToStop = (): Promise<void> => Promise.resolve()

/** Every `periodMillis` (from half a period in), the latency jumps to near the deadline for `spikeMillis`. */
const spikes = async (
  context: PhaseContext,
  schedule: ReturnType<typeof timers>,
  base: Latency,
  periodMillis: number,
  spikeMillis: number
) => {
  await context.fake.setLatency(base)
  schedule.every(periodMillis, () => {
    schedule.track(context.fake.setLatency(nearDeadline))
    context.note("latency spike")
    schedule.after(spikeMillis, () => schedule.track(context.fake.setLatency(base)))
  })
}

/** restart() every `periodMillis` (from half a period in), one at a time: every connection and call in flight is cut. */
const restarts = (context: PhaseContext, schedule: ReturnType<typeof timers>, periodMillis: number) => {
  let restarting = false
  schedule.every(periodMillis, () => {
    if (restarting) return
    restarting = true
    schedule.track(
      context.fake
        .restart()
        .then(
          () => context.note("restart"),
          (error: unknown) => context.note(`restart failed: ${String(error)}`)
        )
        .finally(() => {
          restarting = false
        })
    )
  })
}

const { UNAVAILABLE, DATA_LOSS } = status

export const phases: ReadonlyArray<Phase> = [
  {
    name: "baseline",
    description: "no faults; 2–10 ms Cloud KMS latency",
    share: 0.5,
    minSuccessRate: 1,
    expectedCodes: [],
    start: async ({ fake }) => {
      await fake.setLatency(calm)
      return nothingToStop
    }
  },
  {
    name: "transient",
    description: "10% UNAVAILABLE, 1% corrupted responses (CRC left stale), 5–65 ms latency jitter",
    share: 1.5,
    minSuccessRate: 0.999,
    expectedCodes: [UNAVAILABLE, DATA_LOSS],
    start: async ({ fake }) => {
      await fake.setLatency(jittery)
      await fake.inject({ fault: { kind: "fail", code: UNAVAILABLE }, probability: 0.1 })
      await fake.inject({ fault: { kind: "corrupt" }, probability: 0.01 })
      return nothingToStop
    }
  },
  {
    name: "latency-spikes",
    description: "every 2 s, 600 ms of 1.8–3.5 s latency (around the 2 s attempt timeout and the 3 s deadline)",
    share: 1,
    minSuccessRate: undefined,
    expectedCodes: [UNAVAILABLE],
    start: async (context) => {
      const schedule = timers()
      await spikes(context, schedule, jittery, 2_000, 600)
      return schedule.stop
    }
  },
  {
    name: "corruption",
    description: "30% corrupted responses, 5% unverified plaintext CRC, 5% wrong resource name",
    share: 1,
    minSuccessRate: undefined,
    expectedCodes: [UNAVAILABLE, DATA_LOSS],
    start: async ({ fake }) => {
      await fake.setLatency(jittery)
      await fake.inject({ fault: { kind: "corrupt" }, probability: 0.3 })
      await fake.inject({ fault: { kind: "unverifiedCrc" }, method: "Encrypt", probability: 0.05 })
      await fake.inject({ fault: { kind: "wrongName" }, probability: 0.05 })
      return nothingToStop
    }
  },
  {
    name: "hangs",
    description: "5% of Cloud KMS calls never answer",
    share: 1,
    minSuccessRate: undefined,
    expectedCodes: [UNAVAILABLE],
    start: async ({ fake }) => {
      await fake.setLatency(jittery)
      await fake.inject({ fault: { kind: "hang" }, probability: 0.05 })
      return nothingToStop
    }
  },
  {
    name: "connection-drops",
    description: "the fake restarts every 1 s, cutting every connection and call in flight",
    share: 1,
    minSuccessRate: undefined,
    expectedCodes: [UNAVAILABLE],
    start: async (context) => {
      await context.fake.setLatency(jittery)
      const schedule = timers()
      restarts(context, schedule, 1_000)
      return schedule.stop
    }
  },
  {
    name: "mixed",
    description: "5% UNAVAILABLE, 5% corrupted, 1% hangs, spikes every 3 s, restarts every 2.5 s, key rotation half-way",
    share: 1.5,
    minSuccessRate: undefined,
    expectedCodes: [UNAVAILABLE, DATA_LOSS],
    start: async (context) => {
      const { fake } = context
      await fake.inject({ fault: { kind: "fail", code: UNAVAILABLE }, probability: 0.05 })
      await fake.inject({ fault: { kind: "corrupt" }, probability: 0.05 })
      await fake.inject({ fault: { kind: "hang" }, probability: 0.01 })
      const schedule = timers()
      await spikes(context, schedule, jittery, 3_000, 400)
      restarts(context, schedule, 2_500)
      schedule.after(context.durationMillis / 2, () =>
        schedule.track(fake.rotate(context.keyUri).then((version) => context.note(`rotation to version ${version}`)))
      )
      return schedule.stop
    }
  },
  {
    name: "recovery",
    description: "faults cleared: every call must succeed and Status must say ok",
    share: 0.5,
    minSuccessRate: 1,
    expectedCodes: [],
    start: async ({ fake }) => {
      await fake.setLatency(calm)
      return nothingToStop
    }
  }
]

export const phaseNames = phases.map((phase) => phase.name)
