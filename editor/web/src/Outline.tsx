// The flow outline at the top of the info sidebar, as Node-RED's Info tab
// draws it: the flows (tabs), their groups and nodes as a tree, then the
// subflows and the config nodes. A click jumps to the entry, as the search
// does; the chevrons fold and unfold. The open tab is unfolded, and stays so.
import { memo, useEffect, useMemo, useState } from 'react'
import { isConfigNode, isFlowNode, isTab } from './flowjson'
import { isGroup, membership } from './groups'
import { jumpTo, labelOf } from './nav'
import './nav.css'
import { useEditor } from './store'
import type { FlowObj, NodeType } from './types'

interface Entry {
  o: FlowObj
  label: string
  children: Entry[]
  /** Nodes under it, however deep (for a folded entry). */
  count: number
}

/** The tree of one tab (or subflow): its top-level groups and nodes, groups holding their members. */
function treeOf(items: FlowObj[], z: string, typeMap: Map<string, NodeType>): Entry[] {
  const { members, owner } = membership(items, z)
  const byId = new Map<string, FlowObj>()
  for (const o of items) if (o.z === z && (isGroup(o) || isFlowNode(o))) byId.set(o.id, o)
  const entry = (o: FlowObj, seen: Set<string>): Entry => {
    const children: Entry[] = []
    if (isGroup(o) && !seen.has(o.id)) {
      seen.add(o.id)
      for (const id of members.get(o.id) ?? []) {
        const m = byId.get(id)
        if (m) children.push(entry(m, seen))
      }
    }
    const count = children.reduce((n, c) => n + (isGroup(c.o) ? c.count : 1), 0)
    return { o, label: labelOf(o, typeMap.get(o.type)), children, count }
  }
  const out: Entry[] = []
  for (const o of byId.values()) if (!owner.has(o.id)) out.push(entry(o, new Set()))
  return out
}

export const Outline = memo(function Outline() {
  const items = useEditor((s) => s.items)
  const typeMap = useEditor((s) => s.typeMap)
  const tab = useEditor((s) => s.tab)
  const selected = useEditor((s) => s.selected)
  // Folded or unfolded by the user; otherwise the open tab and groups are unfolded.
  const [fold, setFold] = useState<Map<string, boolean>>(new Map())
  // A tab once open stays unfolded when another opens, so that rows do not move under the mouse.
  useEffect(() => setFold((f) => (f.has(tab) ? f : new Map(f).set(tab, true))), [tab])
  const isOpen = (id: string, byDefault: boolean) => fold.get(id) ?? byDefault
  const toggle = (id: string, byDefault: boolean) => setFold(new Map(fold).set(id, !isOpen(id, byDefault)))
  const tabs = useMemo(() => items.filter(isTab), [items])
  const subflows = useMemo(() => items.filter((o) => o.type === 'subflow'), [items])
  const configs = useMemo(() => items.filter(isConfigNode), [items])

  const row = (o: FlowObj, label: string, depth: number, children: Entry[] | null, count: number, byDefault: boolean) => {
    const open = children !== null && isOpen(o.id, byDefault)
    const t = typeMap.get(o.type)
    const kind = isTab(o) ? 'tab' : o.type === 'subflow' ? 'subflow' : isGroup(o) ? 'group' : isConfigNode(o) ? 'config' : 'node'
    return (
      <div key={o.id}>
        <div
          className={'rn-outline-item ' + kind + (o.id === tab || selected.has(o.id) ? ' current' : '') + (o.d || o.disabled ? ' off' : '')}
          style={{ paddingLeft: 4 + depth * 14 }}
          onClick={() => (kind === 'subflow' ? toggle(o.id, byDefault) : jumpTo(o.id))}
          role="treeitem"
          aria-level={depth + 1}
          aria-expanded={children !== null ? open : undefined}
          aria-selected={o.id === tab || selected.has(o.id)}
          data-testid="outline-item"
          data-id={o.id}
          data-depth={depth}
          title={o.type + ' ' + o.id}
        >
          {children !== null ? (
            <button
              className="rn-outline-chev"
              aria-label={open ? 'Fold' : 'Unfold'}
              onClick={(e) => {
                e.stopPropagation()
                toggle(o.id, byDefault)
              }}
            >
              {open ? '▾' : '▸'}
            </button>
          ) : (
            <span className="rn-outline-chev" />
          )}
          {kind === 'node' || kind === 'config' ? <span className="rn-nav-swatch" style={{ background: t?.color ?? '#ddd' }} /> : null}
          {kind === 'group' ? <span className="rn-nav-swatch group" /> : null}
          <span className="rn-outline-label">{label}</span>
          {kind === 'node' || kind === 'config' ? <span className="rn-outline-type">{o.type}</span> : null}
          {children !== null && !open ? <span className="rn-outline-count">{count}</span> : null}
        </div>
        {open ? children!.map((c) => row(c.o, c.label, depth + 1, isGroup(c.o) ? c.children : null, c.count, true)) : null}
      </div>
    )
  }
  // Nodes per tab, for folded tabs; a tab's tree is built only while it is unfolded.
  const counts = useMemo(() => {
    const m = new Map<string, number>()
    for (const o of items) if (o.z && isFlowNode(o) && !isGroup(o)) m.set(o.z, (m.get(o.z) ?? 0) + 1)
    return m
  }, [items])
  const holder = (o: FlowObj) => {
    const tree = isOpen(o.id, o.id === tab) ? treeOf(items, o.id, typeMap) : []
    return row(o, labelOf(o), 0, tree, counts.get(o.id) ?? 0, o.id === tab)
  }
  const [shut, setShut] = useState<Set<string>>(new Set())
  const section = (key: string, title: string, body: React.ReactNode[]) =>
    body.length ? (
      <div className="rn-outline-section" key={key}>
        <button
          className="rn-outline-head"
          aria-expanded={!shut.has(key)}
          onClick={() => {
            const n = new Set(shut)
            if (n.has(key)) n.delete(key)
            else n.add(key)
            setShut(n)
          }}
        >
          {shut.has(key) ? '▸' : '▾'} {title}
        </button>
        {shut.has(key) ? null : body}
      </div>
    ) : null
  return (
    <div className="rn-outline" role="tree" aria-label="Flow outline" data-testid="outline">
      {section('flows', 'Flows', tabs.map(holder))}
      {section('subflows', 'Subflows', subflows.map(holder))}
      {section('config', 'Configuration nodes', configs.map((o) => row(o, labelOf(o, typeMap.get(o.type)), 0, null, 0, false)))}
    </div>
  )
})
