// Reads the plugin's live heap through the V8 inspector (the plugin runs
// with --inspect=127.0.0.1:0 in the soak): a full GC first, then the heap in
// use. RSS alone says little about leaks: on a machine with a lot of memory,
// V8 lets the old generation grow to hundreds of MiB of garbage before a
// major GC, so VmRSS under load climbs and plateaus wherever V8's heuristics
// put it. What a leak grows is the heap that survives a full GC.

export const inspectorArgs = ["--inspect=127.0.0.1:0"]

/** The inspector's lines on stderr: not the plugin's log. */
export const isInspectorLine = (line: string): boolean =>
  /^(Debugger (listening on|ending on) ws:|For help, see: https:\/\/nodejs\.org\/|Debugger attached\.|Waiting for the debugger to disconnect)/.test(
    line
  )

export interface HeapProbe {
  /** Full GC, then the V8 heap in use, MiB. */
  readonly liveHeapMib: () => Promise<number>
}

// A full GC of a few hundred MiB takes well under a second; the bound only
// keeps a wedged plugin from hanging the soak.
const boundMillis = 30_000

/** One short inspector session: an attached session would hold the plugin's exit ("Waiting for the debugger to disconnect"). */
const session = async <A>(url: string, use: (send: (method: string) => Promise<unknown>) => Promise<A>): Promise<A> => {
  const socket = new WebSocket(url)
  const closed = new Promise<void>((resolve) => socket.addEventListener("close", () => resolve(), { once: true }))
  let nextId = 1
  const pending = new Map<number, { readonly resolve: (result: unknown) => void; readonly reject: (error: Error) => void }>()
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error)
    pending.clear()
  }
  void closed.then(() => failAll(new Error("inspector connection closed")))
  socket.addEventListener("message", (event) => {
    const message: unknown = JSON.parse(String(event.data))
    if (typeof message !== "object" || message === null || !("id" in message) || typeof message.id !== "number") return
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if ("error" in message) waiter.reject(new Error(`inspector: ${JSON.stringify(message.error)}`))
    else waiter.resolve("result" in message ? message.result : undefined)
  })
  const timer = setTimeout(() => {
    failAll(new Error(`inspector at ${url}: no answer within ${boundMillis} ms`))
    socket.close()
  }, boundMillis)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true })
      socket.addEventListener("error", () => reject(new Error(`cannot connect to the plugin's inspector at ${url}`)), { once: true })
    })
    return await use(
      (method) =>
        new Promise((resolve, reject) => {
          const id = nextId++
          pending.set(id, { resolve, reject })
          socket.send(JSON.stringify({ id, method }))
        })
    )
  } finally {
    clearTimeout(timer)
    socket.close()
    await closed
  }
}

export const heapProbe = (debuggerLine: string): HeapProbe => {
  const url = /(ws:\/\/\S+)/.exec(debuggerLine)?.[1]
  if (url === undefined) throw new Error(`no inspector URL in ${JSON.stringify(debuggerLine)}`)
  return {
    liveHeapMib: () =>
      session(url, async (send) => {
        await send("HeapProfiler.collectGarbage")
        const usage = await send("Runtime.getHeapUsage")
        const used = typeof usage === "object" && usage !== null && "usedSize" in usage ? Number(usage.usedSize) : Number.NaN
        return used / (1024 * 1024)
      })
  }
}
