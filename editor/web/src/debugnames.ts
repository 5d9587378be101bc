// New debug nodes are named as Node-RED 4 names them (its editor's
// generateNodeNames): "debug N", where N is one more than the highest N of
// the workspace's debug nodes (any tab) already named "debug N"; 1 when none is.
import type { FlowObj } from './types'

export function nextDebugName(items: FlowObj[]): string {
  let max = 0
  for (const o of items) {
    if (o.type !== 'debug' || typeof o.name !== 'string') continue
    const m = /^debug (\d+)$/.exec(o.name)
    if (m) max = Math.max(max, Number(m[1]))
  }
  return `debug ${max + 1}`
}
