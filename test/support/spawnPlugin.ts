import * as Effect from "effect/Effect"
import { kill, type Running, run } from "./childProcess.ts"
import { mainScript, projectRoot } from "./projectRoot.ts"

// The real entrypoint as a child process: what the image runs. Waits on its
// log lines and its exit, never on time.

export type SpawnedPlugin = Running

/** The plugin's command line as a child process (the entrypoint the tests exercise). */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd: string = projectRoot): SpawnedPlugin =>
  run(process.execPath, [mainScript, ...args], { cwd, env })

/** The command line run to its end: exit code and output. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd: string = projectRoot) =>
  Effect.promise(async () => {
    const cli = spawnCli(args, env, cwd)
    const exit = await cli.exited
    return { code: exit.code, stdout: cli.stdout(), stderr: cli.stderr() }
  })

/** The plugin, started and serving; killed (if still running) with the scope. */
export const spawnPlugin = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      // The fake backend and a free health port, unless the test says otherwise.
      const defaults = [
        ["--kms-backend", "fake"],
        ["--healthz-port", "0"]
      ].filter(([flag]) => !args.includes(flag ?? ""))
      const plugin = spawnCli([...defaults.flat(), ...args], env)
      await plugin.waitForLine(/serving KMS/)
      return plugin
    }),
    (plugin) => Effect.promise(() => kill(plugin))
  )
