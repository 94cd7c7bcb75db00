import { randomUUID } from "node:crypto"
import * as net from "node:net"
import * as Effect from "effect/Effect"

// Linux abstract socket names for tests: unique per run, and a probe that
// says whether anything accepts connections on one.

/** A fresh `@name`, unique to this process and call. */
export const abstractName = (label: string): string => `@kmsp-${label}-${process.pid}-${randomUUID()}`

/** "connected" when something accepts a connection on `@name`, else the error code. */
export const abstractAnswers = (name: string): Effect.Effect<string> =>
  Effect.promise(
    () =>
      new Promise<string>((resolve) => {
        const probe = net.connect({ path: `\u0000${name.slice(1)}` })
        probe.once("connect", () => {
          probe.destroy()
          resolve("connected")
        })
        probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"))
      })
  )
