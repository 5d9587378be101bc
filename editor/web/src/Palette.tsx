// The palette: every node type from GET /nodes, grouped by category and
// filterable. Drag an entry onto the canvas (or press Enter on it); with a
// finger, drag it or tap it (touch.ts).
import { useMemo, useRef, useState } from 'react'
import { flowInstance, snap } from './Canvas'
import { addNode, setState, useEditor } from './store'
import { usePaletteTouch } from './touch'
import type { NodeType } from './types'
import { openSubflow } from './Subflows'

/** Node-RED's category order; other categories (custom nodes) follow, by name. */
const order = ['subflows', 'common', 'function', 'network', 'sequence', 'parser', 'storage']

export const paletteLabel = (t: NodeType) => t.label ?? t.type

export function Palette() {
  const types = useEditor((s) => s.types)
  const [q, setQ] = useState('')
  const [closed, setClosed] = useState<Set<string>>(new Set())
  const ref = useRef<HTMLElement>(null)
  usePaletteTouch(ref)
  const groups = useMemo(() => {
    const needle = q.trim().toLowerCase()
    const m = new Map<string, NodeType[]>()
    for (const t of types) {
      if (t.config || t.category === 'config') continue
      if (needle) {
        const hay = [t.type, t.label, t.nodeRed, t.category].filter(Boolean).join(' ').toLowerCase()
        if (!hay.includes(needle)) continue
      }
      const c = t.category || 'other'
      if (!m.has(c)) m.set(c, [])
      m.get(c)!.push(t)
    }
    const cats = [...m.keys()].sort((a, b) => {
      const ia = order.indexOf(a), ib = order.indexOf(b)
      if (ia >= 0 && ib >= 0) return ia - ib
      if (ia >= 0) return -1
      if (ib >= 0) return 1
      return a.localeCompare(b)
    })
    return cats.map((c) => ({ c, types: m.get(c)! }))
  }, [types, q])

  return (
    <aside className="rn-palette" aria-label="Palette" ref={ref}>
      <input
        className="rn-palette-search"
        type="search"
        placeholder="filter nodes"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        aria-label="Filter nodes"
      />
      <div className="rn-palette-list">
        {groups.map(({ c, types }) => (
          <section key={c} className="rn-palette-cat" data-category={c}>
            <button
              className="rn-palette-cat-head"
              aria-expanded={!closed.has(c) || !!q}
              onClick={() => {
                const n = new Set(closed)
                if (n.has(c)) n.delete(c)
                else n.add(c)
                setClosed(n)
              }}
            >
              <span className="chev">{!closed.has(c) || q ? '▾' : '▸'}</span> {c}
            </button>
            {(!closed.has(c) || q) &&
              types.map((t) => (
                <div
                  key={t.type}
                  className="rn-palette-node"
                  data-type={t.type}
                  draggable
                  tabIndex={0}
                  title={(t.help ?? '').split('\n')[0]}
                  style={{ background: t.color ?? '#ddd' }}
                  onDragStart={(e) => {
                    e.dataTransfer.setData('application/x-runnel-type', t.type)
                    e.dataTransfer.effectAllowed = 'copy'
                  }}
                  onClick={() => setState({ helpType: t.type, sidebar: 'info', sidebarOpen: true })}
                  // A subflow opens on its tab, as in Node-RED.
                  onDoubleClick={() => t.type.startsWith('subflow:') && openSubflow(t.type.slice(8))}
                  onKeyDown={(e) => {
                    if (e.key !== 'Enter' || !flowInstance) return
                    const el = document.querySelector('.rn-canvas')!.getBoundingClientRect()
                    const p = flowInstance.screenToFlowPosition({ x: el.left + el.width / 2, y: el.top + el.height / 2 })
                    addNode(t.type, snap(p.x), snap(p.y))
                  }}
                >
                  {t.inputs > 0 && <span className="port in" />}
                  <span className="rn-palette-label">{paletteLabel(t)}</span>
                  {t.outputs > 0 && <span className="port out" />}
                </div>
              ))}
          </section>
        ))}
        {!groups.length && <div className="rn-empty">No node matches “{q}”</div>}
      </div>
    </aside>
  )
}
