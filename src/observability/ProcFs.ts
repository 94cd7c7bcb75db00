import * as fs from "node:fs"

// What only Linux's /proc tells about this process: virtual and data memory,
// open and allowed file descriptors. Elsewhere (or with /proc not mounted)
// these figures are absent and their series left out, never made up.

export interface ProcFigures {
  readonly residentBytes?: number
  readonly virtualBytes?: number
  readonly dataBytes?: number
  readonly openFds?: number
  readonly maxFds?: number
}

const statusFields = {
  VmRSS: /^VmRSS:\s+(\d+) kB$/m,
  VmSize: /^VmSize:\s+(\d+) kB$/m,
  VmData: /^VmData:\s+(\d+) kB$/m
}

const kibLine = (status: string, field: keyof typeof statusFields): number | undefined => {
  const match = statusFields[field].exec(status)
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024
}

/** VmRSS, VmSize and VmData of /proc/self/status, in bytes. */
export const parseStatus = (status: string): Pick<ProcFigures, "residentBytes" | "virtualBytes" | "dataBytes"> => {
  const figures: { residentBytes?: number; virtualBytes?: number; dataBytes?: number } = {}
  const resident = kibLine(status, "VmRSS")
  const virtual = kibLine(status, "VmSize")
  const data = kibLine(status, "VmData")
  if (resident !== undefined) figures.residentBytes = resident
  if (virtual !== undefined) figures.virtualBytes = virtual
  if (data !== undefined) figures.dataBytes = data
  return figures
}

/** The soft "Max open files" limit of /proc/self/limits (what the Go client reports); undefined if unlimited or absent. */
export const parseMaxOpenFiles = (limits: string): number | undefined => {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)
  return match?.[1] === undefined || match[1] === "unlimited" ? undefined : Number(match[1])
}

const readOrUndefined = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** The figures of /proc/self, read now (a few small reads: cheap enough for every scrape). */
export const readProcFs = (): ProcFigures => {
  if (process.platform !== "linux") return {}
  const status = readOrUndefined(() => fs.readFileSync("/proc/self/status", "utf8"))
  const limits = readOrUndefined(() => fs.readFileSync("/proc/self/limits", "utf8"))
  // The listing holds the descriptor readdir itself opened: not counted.
  const fds = readOrUndefined(() => fs.readdirSync("/proc/self/fd").length - 1)
  const maxFds = limits === undefined ? undefined : parseMaxOpenFiles(limits)
  return {
    ...(status === undefined ? {} : parseStatus(status)),
    ...(fds === undefined ? {} : { openFds: fds }),
    ...(maxFds === undefined ? {} : { maxFds })
  }
}
