// Groups on the canvas, as Node-RED draws them: a rounded box with its
// border and fill, the name at one of six places, nested groups inside
// their parent; the actions Group selection (Ctrl+Shift+G) and Ungroup
// (Ctrl+Shift+U); and the group's edit tray (name, style, env).
import { Panel, type Node, type NodeProps } from '@xyflow/react'
import { memo, useEffect } from 'react'
import './groups.css'
import { defaultGroupStyle, groupSelection, isGroup, styleOf, ungroup, type GroupLayout, type GroupStyle } from './groups'
import {
  closeTray, deleteFromTray, getState, notify, setDraft, sizeOfNode, commit, useEditor, type TrayEntry,
} from './store'
import { FieldInput } from './Tray'
import type { Field, FlowObj } from './types'

export interface GroupData extends Record<string, unknown> {
  obj: FlowObj
  layout: GroupLayout
}

export type GroupRFNode = Node<GroupData, 'rngroup'>

/** The React Flow nodes of the groups of a tab: outer groups first, all below the nodes and wires. */
export function groupNodes(items: FlowObj[], layout: Map<string, GroupLayout>, selected: Set<string>): GroupRFNode[] {
  const out: GroupRFNode[] = []
  const byId = new Map<string, FlowObj>()
  for (const o of items) if (isGroup(o) && layout.has(o.id) && !byId.has(o.id)) byId.set(o.id, o)
  for (const [id, l] of layout) {
    const o = byId.get(id)
    if (!o) continue
    out.push({
      id,
      type: 'rngroup',
      position: { x: l.x, y: l.y },
      origin: [0, 0],
      data: { obj: o, layout: l },
      selected: selected.has(id),
      selectable: false,
      draggable: true,
      connectable: false,
      width: l.w,
      height: l.h,
      measured: { width: l.w, height: l.h },
      zIndex: -1000 + Math.min(l.depth, 900),
      className: 'rn-group-node',
    })
  }
  out.sort((a, b) => a.data.layout.depth - b.data.layout.depth)
  return out
}

const str = (v: unknown, d: string) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : d)

function GroupBoxView({ id, data, selected }: NodeProps<GroupRFNode>) {
  const { obj, layout } = data
  const { w, h, labels } = layout
  const style = styleOf(obj)
  const pos = str(style['label-position'], 'nw')
  const lx = pos[1] === 'w' ? 5 : pos[1] === 'e' ? w - 5 : w / 2
  const ly = pos[0] === 'n' ? 15 : h - 5 - (labels.length - 1) * 16
  const anchor = pos[1] === 'w' ? 'start' : pos[1] === 'e' ? 'end' : 'middle'
  return (
    <svg
      className={'rn-group' + (selected ? ' selected' : '')}
      width={w}
      height={h}
      data-id={id}
      data-box={`${layout.x},${layout.y},${w},${h}`}
      data-testid="group"
    >
      <rect className="rn-group-select" x={-3} y={-3} width={w + 6} height={h + 6} rx={6} ry={6} />
      <rect
        className="rn-group-body"
        x={0}
        y={0}
        width={w}
        height={h}
        rx={4}
        ry={4}
        style={{
          stroke: str(style.stroke, defaultGroupStyle.stroke),
          strokeOpacity: str(style['stroke-opacity'], '1'),
          fill: str(style.fill, defaultGroupStyle.fill),
          fillOpacity: str(style['fill-opacity'], '1'),
        }}
      />
      <rect className="rn-group-outline" x={0} y={0} width={w} height={h} rx={0.5} ry={0.5} />
      {style.label && labels.length ? (
        <text className="rn-group-label" transform={`translate(${lx},${ly})`} textAnchor={anchor} style={{ fill: str(style.color, defaultGroupStyle.color) }} data-testid="group-label">
          {labels.map((l, i) => (
            <tspan key={i} x={0} y={i * 16}>
              {l}
            </tspan>
          ))}
        </text>
      ) : null}
    </svg>
  )
}

export const GroupBox = memo(GroupBoxView)

// ---- actions ----

/** Node-RED's "Group selection": the selected nodes (and groups) of the tab in a new group, which is then selected. */
export function groupSelectionAction() {
  const s = getState()
  if (s.dialog || s.trays.length || !s.selected.size) return
  const r = groupSelection(s.items, s.tab, s.selected, sizeOfNode)
  if (r.error) {
    notify('error', r.error, undefined, 5000)
    return
  }
  if (!r.id) return
  commit(r.items, { selected: new Set([r.id]), selectedEdges: new Set() })
}

/** Node-RED's "Ungroup": the selected groups go, their members stay (in the group around, if any) and are selected. */
export function ungroupAction() {
  const s = getState()
  if (s.dialog || s.trays.length) return
  const ids = new Set(s.items.filter((o) => isGroup(o) && s.selected.has(o.id)).map((o) => o.id))
  if (!ids.size) return
  const r = ungroup(s.items, ids, sizeOfNode)
  commit(r.items, { selected: new Set(r.members), selectedEdges: new Set() })
}

const isEditable = (t: EventTarget | null) => {
  const el = t as HTMLElement | null
  return !!el?.tagName && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))
}

/** Ctrl+Shift+G groups the selection, Ctrl+Shift+U ungroups (Node-RED's keys). */
export function useGroupKeys() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || !e.shiftKey || e.altKey || isEditable(e.target)) return
      const k = e.key.toLowerCase()
      if (k === 'g') {
        e.preventDefault()
        groupSelectionAction()
      } else if (k === 'u') {
        e.preventDefault()
        ungroupAction()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}

/** The canvas's group buttons. */
export function GroupToolbar() {
  const selected = useEditor((s) => s.selected)
  const items = useEditor((s) => s.items)
  const anyGroup = items.some((o) => isGroup(o) && selected.has(o.id))
  return (
    <Panel position="top-left" className="rn-group-toolbar">
      <button type="button" disabled={!selected.size} onClick={groupSelectionAction} title="Group selection (Ctrl+Shift+G)" data-testid="group-selection">
        Group
      </button>
      <button type="button" disabled={!anyGroup} onClick={ungroupAction} title="Ungroup (Ctrl+Shift+U)" data-testid="ungroup">
        Ungroup
      </button>
    </Panel>
  )
}

// ---- the edit tray ----

/** The env types Runnel's runtime evaluates for a group (see engine/envsubst.go). */
const envTypes = ['str', 'num', 'bool', 'json', 'env']

const envField: Field = {
  name: 'env',
  label: 'Environment variables',
  kind: 'list',
  item: [
    { name: 'name', label: 'Name', kind: 'string' },
    { name: 'value', label: 'Value', kind: 'typed', types: envTypes, typeProp: 'type' },
  ],
}

const positions: [string, string][] = [
  ['nw', 'top left'], ['n', 'top centre'], ['ne', 'top right'],
  ['sw', 'bottom left'], ['s', 'bottom centre'], ['se', 'bottom right'],
]

/** A colour as an <input type=color> takes it (#rrggbb), or black. */
function hex6(c: string): string {
  if (/^#[0-9a-f]{6}$/i.test(c)) return c.toLowerCase()
  const m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c)
  return m ? `#${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`.toLowerCase() : '#000000'
}

interface StyleValues {
  stroke: string
  fill: string
  'stroke-opacity': string
  'fill-opacity': string
  label: boolean
  'label-position': string
  color: string
}

/** The style controls' values: the group's style, Node-RED's defaults where it has none. */
function styleValues(s: GroupStyle): StyleValues {
  return {
    stroke: str(s.stroke, defaultGroupStyle.stroke),
    fill: str(s.fill, defaultGroupStyle.fill),
    'stroke-opacity': str(s['stroke-opacity'], defaultGroupStyle['stroke-opacity']),
    'fill-opacity': str(s['fill-opacity'], defaultGroupStyle['fill-opacity']),
    label: !!s.label,
    'label-position': str(s['label-position'], defaultGroupStyle['label-position']),
    color: str(s.color, defaultGroupStyle.color),
  }
}

/**
 * The style Node-RED's group tray saves (group.js oneditsave): every
 * control's value, the label's colour and position only with the label
 * shown, then the values equal to the defaults left out.
 */
export function savedStyle(old: GroupStyle, v: StyleValues): GroupStyle {
  const s: Record<string, unknown> = { ...old }
  s.stroke = v.stroke
  s.fill = v.fill
  s['stroke-opacity'] = v['stroke-opacity']
  s['fill-opacity'] = v['fill-opacity']
  s.label = v.label
  if (v.label) {
    s['label-position'] = v['label-position']
    s.color = v.color
  } else {
    delete s['label-position']
    delete s.color
  }
  for (const k of ['stroke', 'fill', 'stroke-opacity', 'fill-opacity', 'color', 'label-position'] as const) {
    if (s[k] === defaultGroupStyle[k]) delete s[k]
  }
  return s as GroupStyle
}

function ColourInput({ id, label, value, set }: { id: string; label: string; value: string; set: (v: string) => void }) {
  return (
    <span className="rn-group-colour">
      <input type="color" aria-label={label + ' colour picker'} value={hex6(value)} onChange={(e) => set(e.target.value)} />
      <input id={id} type="text" value={value} onChange={(e) => set(e.target.value)} spellCheck={false} />
    </span>
  )
}

function OpacityInput({ id, label, value, set }: { id: string; label: string; value: string; set: (v: string) => void }) {
  return <input id={id} className="rn-group-opacity" type="number" min={0} max={1} step={0.1} aria-label={label} title={label} value={value} onChange={(e) => set(e.target.value)} />
}

/** The group with its env, where Node-RED writes it (after nodes); none for a group without variables, as Node-RED writes it. */
function withEnv(g: FlowObj, env: unknown): FlowObj {
  if (!Array.isArray(env) || env.length === 0) {
    const { env: _, ...rest } = g
    return rest as FlowObj
  }
  if ('env' in g) return { ...g, env }
  const n: FlowObj = { id: g.id, type: g.type }
  for (const [k, v] of Object.entries(g)) {
    if (k === 'x' && !('env' in n)) n.env = env
    n[k] = v
  }
  if (!('env' in n)) n.env = env
  return n
}

export function GroupTray({ top, draft }: { top: TrayEntry; draft: FlowObj }) {
  const problemMap = useEditor((s) => s.problemMap)
  const liveProblems = useEditor((s) => s.liveProblems)
  const problems = liveProblems.get(draft.id) ?? problemMap.get(draft.id) ?? []
  const style = styleOf(draft)
  const v = styleValues(style)
  const setStyle = (patch: Partial<StyleValues>) => setDraft({ ...draft, style: savedStyle(style, { ...v, ...patch }) })
  const name = typeof draft.name === 'string' ? draft.name : ''
  const title = `Edit group: ${name || draft.id}`
  return (
    <div className="rn-tray" role="dialog" aria-label={title} data-testid="tray" data-node={draft.id}>
      <div className="rn-tray-head">
        <span className="rn-tray-title">{title}</span>
        <span className="rn-spacer" />
        <button className="danger" onClick={deleteFromTray} title="Delete the group and its nodes">
          Delete
        </button>
        <button onClick={() => closeTray(false)}>Cancel</button>
        <button className="primary" onClick={() => closeTray(true)}>
          {top.isNew ? 'Add' : 'Done'}
        </button>
      </div>
      <div
        className="rn-tray-body"
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault()
            closeTray(true)
          }
        }}
      >
        {problems.length > 0 && (
          <div className="rn-tray-problems" role="alert">
            {problems.map((p, i) => (
              <div key={i}>{(p.field ? p.field + ': ' : '') + p.error}</div>
            ))}
          </div>
        )}
        <div className="rn-row">
          <label htmlFor="node-input-name">Name</label>
          <input id="node-input-name" name="name" type="text" autoFocus value={name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        </div>
        <div className="rn-row" data-field="style-stroke">
          <label htmlFor="node-input-style-stroke">Line</label>
          <span className="rn-group-style-row">
            <ColourInput id="node-input-style-stroke" label="Line" value={v.stroke} set={(x) => setStyle({ stroke: x })} />
            <OpacityInput id="node-input-style-stroke-opacity" label="Line opacity" value={v['stroke-opacity']} set={(x) => setStyle({ 'stroke-opacity': x })} />
          </span>
        </div>
        <div className="rn-row" data-field="style-fill">
          <label htmlFor="node-input-style-fill">Fill</label>
          <span className="rn-group-style-row">
            <ColourInput id="node-input-style-fill" label="Fill" value={v.fill} set={(x) => setStyle({ fill: x })} />
            <OpacityInput id="node-input-style-fill-opacity" label="Fill opacity" value={v['fill-opacity']} set={(x) => setStyle({ 'fill-opacity': x })} />
          </span>
          <div className="rn-help">A colour such as #ffcf3f, or none.</div>
        </div>
        <div className="rn-row check" data-field="style-label">
          <label htmlFor="node-input-style-label">Show label</label>
          <input id="node-input-style-label" type="checkbox" checked={v.label} onChange={(e) => setStyle({ label: e.target.checked })} />
        </div>
        {v.label && (
          <>
            <div className="rn-row" data-field="style-color">
              <label htmlFor="node-input-style-color">Label colour</label>
              <ColourInput id="node-input-style-color" label="Label" value={v.color} set={(x) => setStyle({ color: x })} />
            </div>
            <div className="rn-row" data-field="style-label-position">
              <label htmlFor="node-input-style-label-position">Label position</label>
              <select id="node-input-style-label-position" value={v['label-position']} onChange={(e) => setStyle({ 'label-position': e.target.value })}>
                {!positions.some(([p]) => p === v['label-position']) && <option value={v['label-position']}>{v['label-position']}</option>}
                {positions.map(([p, l]) => (
                  <option key={p} value={p}>
                    {l}
                  </option>
                ))}
              </select>
            </div>
          </>
        )}
        <div className="rn-row" data-field="env">
          <label htmlFor="node-input-env">Environment variables</label>
          <FieldInput
            f={envField}
            obj={draft}
            id="node-input-env"
            ownerId={draft.id}
            set={(patch) => {
              setDraft(withEnv(draft, patch.env))
            }}
          />
          <div className="rn-help">
            Reach the nodes inside the group (and groups inside it): env.get("NAME") in a function, $env("NAME") in JSONata, $&#123;NAME&#125; in a property. NR_GROUP_NAME and NR_GROUP_ID are set too.
          </div>
        </div>
        <details className="rn-tray-info">
          <summary>group · id {draft.id}</summary>
          <p>Members: {Array.isArray(draft.nodes) ? draft.nodes.length : 0}</p>
        </details>
      </div>
    </div>
  )
}
