// Quick-add, as Node-RED's: Ctrl+click on the empty canvas, or / with the
// canvas focused, opens a type-ahead list of the palette's node types where
// the node will go; choosing one adds it there, selected, and wires it from
// the node that was selected (its first output), when that node has one and
// the new one has an input. One edit: one undo takes it all back. With /
// the node goes to the centre of the view, or below it when a node is there.
import { useEffect, useMemo, useRef, useState } from 'react'
import { snap } from './Canvas'
import { isFlowNode } from './flowjson'
import { gridSize } from './FlowNode'
import { isGroup } from './groups'
import { closeQuickAdd, onListKey, useNav, type QuickAddAt } from './nav'
import './nav.css'
import { paletteLabel } from './Palette'
import { commit, getState, newNode, nodeLabel, typeOf, useEditor } from './store'
import type { NodeType } from './types'

export function QuickAdd() {
  const at = useNav((n) => n.quickAdd)
  // A new key for every opening: the list starts afresh.
  return at ? <QuickAddList key={`${at.client.x},${at.client.y},${at.source}`} at={at} /> : null
}

/** The palette's types (not config nodes) that match q by type or label: those that start with it first, then by label. */
export function quickAddTypes(types: NodeType[], q: string): NodeType[] {
  const needle = q.trim().toLowerCase()
  const scored: { t: NodeType; rank: number; label: string }[] = []
  for (const t of types) {
    if (t.config || t.category === 'config') continue
    const label = paletteLabel(t)
    const names = [t.type, label, t.nodeRed ?? ''].map((s) => s.toLowerCase())
    let rank = 0
    if (needle) {
      if (names.some((s) => s.startsWith(needle))) rank = 0
      else if (names.some((s) => s.includes(needle))) rank = 1
      else continue
    }
    scored.push({ t, rank, label: label.toLowerCase() })
  }
  scored.sort((a, b) => a.rank - b.rank || a.label.localeCompare(b.label) || a.t.type.localeCompare(b.t.type))
  return scored.map((x) => x.t)
}

/** Adds a node of type at the quick-add's place, wired from its source when both ends have ports. */
export function quickAddNode(type: string, at: QuickAddAt) {
  const s = getState()
  const x = snap(at.flow.x)
  let y = snap(at.flow.y)
  if (at.avoid) {
    // Nodes are drawn about 100 to 200 wide and 30 high, centred on x and y.
    const taken = s.items.filter((o) => o.z === s.tab && isFlowNode(o) && !isGroup(o) && Math.abs((o.x as number) - x) < 160)
    for (let i = 0; i < 50 && taken.some((o) => Math.abs((o.y as number) - y) < 40); i++) y += 2 * gridSize
  }
  const n = newNode(type, x, y, s.tab)
  let items = [...s.items, n]
  const t = typeOf(type)
  if (at.source && t && t.inputs > 0) {
    items = items.map((o) => {
      if (o.id !== at.source || o.z !== s.tab) return o
      const wires = (o.wires ?? []).map((w) => [...w])
      if (!wires.length) wires.push([])
      wires[0].push(n.id)
      return { ...o, wires }
    })
  }
  commit(items, { selected: new Set([n.id]), selectedEdges: new Set() })
  return n
}

function QuickAddList({ at }: { at: QuickAddAt }) {
  const types = useEditor((s) => s.types)
  const [q, setQ] = useState('')
  const [active, setActive] = useState(0)
  const box = useRef<HTMLDivElement>(null)
  const list = useRef<HTMLDivElement>(null)
  const shown = useMemo(() => quickAddTypes(types, q), [types, q])
  useEffect(() => setActive(0), [q])
  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' })
  }, [active])
  // A press anywhere else closes the list.
  useEffect(() => {
    const down = (e: MouseEvent) => {
      if (!box.current?.contains(e.target as Node)) closeQuickAdd()
    }
    window.addEventListener('mousedown', down, true)
    return () => window.removeEventListener('mousedown', down, true)
  }, [])
  const choose = (t: NodeType | undefined) => {
    if (!t) return
    closeQuickAdd()
    quickAddNode(t.type, at)
  }
  const onKey = (e: React.KeyboardEvent) =>
    onListKey(e, { close: closeQuickAdd, count: shown.length, setActive, choose: () => choose(shown[active]) })
  // Keep the list on the screen.
  const w = 260
  const h = 300
  const left = Math.max(4, Math.min(at.client.x, window.innerWidth - w - 4))
  const top = Math.max(4, Math.min(at.client.y, window.innerHeight - h - 4))
  const source = at.source ? getState().items.find((o) => o.id === at.source) : undefined
  return (
    <div className="rn-quickadd" style={{ left, top, width: w }} ref={box} role="dialog" aria-label="Add a node" data-testid="quick-add">
      <input
        type="text"
        autoFocus
        placeholder="Add a node: type to filter"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        onKeyDown={onKey}
        role="combobox"
        aria-expanded={shown.length > 0}
        aria-controls="rn-quickadd-list"
        data-testid="quick-add-input"
      />
      {source ? <div className="rn-quickadd-wire">wired from {nodeLabel(source, typeOf(source.type))}</div> : null}
      <div className="rn-quickadd-list" role="listbox" id="rn-quickadd-list" ref={list} style={{ maxHeight: h - 40 }}>
        {shown.map((t, i) => (
          <div
            key={t.type}
            role="option"
            aria-selected={i === active}
            className="rn-quickadd-item"
            onMouseMove={() => i !== active && setActive(i)}
            onClick={() => choose(t)}
            data-testid="quick-add-item"
            data-type={t.type}
          >
            <span className="rn-nav-swatch" style={{ background: t.color ?? '#ddd' }} />
            <span className="rn-quickadd-label">{paletteLabel(t)}</span>
            {paletteLabel(t) !== t.type ? <span className="rn-quickadd-type">{t.type}</span> : null}
          </div>
        ))}
        {!shown.length ? <div className="rn-muted rn-quickadd-none">No node type matches “{q}”</div> : null}
      </div>
    </div>
  )
}
