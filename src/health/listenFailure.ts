// Why a listener could not start, in the operator's words: the flag that
// chose the port, the address, and what the system said.

const plainWords: Readonly<Record<string, string>> = {
  EADDRINUSE: "the port is already in use by another process",
  EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
  EADDRNOTAVAIL: "the address is not one of this host's"
}

const errnoOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : undefined

/** host:port as one would type it ([::1]:8081 for IPv6). */
export const hostPort = (host: string, port: number): string => `${host.includes(":") ? `[${host}]` : host}:${port}`

/** e.g. `--healthz-port 8081: cannot listen on 127.0.0.1:8081: the port is already in use by another process (EADDRINUSE)` */
export const listenFailure = (flag: string, host: string, port: number, cause: unknown): string => {
  const code = errnoOf(cause)
  const reason =
    code === undefined
      ? cause instanceof Error
        ? cause.message
        : String(cause)
      : `${plainWords[code] ?? (cause instanceof Error ? cause.message : code)} (${code})`
  return `--${flag} ${port}: cannot listen on ${hostPort(host, port)}: ${reason}`
}
