// Pool membership: a pod belongs to a pool when it is in the pool's namespace and carries every label
// of the selector with the same value (Service-selector semantics, which is what both InferencePool
// versions specify; v1's LabelSelector is matchLabels only).

export function matchesSelector(selector: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector)) {
    if (labels[k] !== v) return false;
  }
  return true;
}
