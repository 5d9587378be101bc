// Nodes of types Runnel does not have (imported from a Node-RED with more
// nodes installed). As in Node-RED, a flow document with such a node does
// not start: every deploy is refused, in every tab. This notice says so,
// naming the types and how many nodes, and offers what lets the rest
// deploy: disabling those nodes (they keep every property and export as
// they came, plus d: true) or the flows that hold them.
import { useMemo, useState } from 'react'
import { isTab } from './flowjson'
import { enabledUnknown } from './missingTypes'
import { commit, getState, reveal, useEditor } from './store'
import type { FlowObj } from './types'
import './validation.css'

/** Disables the enabled nodes of unknown types (d: true); one edit, undone with Ctrl+Z. */
export function disableUnknown() {
  const s = getState()
  const off = new Set(enabledUnknown(s.items, s.typeMap).map((o) => o.id))
  if (off.size) commit(s.items.map((o) => (off.has(o.id) ? { ...o, d: true } : o)))
}

/**
 * Disables the flows (tabs) that hold enabled nodes of unknown types, and
 * the unknown nodes that are on no tab (global config nodes); one edit.
 */
export function disableUnknownTabs() {
  const s = getState()
  const unknown = enabledUnknown(s.items, s.typeMap)
  const tabIds = new Set(s.items.filter(isTab).map((t) => t.id))
  const tabs = new Set(unknown.filter((o) => o.z && tabIds.has(o.z)).map((o) => o.z!))
  const loose = new Set(unknown.filter((o) => !o.z || !tabIds.has(o.z)).map((o) => o.id))
  if (!tabs.size && !loose.size) return
  commit(s.items.map((o) => (tabs.has(o.id) ? { ...o, disabled: true } : loose.has(o.id) ? { ...o, d: true } : o)))
}

/** "2 nodes", "1 node". */
const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`

/** The notice at the top of the notices while enabled nodes of unknown types are in the document. */
export function UnknownTypesNotice() {
  const items = useEditor((s) => s.items)
  const typeMap = useEditor((s) => s.typeMap)
  const unknown = useMemo(() => enabledUnknown(items, typeMap), [items, typeMap])
  // Closed, it stays closed until the set of such nodes changes (a deploy still says why it is refused).
  const key = unknown.map((o) => o.id).join(' ')
  const [closed, setClosed] = useState('')
  if (!unknown.length || closed === key) return null
  const byType = new Map<string, FlowObj[]>()
  for (const o of unknown) byType.set(o.type, [...(byType.get(o.type) ?? []), o])
  const tabIds = new Set(items.filter(isTab).map((t) => t.id))
  const tabCount = new Set(unknown.filter((o) => o.z && tabIds.has(o.z)).map((o) => o.z)).size
  return (
    <div className="rn-notice error rn-unknown-notice" role="alert" data-testid="unknown-types">
      <div className="rn-notice-text">
        <strong>The flows will not deploy:</strong> {count(unknown.length, 'node')} {unknown.length === 1 ? 'is' : 'are'} of{' '}
        {byType.size === 1 ? 'a type' : 'types'} Runnel does not have:
        <ul>
          {[...byType].map(([type, list]) => (
            <li key={type} data-type={type}>
              <a href="#" onClick={(e) => { e.preventDefault(); reveal(list[0].id) }} title="Show the first of them">
                <span className="mono">{type}</span>
              </a>{' '}
              ({count(list.length, 'node')})
            </li>
          ))}
        </ul>
        <p className="rn-unknown-why">
          Flows with missing node types do not start (as in Node-RED), so every deploy is refused, in every flow. Disable these
          nodes to deploy the rest: they keep all their settings and export unchanged.
        </p>
        <div className="rn-unknown-actions">
          <button type="button" className="primary" onClick={disableUnknown} data-testid="disable-unknown">
            Disable {unknown.length === 1 ? 'this node' : `these ${unknown.length} nodes`}
          </button>
          {tabCount > 0 && (
            <button type="button" onClick={disableUnknownTabs} data-testid="disable-unknown-tabs">
              Disable {tabCount === 1 ? 'their flow' : `their ${tabCount} flows`}
            </button>
          )}
        </div>
      </div>
      <button aria-label="Close" title="Hide until these nodes change" onClick={() => setClosed(key)}>×</button>
    </div>
  )
}
