// The packages the bundle leaves as imports, loaded from node_modules at run
// time: the Cloud KMS client stack (and the gRPC it shares with it), which
// reads its own proto and JSON files from its package folders. Everything
// else the plugin imports is inlined into dist/.
export const bundleExternals: ReadonlyArray<string> = ["@grpc/grpc-js", "@google-cloud/kms", "google-gax", "google-auth-library"]

/** Whether an import specifier names one of those packages or a file inside it. */
export const isBundleExternal = (specifier: string): boolean =>
  bundleExternals.some((name) => specifier === name || specifier.startsWith(`${name}/`))
