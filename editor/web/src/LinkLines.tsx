// Node-RED's dashed lines between a link out (or link call) and the link in
// nodes it reaches on the same tab, and its stubs for links to other tabs: a
// short dashed line ending in a box with their count, which jumps to the
// node on the other tab (or lists them when there are several). Drawn over
// the canvas in flow coordinates; not wires: they cannot be selected or
// deleted (the links are edited in the nodes' forms, LinkPicker.tsx).
import { ViewportPortal, useStore, type ReactFlowState } from '@xyflow/react'
import { useCallback, useEffect, useMemo, useState } from 'react'
import { linkPairs, linkStubs } from './links'
import './links.css'
import { jumpTo, labelOf } from './nav'
import { typeOf, useEditor } from './store'

export function LinkLines() {
  return (
    <>
      <SameTabLines />
      <OtherTabStubs />
    </>
  )
}

/** A measured node's box in flow coordinates, [x, y, width, height], or null. */
function nodeBox(s: ReactFlowState, id: string): [number, number, number, number] | null {
  const n = s.nodeLookup.get(id)
  const w = n?.measured.width, h = n?.measured.height
  if (!n || !w || !h) return null
  return [n.internals.positionAbsolute.x, n.internals.positionAbsolute.y, w, h]
}

function SameTabLines() {
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const pairs = useMemo(() => linkPairs(items, tab), [items, tab])
  // The ends' boxes as one string, so that the lines redraw only when one moves.
  const boxes = useStore(
    useCallback(
      (s: ReactFlowState) => {
        if (!pairs.length) return ''
        return pairs.map(([a, b]) => {
          const p = nodeBox(s, a), q = nodeBox(s, b)
          return p && q ? `${p[0] + p[2]},${p[1] + p[3] / 2},${q[0]},${q[1] + q[3] / 2}` : ''
        }).join(';')
      },
      [pairs],
    ),
  )
  if (!boxes) return null
  return (
    <ViewportPortal>
      <svg className="rn-link-lines" width={1} height={1} style={{ position: 'absolute', left: 0, top: 0, overflow: 'visible', pointerEvents: 'none' }} aria-hidden="true">
        {boxes.split(';').map((s, i) => {
          if (!s) return null
          const [x1, y1, x2, y2] = s.split(',').map(Number)
          const d = Math.max(40, Math.abs(x2 - x1) / 2)
          return (
            <path key={pairs[i].join('>')} data-link={pairs[i].join('>')} d={`M${x1},${y1} C${x1 + d},${y1} ${x2 - d},${y2} ${x2},${y2}`} fill="none" stroke="#999" strokeWidth={2} strokeDasharray="5 5" />
          )
        })}
      </svg>
    </ViewportPortal>
  )
}

/** How far a stub reaches out of its node, and its box. */
const stubLen = 24, boxW = 22, boxH = 16

function OtherTabStubs() {
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const stubs = useMemo(() => linkStubs(items, tab), [items, tab])
  const [open, setOpen] = useState<string | null>(null)
  useEffect(() => setOpen(null), [tab])
  const boxes = useStore(
    useCallback(
      (s: ReactFlowState) =>
        stubs.map((st) => {
          const b = nodeBox(s, st.id)
          return b ? `${st.side === 'out' ? b[0] + b[2] : b[0]},${b[1] + b[3] / 2}` : ''
        }).join(';'),
      [stubs],
    ),
  )
  if (!stubs.length || !boxes) return null
  const at = boxes.split(';')
  const byId = new Map(items.map((o) => [o.id, o]))
  const where = (id: string) => {
    const o = byId.get(id)
    const z = o && byId.get(String(o.z))
    return o ? `${z ? labelOf(z) : ''}: ${labelOf(o, typeOf(o.type))}` : id
  }
  const menu = open ? stubs.find((st) => st.id === open) : undefined
  const menuAt = menu ? at[stubs.indexOf(menu)] : ''
  return (
    <ViewportPortal>
      <svg className="rn-link-stubs" width={1} height={1} style={{ position: 'absolute', left: 0, top: 0, overflow: 'visible', pointerEvents: 'none' }}>
        {stubs.map((st, i) => {
          if (!at[i]) return null
          const [x, y] = at[i].split(',').map(Number)
          const dir = st.side === 'out' ? 1 : -1
          const end = x + dir * stubLen
          const bx = st.side === 'out' ? end : end - boxW
          const go = () => (st.targets.length === 1 ? jumpTo(st.targets[0]) : setOpen(open === st.id ? null : st.id))
          return (
            <g key={st.id} data-stub={st.id} data-side={st.side}>
              <path d={`M${x},${y} H${end}`} fill="none" stroke="#999" strokeWidth={2} strokeDasharray="5 5" />
              <g
                className="rn-link-stub-box"
                role="button"
                aria-label={`${st.targets.length} link${st.targets.length === 1 ? '' : 's'} to other flows`}
                style={{ pointerEvents: 'all', cursor: 'pointer' }}
                onPointerDown={(e) => e.stopPropagation()}
                onClick={(e) => { e.stopPropagation(); go() }}
              >
                <title>{st.targets.map(where).join('\n')}</title>
                <rect x={bx} y={y - boxH / 2} width={boxW} height={boxH} rx={4} fill="#eee" stroke="#999" />
                <text x={bx + boxW / 2} y={y + 4} textAnchor="middle" fontSize={10} fill="#555">{st.targets.length}</text>
              </g>
            </g>
          )
        })}
      </svg>
      {menu && menuAt && (
        <div
          className="rn-link-stub-menu nodrag nopan"
          role="menu"
          style={{ position: 'absolute', left: Number(menuAt.split(',')[0]) + (menu.side === 'out' ? stubLen : -stubLen - 200), top: Number(menuAt.split(',')[1]) + boxH / 2 + 2 }}
          onPointerDown={(e) => e.stopPropagation()}
        >
          {menu.targets.map((id) => (
            <button key={id} type="button" role="menuitem" data-id={id} onClick={() => { setOpen(null); jumpTo(id) }}>
              {where(id)}
            </button>
          ))}
        </div>
      )}
    </ViewportPortal>
  )
}
