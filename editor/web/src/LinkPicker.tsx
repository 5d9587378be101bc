// The links of link out, link in and link call nodes, as Node-RED's form
// has them: every node they may link to, grouped by flow, by name (or id),
// each with a checkbox (a radio for link call, which calls one). The other
// side is kept in step when the tray is done (links.ts, store.updateObj).
import { useEditor } from './store'
import { linkCandidates, linkIds } from './links'
import type { FlowObj } from './types'
import './links.css'
import type { WidgetProps } from './widgets'

export function LinkPicker({ f, obj, set, id, invalid }: WidgetProps) {
  const items = useEditor((s) => s.items)
  const single = obj.type === 'link call'
  const chosen = linkIds(obj as FlowObj)
  const candidates = linkCandidates(items, obj)
  const known = new Set(candidates.map((o) => o.id))
  // Grouped by flow, flows in the document's order.
  const groups: { z: string; label: string; nodes: FlowObj[] }[] = []
  for (const o of candidates) {
    const z = String(o.z)
    let g = groups.find((x) => x.z === z)
    if (!g) {
      const t = items.find((x) => x.id === z)
      groups.push((g = { z, label: String(t?.label || t?.name || z), nodes: [] }))
    }
    g.nodes.push(o)
  }
  const toggle = (target: string, on: boolean) => {
    const next = single ? (on ? [target] : []) : on ? [...chosen.filter((x) => x !== target), target] : chosen.filter((x) => x !== target)
    set({ [f.name]: next })
  }
  const missing = chosen.filter((x) => !known.has(x))
  const what = f.nodeType ?? 'link'
  return (
    <div className={'rn-links' + (invalid ? ' invalid' : '')} id={id} role="group" aria-label={f.label ?? f.name} data-testid="link-picker">
      {groups.map((g) => (
        <fieldset key={g.z} className="rn-links-flow" data-flow={g.z}>
          <legend>{g.label}</legend>
          {g.nodes.map((o) => (
            <label key={o.id} className="rn-links-node" data-id={o.id}>
              <input type={single ? 'radio' : 'checkbox'} name={id + '-links'} checked={chosen.includes(o.id)} onChange={(e) => toggle(o.id, e.target.checked)} />{' '}
              {o.name ? String(o.name) : <span className="mono">{o.id}</span>}
            </label>
          ))}
        </fieldset>
      ))}
      {missing.map((x) => (
        <label key={x} className="rn-links-node missing" data-id={x} title={`No ${what} node has this id`}>
          <input type="checkbox" checked onChange={() => toggle(x, false)} /> missing <span className="mono">{x}</span>
        </label>
      ))}
      {!groups.length && !missing.length && <div className="rn-help">No {what} nodes yet.</div>}
    </div>
  )
}
