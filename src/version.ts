// The plugin's name and version, reported by v1beta1 Version, --version and
// the metrics. Kept in code (not read from package.json at run time) so the
// bundled image needs no package.json.
export const pluginName = "k8s-cloudkms-plugin"
export const pluginVersion = "0.1.0"
/** The source revision (git commit) the running code was built from, or "unknown". */
export const pluginRevision: string = "unknown"
