import packageJson from "../package.json" with { type: "json" }

// The plugin's name, version and source revision, reported by v1beta1
// Version, --version and the metrics. The version is package.json's (the
// bundle inlines it, so the image needs no package.json); the revision is
// fixed by the build (scripts/build.ts) and "unknown" when run from source.

declare const __PLUGIN_REVISION__: string | undefined

export const pluginName = "k8s-cloudkms-plugin"
export const pluginVersion: string = packageJson.version
/** The source revision (git commit) the running code was built from, or "unknown". */
export const pluginRevision: string = typeof __PLUGIN_REVISION__ === "string" ? __PLUGIN_REVISION__ : "unknown"
