// Subflows in the editor, as Node-RED has them: a definition opens on a tab
// of its own (subflow styling, with its input, output and status port
// nodes to wire), a toolbar there sets its inputs, outputs and status
// output and edits its properties (name, category, colour, env, info) or
// deletes it (asking first when it has instances); "Selection to Subflow"
// turns the selected nodes into a definition and an instance. The
// document side is in subflowdoc.ts.
import { Handle, Position, type Edge, type Node, type NodeProps } from '@xyflow/react'
import { memo, useEffect, useState, useSyncExternalStore } from 'react'
import { isTab } from './flowjson'
import {
  commit, getState, notify, setTab, sizeOfNode, useEditor,
} from './store'
import {
  deleteSubflow, envList, isInstanceOf, isSubflowDef, newSubflow, portEdges, portNodes, selectionToSubflow, setInputs,
  setOutputs, setStatus, type EnvEntry, type PortNode,
} from './subflowdoc'
import './subflow.css'
import type { FlowObj } from './types'

// ---- which definitions have a tab open ----

let open: string[] = []
const openListeners = new Set<() => void>()
function setOpen(ids: string[]) {
  open = ids
  openListeners.forEach((l) => l())
}
function useOpen() {
  return useSyncExternalStore(
    (l) => {
      openListeners.add(l)
      return () => openListeners.delete(l)
    },
    () => open,
  )
}

/** Opens a subflow definition on its own tab and shows it. */
export function openSubflow(id: string) {
  if (!isSubflowDef(getState().items.find((o) => o.id === id))) return
  if (!open.includes(id)) setOpen([...open, id])
  setTab(id)
}

/** Closes a subflow's tab; the first flow is shown when it was the current one. */
export function closeSubflow(id: string) {
  setOpen(open.filter((x) => x !== id))
  const s = getState()
  if (s.tab === id) setTab(s.items.find(isTab)?.id ?? '')
}

/** The definition shown on the current tab, if the current tab is a subflow's. */
export function currentSubflow(s = getState()): FlowObj | undefined {
  const o = s.items.find((x) => x.id === s.tab)
  return isSubflowDef(o) ? o : undefined
}

/** The tabs of open subflow definitions, after the flows' tabs. */
export function SubflowTabs() {
  const ids = useOpen()
  const tab = useEditor((s) => s.tab)
  const items = useEditor((s) => s.items)
  // A definition shown by other means (undo, a link) gets its tab too.
  useEffect(() => {
    const def = items.find((o) => o.id === tab)
    if (isSubflowDef(def) && !open.includes(tab)) setOpen([...open, tab])
    const gone = open.filter((id) => !items.some((o) => o.id === id && isSubflowDef(o)))
    if (gone.length) setOpen(open.filter((id) => !gone.includes(id)))
  }, [items, tab])
  const defs = ids.map((id) => items.find((o) => o.id === id)).filter(isSubflowDef)
  return (
    <>
      {defs.map((d) => (
        <div
          key={d.id}
          role="tab"
          aria-selected={d.id === tab}
          className={'rn-tab rn-subflow-tab' + (d.id === tab ? ' active' : '')}
          onClick={() => setTab(d.id)}
          onDoubleClick={() => editSubflowProps(d.id)}
          title="Subflow: double-click to edit its properties"
          data-tab={d.id}
          data-subflow-tab={d.id}
        >
          <svg className="rn-subflow-tab-icon" width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
            <rect x="0.5" y="3.5" width="4" height="5" rx="1" fill="none" stroke="currentColor" />
            <rect x="7.5" y="3.5" width="4" height="5" rx="1" fill="none" stroke="currentColor" />
            <path d="M4.5 6h3" stroke="currentColor" />
          </svg>
          {String(d.name || d.id)}
          <button
            className="rn-subflow-tab-close"
            aria-label="Close subflow tab"
            onClick={(e) => {
              e.stopPropagation()
              closeSubflow(d.id)
            }}
          >
            ×
          </button>
        </div>
      ))}
    </>
  )
}

// ---- the toolbar on a subflow's tab ----

/** Deletes a definition with its instances, asking first when it has any (as Node-RED does). */
export function deleteSubflowAction(id: string) {
  const s = getState()
  const def = s.items.find((o) => o.id === id)
  if (!isSubflowDef(def)) return
  const n = s.items.filter((o) => isInstanceOf(o, id)).length
  if (n && !window.confirm(`Delete subflow "${def.name || id}" and its ${n} instance${n > 1 ? 's' : ''}?`)) return
  setOpen(open.filter((x) => x !== id))
  const first = s.items.find(isTab)?.id ?? s.tab
  commit(deleteSubflow(s.items, id), { tab: s.tab === id || s.items.find((o) => o.id === s.tab)?.z === id ? first : s.tab, selected: new Set(), selectedEdges: new Set() })
}

export function SubflowBar() {
  const def = useEditor((s) => currentSubflow(s))
  const instances = useEditor((s) => (def ? s.items.filter((o) => isInstanceOf(o, def.id)).length : 0))
  if (!def) return null
  const ins = Array.isArray(def.in) ? def.in.length : 0
  const outs = Array.isArray(def.out) ? def.out.length : 0
  const status = !!def.status
  const edit = (f: (items: FlowObj[]) => FlowObj[]) => commit(f(getState().items))
  return (
    <div className="rn-subflow-bar" data-testid="subflow-bar">
      <button onClick={() => editSubflowProps(def.id)} data-testid="subflow-edit">✎ edit properties</button>
      <span className="rn-subflow-bar-group" role="group" aria-label="inputs">
        inputs:
        {[0, 1].map((n) => (
          <button key={n} className={ins === n ? 'on' : ''} aria-pressed={ins === n} onClick={() => edit((it) => setInputs(it, def.id, n as 0 | 1))} data-testid={'subflow-inputs-' + n}>
            {n}
          </button>
        ))}
      </span>
      <span className="rn-subflow-bar-group" role="group" aria-label="outputs">
        outputs:
        <button onClick={() => edit((it) => setOutputs(it, def.id, outs - 1))} disabled={!outs} aria-label="Remove an output" data-testid="subflow-outputs-minus">−</button>
        <span className="rn-subflow-count" data-testid="subflow-outputs">{outs}</span>
        <button onClick={() => edit((it) => setOutputs(it, def.id, outs + 1))} aria-label="Add an output" data-testid="subflow-outputs-plus">+</button>
      </span>
      <label className="rn-subflow-bar-group">
        <input type="checkbox" checked={status} onChange={(e) => edit((it) => setStatus(it, def.id, e.target.checked))} data-testid="subflow-status" />
        status node
      </label>
      <span className="rn-spacer" />
      <span className="rn-subflow-instances">{instances} instance{instances === 1 ? '' : 's'}</span>
      <button className="danger" onClick={() => deleteSubflowAction(def.id)} data-testid="subflow-delete">delete subflow</button>
    </div>
  )
}

// ---- port nodes on the canvas ----

export interface PortData extends Record<string, unknown> {
  port: PortNode
  label: string
}
export type PortRFNode = Node<PortData, 'sfport'>

const portW = 40
const portH = 40

function PortView({ data, selected }: NodeProps<PortRFNode>) {
  const { port, label } = data
  return (
    <div className={'rn-subflow-port ' + port.kind + (selected ? ' selected' : '')} data-port={port.kind} data-index={port.index} style={{ width: portW, height: portH }}>
      <span>{label}</span>
      {port.kind === 'in' ? (
        <Handle type="source" position={Position.Right} id="o0" className="rn-port" style={{ top: portH / 2 }} />
      ) : (
        <Handle type="target" position={Position.Left} id="i" className="rn-port" style={{ top: portH / 2 }} />
      )}
    </div>
  )
}
export const SubflowPort = memo(PortView)

/** The React Flow nodes of the current subflow's ports (none on a flow's tab). */
export function portRFNodes(items: FlowObj[], tab: string, selected: Set<string>, drag: Map<string, { x: number; y: number }>): PortRFNode[] {
  const def = items.find((o) => o.id === tab)
  if (!isSubflowDef(def)) return []
  return portNodes(def).map((p) => {
    const at = drag.get(p.id) ?? { x: p.x, y: p.y }
    const handles = p.kind === 'in'
      ? [{ id: 'o0', type: 'source' as const, position: Position.Right, x: portW - 5, y: portH / 2 - 5, width: 10, height: 10 }]
      : [{ id: 'i', type: 'target' as const, position: Position.Left, x: -5, y: portH / 2 - 5, width: 10, height: 10 }]
    return {
      id: p.id,
      type: 'sfport',
      position: at,
      data: { port: p, label: p.kind === 'in' ? 'input' : p.kind === 'status' ? 'status' : String(p.index + 1) },
      selected: selected.has(p.id),
      width: portW,
      height: portH,
      measured: { width: portW, height: portH },
      handles,
    }
  })
}

/** The wires of the current subflow's ports, with ids as the canvas gives wires (source:port:target). */
export function portRFEdges(items: FlowObj[], tab: string, selectedEdges: Set<string>): Edge[] {
  const def = items.find((o) => o.id === tab)
  if (!isSubflowDef(def)) return []
  const onTab = new Set(items.filter((o) => o.z === tab).map((o) => o.id))
  return portEdges(def)
    .filter((e) => (onTab.has(e.source) || e.source.includes('~')) && (onTab.has(e.target) || e.target.includes('~')))
    .map((e) => {
      const id = `${e.source}:${e.port}:${e.target}`
      return { id, source: e.source, sourceHandle: 'o' + e.port, target: e.target, targetHandle: 'i', selected: selectedEdges.has(id) }
    })
}

// ---- Selection to Subflow ----

export function selectionToSubflowAction() {
  const s = getState()
  if (currentSubflow(s)) {
    // Node-RED makes subflows of a flow's nodes; nesting is done with instances.
    notify('error', 'Select nodes on a flow to convert them to a subflow')
    return
  }
  const r = selectionToSubflow(s.items, s.tab, s.selected, sizeOfNode)
  if (r.error) {
    notify('error', r.error)
    return
  }
  if (!r.instance) return
  commit(r.items, { selected: new Set([r.instance.id]), selectedEdges: new Set() })
}

/** Node-RED's "Create Subflow": a new empty definition, opened on its tab. */
export function createSubflowAction() {
  const s = getState()
  const def = newSubflow(s.items)
  commit([...s.items, def])
  openSubflow(def.id)
}

// ---- the definition's properties ----

let editing: string | null = null
const editListeners = new Set<() => void>()
export function editSubflowProps(id: string | null) {
  editing = id
  editListeners.forEach((l) => l())
}
function useEditing() {
  return useSyncExternalStore(
    (l) => {
      editListeners.add(l)
      return () => editListeners.delete(l)
    },
    () => editing,
  )
}

/** The env types a definition's property can have, as Node-RED's subflow editor offers them. */
export const envTypes = ['str', 'num', 'bool', 'json', 'bin', 'env', 'jsonata', 'cred'] as const

/** The widgets Node-RED's subflow editor offers an instance's property ("ui" type). */
const uiTypes: [string, string][] = [['input', 'input'], ['checkbox', 'checkbox'], ['spinner', 'spinner'], ['select', 'select'], ['none', 'label only'], ['hide', 'hidden']]

/** e's ui with a label and/or widget set, as Node-RED writes it; undefined when nothing is left. */
function withUi(e: EnvEntry, p: { label?: string; type?: string }): EnvEntry['ui'] {
  const ui = { ...(e.ui ?? {}) }
  if (p.label !== undefined) {
    const label = { ...(ui.label ?? {}) }
    if (p.label) label['en-US'] = p.label
    else delete label['en-US']
    if (Object.keys(label).length) ui.label = label
    else delete ui.label
  }
  if (p.type !== undefined) {
    if (p.type === 'input' && !ui.opts) delete ui.type
    else ui.type = p.type
  }
  return Object.keys(ui).length ? ui : undefined
}

function envValueText(e: EnvEntry): string {
  if (e.value === undefined || e.value === null) return ''
  return typeof e.value === 'string' ? e.value : JSON.stringify(e.value)
}

/** The subflow's edit dialog: name, category, colour, its env properties (name, type, default), description. */
export function SubflowPropsDialog() {
  const id = useEditing()
  const def = useEditor((s) => (id ? s.items.find((o) => o.id === id) : undefined))
  const [draft, setDraft] = useState<FlowObj | null>(null)
  useEffect(() => {
    setDraft(def && isSubflowDef(def) ? { ...def, env: envList(def).map((e) => ({ ...e })) } : null)
    // Only when another definition opens: edits elsewhere do not reset the form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id])
  if (!id || !draft) return null
  const env = envList(draft)
  const setEnv = (list: EnvEntry[]) => setDraft({ ...draft, env: list })
  const names = env.map((e) => e.name)
  const dup = names.find((n, i) => n && names.indexOf(n) !== i)
  const bad = env.find((e) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name))
  const done = () => {
    const s = getState()
    const cur = s.items.find((o) => o.id === id)
    if (cur) commit(s.items.map((o) => (o.id === id ? draft : o)))
    editSubflowProps(null)
  }
  return (
    <div className="rn-modal-back" onMouseDown={(e) => e.target === e.currentTarget && editSubflowProps(null)}>
      <div className="rn-modal wide" role="dialog" aria-label="Edit subflow" aria-modal="true" data-testid="subflow-props">
        <div className="rn-modal-head">Edit subflow: {String(draft.name || draft.id)}</div>
        <div className="rn-modal-body rn-subflow-props">
          <div className="rn-row">
            <label htmlFor="subflow-name">Name</label>
            <input id="subflow-name" type="text" value={String(draft.name ?? '')} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
          </div>
          <div className="rn-row">
            <label htmlFor="subflow-category">Category</label>
            <input id="subflow-category" type="text" placeholder="subflows" value={String(draft.category ?? '')} onChange={(e) => setDraft({ ...draft, category: e.target.value })} />
          </div>
          <div className="rn-row">
            <label htmlFor="subflow-color">Colour</label>
            <input id="subflow-color" type="color" value={String(draft.color ?? '#DDAA99').toLowerCase()} onChange={(e) => setDraft({ ...draft, color: e.target.value.toUpperCase() })} />
          </div>
          <div className="rn-row">
            <label>Properties</label>
            <table className="rn-subflow-env" data-testid="subflow-env-defs">
              <thead>
                <tr>
                  <th>name</th>
                  <th>type</th>
                  <th>default value</th>
                  <th>label</th>
                  <th>in the form</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {env.map((e, i) => {
                  const put = (p: Partial<EnvEntry>) =>
                    setEnv(env.map((x, j) => {
                      if (j !== i) return x
                      const n = { ...x, ...p }
                      if ('ui' in p && p.ui === undefined) delete n.ui
                      return n
                    }))
                  return (
                    <tr key={i} data-env={i}>
                      <td>
                        <input type="text" aria-label="Property name" value={e.name} onChange={(ev) => put({ name: ev.target.value })} />
                      </td>
                      <td>
                        <select aria-label="Property type" value={e.type} onChange={(ev) => put({ type: ev.target.value, value: ev.target.value === 'bool' ? 'false' : ev.target.value === 'cred' ? undefined : '' })}>
                          {envTypes.map((t) => (
                            <option key={t} value={t}>{t}</option>
                          ))}
                          {!envTypes.includes(e.type as (typeof envTypes)[number]) && <option value={e.type}>{e.type}</option>}
                        </select>
                      </td>
                      <td>
                        {e.type === 'cred' ? (
                          <span className="rn-help">set on each instance</span>
                        ) : e.type === 'bool' ? (
                          <select aria-label="Default value" value={envValueText(e)} onChange={(ev) => put({ value: ev.target.value })}>
                            <option value="true">true</option>
                            <option value="false">false</option>
                          </select>
                        ) : (
                          <input type="text" aria-label="Default value" value={envValueText(e)} onChange={(ev) => put({ value: ev.target.value })} />
                        )}
                      </td>
                      <td>
                        <input type="text" aria-label="Label" placeholder={e.name} value={e.ui?.label?.['en-US'] ?? ''} onChange={(ev) => put({ ui: withUi(e, { label: ev.target.value }) })} />
                      </td>
                      <td>
                        <select aria-label="Form widget" value={e.ui?.type ?? 'input'} onChange={(ev) => put({ ui: withUi(e, { type: ev.target.value }) })}>
                          {uiTypes.map(([v, l]) => (
                            <option key={v} value={v}>{l}</option>
                          ))}
                          {e.ui?.type && !uiTypes.some(([v]) => v === e.ui?.type) && <option value={e.ui.type}>{e.ui.type}</option>}
                        </select>
                      </td>
                      <td>
                        <button aria-label="Remove property" onClick={() => setEnv(env.filter((_, j) => j !== i))}>×</button>
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
            <button onClick={() => setEnv([...env, { name: '', type: 'str', value: '' }])} data-testid="subflow-env-add">+ add property</button>
            {dup ? <div className="rn-field-error">Property "{dup}" is defined twice</div> : null}
            {bad ? <div className="rn-field-error">"{bad.name}" is not a valid property name (letters, digits and _, not starting with a digit)</div> : null}
          </div>
          <div className="rn-row">
            <label htmlFor="subflow-info">Description</label>
            <textarea id="subflow-info" rows={4} value={String(draft.info ?? '')} onChange={(e) => setDraft({ ...draft, info: e.target.value })} />
          </div>
        </div>
        <div className="rn-modal-foot">
          <button onClick={() => editSubflowProps(null)}>Cancel</button>
          <button className="primary" onClick={done} disabled={!!dup || !!bad} data-testid="subflow-props-done">Done</button>
        </div>
      </div>
    </div>
  )
}
