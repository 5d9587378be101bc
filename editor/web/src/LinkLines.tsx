// Node-RED's dashed lines between a link out (or link call) and the link in
// nodes it reaches on the same tab. Drawn over the canvas in flow
// coordinates; not wires: they cannot be selected or deleted (the links
// are edited in the nodes' forms, LinkPicker.tsx).
import { ViewportPortal, useStore, type ReactFlowState } from '@xyflow/react'
import { useCallback, useMemo } from 'react'
import { linkPairs } from './links'
import { useEditor } from './store'

export function LinkLines() {
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const pairs = useMemo(() => linkPairs(items, tab), [items, tab])
  // The ends' boxes as one string, so that the lines redraw only when one moves.
  const boxes = useStore(
    useCallback(
      (s: ReactFlowState) => {
        if (!pairs.length) return ''
        const box = (id: string) => {
          const n = s.nodeLookup.get(id)
          const w = n?.measured.width, h = n?.measured.height
          if (!n || !w || !h) return null
          return [n.internals.positionAbsolute.x, n.internals.positionAbsolute.y, w, h]
        }
        return pairs.map(([a, b]) => {
          const p = box(a), q = box(b)
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
