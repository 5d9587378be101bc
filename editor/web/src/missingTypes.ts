// Nodes of types Runnel does not have (see Unknown.tsx), without the
// editor's store, so that the store can ask too.
import { isTab } from './flowjson'
import type { FlowObj, NodeType } from './types'

/** Objects that are not node types of their own. */
const structural = new Set(['tab', 'subflow', 'group'])

/** Whether o is a node of a type Runnel does not have. */
export function isUnknown(o: FlowObj, typeMap: Map<string, NodeType>): boolean {
  return !structural.has(o.type) && !typeMap.has(o.type)
}

/** The nodes of unknown types that would run: neither they nor their tab are disabled. */
export function enabledUnknown(items: FlowObj[], typeMap: Map<string, NodeType>): FlowObj[] {
  const offTabs = new Set(items.filter((o) => isTab(o) && o.disabled === true).map((o) => o.id))
  return items.filter((o) => isUnknown(o, typeMap) && o.d !== true && !(o.z && offTabs.has(o.z)))
}

