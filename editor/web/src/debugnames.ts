// New debug nodes are named as Node-RED 4 names them: "debug 1", "debug 2",
// ..., the lowest number that no node of the workspace (any tab) is named.
import type { FlowObj } from './types'

export function nextDebugName(items: FlowObj[]): string {
  const taken = new Set(items.map((o) => o.name))
  let n = 1
  while (taken.has(`debug ${n}`)) n++
  return `debug ${n}`
}
