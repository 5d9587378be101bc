// The editor's state: the flow document being edited, the deployed one, the
// selection, undo and redo, trays and dialogs. One small external store;
// components read slices of it with useEditor(selector).
import { useSyncExternalStore } from 'react'
import * as api from './api'
import { canDeploy } from './auth'
import { remoteDeploy, type DeployBy } from './remote'
import { postRollback, revisionsChanged } from './revisions'
import { sessionId } from './session'
import { savedTab } from './tabmemory'
import {
  deepEqual, exportSet, importObjs, isConfigNode, isFlowNode, isTab, makeNames, merge, newId, parseFlowText,
  type ExportScope, type ImportMode, type Names,
} from './flowjson'
import { memberMoves, sizer, syncGroups, withContents } from './groups'
import { nextDebugName } from './debugnames'
import { enabledUnknown } from './missingTypes'
import { dropLinksTo, syncLinks } from './links'
import { changedSubflows, connectPort, isPortId, movePorts, removeFromSubflows } from './subflowdoc'
import { initialSidebarOpen } from './layoutPrefs'
import type { DeployType, Field, FlowObj, NodeType, Problem } from './types'

export interface TrayEntry {
  /** The id of the node being edited (new config nodes get theirs up front). */
  id: string
  /** A config node created from a node's field: added on Done. */
  isNew?: boolean
  /** When set, Done stores the new config node's id in this field of the tray below. */
  parentField?: string
  /** The draft as the tray opened: the tray validates only once the user has changed it. */
  initial?: FlowObj
}

export type Dialog =
  | { kind: 'import'; text?: string }
  | { kind: 'export' }
  | { kind: 'tab'; id: string }
  | { kind: 'conflict' }
  | { kind: 'keys' }
  | { kind: 'rollback'; id: number }
  | null

export interface Notice {
  id: number
  kind: 'error' | 'info' | 'success'
  text: string
  problems?: Problem[]
  /** Buttons the notice offers; one with actions stays until one is used. */
  actions?: { label: string; run: () => void; primary?: boolean; testid?: string; title?: string }[]
  /** Notices of one tag replace each other (remote.ts's deploy notice). */
  tag?: string
}

export interface State {
  loaded: boolean
  loadError?: string
  /** The node types from GET /nodes; types and typeMap add the document's subflows to them. */
  baseTypes: NodeType[]
  types: NodeType[]
  typeMap: Map<string, NodeType>
  names: Names
  items: FlowObj[]
  deployed: FlowObj[]
  deployedMap: Map<string, FlowObj>
  rev: string
  tab: string
  selected: Set<string>
  selectedEdges: Set<string>
  undo: FlowObj[][]
  redo: FlowObj[][]
  problems: Problem[]
  problemMap: Map<string, Problem[]>
  /**
   * The problems of a tray's draft found while the user types (POST
   * /flows/validate), by node id. They name list entries by their place in
   * the draft (rules[2] is its third entry), and replace the deploy's
   * problems in the tray.
   */
  liveProblems: Map<string, Problem[]>
  trays: TrayEntry[]
  /** Drafts of the objects open in trays, by id. */
  drafts: Map<string, FlowObj>
  dialog: Dialog
  sidebar: 'info' | 'debug' | 'config' | 'history' | 'context'
  sidebarOpen: boolean
  notices: Notice[]
  deploying: boolean
  deployType: DeployType
  /** The palette type whose help the info sidebar shows (a click in the palette). */
  helpType: string | null
}

const empty = <T,>() => new Set<T>()

let state: State = {
  loaded: false,
  types: [],
  typeMap: new Map(),
  baseTypes: [],
  names: makeNames([]),
  items: [],
  deployed: [],
  deployedMap: new Map(),
  rev: '',
  tab: '',
  selected: empty(),
  selectedEdges: empty(),
  undo: [],
  redo: [],
  problems: [],
  problemMap: new Map(),
  liveProblems: new Map(),
  trays: [],
  drafts: new Map(),
  dialog: null,
  sidebar: 'debug',
  sidebarOpen: initialSidebarOpen(),
  notices: [],
  deploying: false,
  deployType: 'full',
  helpType: null,
}

const listeners = new Set<() => void>()

export function getState(): State {
  return state
}

export function setState(patch: Partial<State>) {
  state = { ...state, ...patch }
  if (patch.items || patch.baseTypes) state = { ...state, ...withSubflowTypes(state.baseTypes, state.items) }
  for (const l of listeners) l()
}

export function subscribe(l: () => void) {
  listeners.add(l)
  return () => listeners.delete(l)
}

export function useEditor<T>(sel: (s: State) => T): T {
  return useSyncExternalStore(subscribe, () => sel(state))
}

// ---- subflows as node types ----

let subflowCache: { base: NodeType[]; defs: FlowObj[]; types: NodeType[]; typeMap: Map<string, NodeType> } | undefined

/**
 * The palette's and canvas's node types: GET /nodes's, and one "subflow:ID"
 * type per subflow definition in the document, with the definition's name,
 * inputs, outputs, colour and info, in its category ("subflows" when none).
 */
export function withSubflowTypes(base: NodeType[], items: FlowObj[]): Pick<State, 'types' | 'typeMap'> {
  const defs = items.filter((o) => o.type === 'subflow')
  const c = subflowCache
  if (c && c.base === base && c.defs.length === defs.length && c.defs.every((d, i) => d === defs[i])) return c
  const sub: NodeType[] = defs.map((d) => {
    const ports = (k: string) => (Array.isArray(d[k]) ? (d[k] as unknown[]).length : 0)
    const str = (k: string) => (typeof d[k] === 'string' && d[k] ? (d[k] as string) : undefined)
    return {
      type: 'subflow:' + d.id,
      category: str('category') ?? 'subflows',
      label: str('name') ?? d.id,
      inputs: Math.min(ports('in'), 1),
      outputs: ports('out'),
      color: str('color') ?? '#DDAA99',
      help: str('info'),
      icon: str('icon') ?? 'subflow.svg',
      // The instance's env overrides: a form of the definition's properties (SubflowEnv.tsx).
      fields: [{ name: 'name', label: 'Name', kind: 'string' }, { name: 'env', label: 'Properties', kind: 'subflow-env', default: [] }],
    }
  })
  const types = [...base, ...sub]
  subflowCache = { base, defs, types, typeMap: new Map(types.map((t) => [t.type, t])) }
  return subflowCache
}

// ---- derived helpers ----

export function typeOf(t: string): NodeType | undefined {
  return state.typeMap.get(t)
}

export function fieldsOf(t: string): Field[] {
  return state.typeMap.get(t)?.fields ?? []
}

/** Whether the editor's document differs from the deployed one. */
export function isDirty(s: State = state): boolean {
  if (s.items === s.deployed) return false
  if (s.items.length !== s.deployed.length) return true
  for (let i = 0; i < s.items.length; i++) {
    if (s.items[i] !== s.deployed[i] && !deepEqual(s.items[i], s.deployed[i])) return true
  }
  return false
}

/** Whether a node differs from its deployed version (Node-RED's "changed" mark). */
export function isChanged(o: FlowObj, s: State = state): boolean {
  const d = s.deployedMap.get(o.id)
  if (d !== o && (!d || !deepEqual(d, o))) return true
  // An instance whose subflow changed is changed too, as Node-RED marks it.
  return o.type.startsWith('subflow:') && changedSubflows(s.items, s.deployedMap).has(o.type.slice(8))
}

export function tabs(s: State = state): FlowObj[] {
  return s.items.filter(isTab)
}

/** A property's value as text, as showIf and label rules compare it: "" when missing. */
export function propText(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

/** Whether each property of cond has one of its values in o (a field's showIf, a label rule's if). */
export function matches(cond: Record<string, string[]> | undefined, o: Record<string, unknown>): boolean {
  if (!cond) return true
  return Object.entries(cond).every(([k, vals]) => vals.includes(propText(o[k])))
}

/** The label Node-RED would show for a node: its name, else the first of the type's label rules that applies. */
export function nodeLabel(o: FlowObj, t?: NodeType): string {
  if (typeof o.name === 'string' && o.name) return o.name
  for (const r of t?.labels ?? []) {
    if (!matches(r.if, o)) continue
    let missing = false
    const text = r.text.replace(/\{([^}]+)\}/g, (_, k: string) => {
      const v = propText(o[k])
      if (!v) missing = true
      return v
    })
    if (!missing && text) return text
  }
  return t?.label ?? o.type
}

/** A node's number of outputs: from its outputsFrom property (a list's length, or a number) when the type has one. */
export function outputsOf(o: FlowObj, t?: NodeType): number {
  if (!t) return Math.max(o.wires?.length ?? 0, 0)
  if (t.outputsFrom) {
    const v = o[t.outputsFrom]
    if (Array.isArray(v)) return v.length
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
    if (Number.isInteger(n) && n >= 0) return n
  }
  return t.outputs
}

// ---- notices ----

let noticeSeq = 0
export function notify(kind: Notice['kind'], text: string, problems?: Problem[], ttl = kind === 'error' ? 0 : 4000) {
  const n: Notice = { id: ++noticeSeq, kind, text, problems }
  setState({ notices: [...state.notices.slice(-3), n] })
  if (ttl) setTimeout(() => dismiss(n.id), ttl)
}

export function dismiss(id: number) {
  setState({ notices: state.notices.filter((n) => n.id !== id) })
}

// ---- loading ----

function withDeployed(flows: FlowObj[], rev: string): Partial<State> {
  return { deployed: flows, deployedMap: new Map(flows.map((o) => [o.id, o])), rev }
}

export async function load() {
  try {
    const [types, flows] = await Promise.all([api.getNodes(), api.getFlows()])
    const typeMap = new Map(types.map((t) => [t.type, t]))
    const names = makeNames(types)
    let items = flows.flows.map((o) => {
      const t = names.toRunnel.get(o.type)
      return t ? { ...o, type: t } : o
    })
    const deployed = items
    let tab = savedTab(items) ?? items.find(isTab)?.id
    if (!tab) {
      tab = newId()
      items = [{ id: tab, type: 'tab', label: 'Flow 1', disabled: false, info: '' }, ...items]
    }
    setState({ loaded: true, baseTypes: types, types, typeMap, names, items, tab, ...withDeployed(deployed, flows.rev) })
  } catch (e) {
    setState({ loadError: (e as Error).message })
  }
}

// ---- edits (every one goes through commit, so every one can be undone) ----

const maxUndo = 200

/** Sizes nodes as the canvas draws them, for the boxes of groups (groups.ts). */
export const sizeOfNode = sizer((t) => state.typeMap.get(t), (o, t) => nodeLabel(o, t), (o, t) => outputsOf(o, t))

export function commit(items: FlowObj[], extra: Partial<State> = {}) {
  if (items === state.items) return
  // Groups follow their members, as Node-RED redraws them after every edit.
  items = syncGroups(items, sizeOfNode)
  setState({ items, undo: [...state.undo.slice(-maxUndo + 1), state.items], redo: [], ...extra })
}

export function undo() {
  const prev = state.undo[state.undo.length - 1]
  if (!prev) return
  const patch: Partial<State> = { items: prev, undo: state.undo.slice(0, -1), redo: [...state.redo, state.items] }
  if (!prev.some((o) => o.id === state.tab)) patch.tab = prev.find(isTab)?.id ?? state.tab
  setState(patch)
}

export function redo() {
  const next = state.redo[state.redo.length - 1]
  if (!next) return
  const patch: Partial<State> = { items: next, redo: state.redo.slice(0, -1), undo: [...state.undo, state.items] }
  if (!next.some((o) => o.id === state.tab)) patch.tab = next.find(isTab)?.id ?? state.tab
  setState(patch)
}

/** The default value of a field for a new node. */
function defaultOf(f: Field): unknown {
  if (f.default !== undefined) return f.default
  switch (f.kind) {
    case 'boolean':
      return false
    case 'select':
      return f.options?.[0] ?? ''
    case 'list':
      return []
    default:
      return ''
  }
}

/** A new object with the defaults of fields (a node's settings, or a list entry). */
export function defaultsOf(fields: Field[], o: Record<string, unknown> = {}): Record<string, unknown> {
  for (const f of fields) {
    if (f.kind === 'node' && f.nodeType) {
      // Use the first config node of that type when the field needs one.
      const first = f.required ? state.items.find((x) => x.type === f.nodeType && isConfigNode(x)) : undefined
      o[f.name] = first?.id ?? ''
      continue
    }
    o[f.name] = structuredCloneSafe(defaultOf(f))
    if (f.kind === 'typed' && f.typeProp && o[f.typeProp] === undefined) o[f.typeProp] = f.types?.[0] ?? 'str'
  }
  return o
}

/** A new node of a type with its defaults (Node-RED's defaults: name first, then the type's fields). */
export function newNode(type: string, x: number, y: number, z: string): FlowObj {
  const t = typeOf(type)
  const n = defaultsOf(t?.fields ?? [], { id: newId(), type, z, name: '' }) as FlowObj
  if (type === 'debug' && !n.name) n.name = nextDebugName(state.items)
  if (!t?.config) {
    n.x = x
    n.y = y
    n.wires = Array.from({ length: outputsOf(n, t) }, () => [])
  }
  return n
}

function structuredCloneSafe<T>(v: T): T {
  return v && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v
}

export function addNode(type: string, x: number, y: number) {
  const n = newNode(type, Math.round(x), Math.round(y), state.tab)
  commit([...state.items, n], { selected: new Set([n.id]), selectedEdges: empty() })
  return n
}

export function moveNodes(pos: Map<string, { x: number; y: number }>) {
  pos = memberMoves(state.items, pos)
  let changed = false
  // A subflow's port nodes live in its definition (subflowdoc.ts).
  const base = movePorts(state.items, pos)
  if (base !== state.items) changed = true
  const items = base.map((o) => {
    const p = pos.get(o.id)
    if (!p || (p.x === o.x && p.y === o.y)) return o
    changed = true
    return { ...o, x: Math.round(p.x), y: Math.round(p.y) }
  })
  if (changed) commit(items)
}

export function connect(source: string, port: number, target: string) {
  if (source === target) return
  if (isPortId(source) || isPortId(target)) {
    const items = connectPort(state.items, source, port, target)
    if (items) commit(items)
    return
  }
  const items = state.items.map((o) => {
    if (o.id !== source) return o
    const wires = (o.wires ?? []).map((w) => [...w])
    while (wires.length <= port) wires.push([])
    if (wires[port].includes(target)) return o
    wires[port].push(target)
    return { ...o, wires }
  })
  commit(items)
}

export const edgeId = (source: string, port: number, target: string) => `${source}:${port}:${target}`

export function parseEdgeId(id: string): { source: string; port: number; target: string } {
  const a = id.indexOf(':')
  const b = id.indexOf(':', a + 1)
  return { source: id.slice(0, a), port: Number(id.slice(a + 1, b)), target: id.slice(b + 1) }
}

/** Removes nodes (and the wires to them) and wires. */
export function remove(nodeIds: Set<string>, edgeIds: Set<string>) {
  if (!nodeIds.size && !edgeIds.size) return
  nodeIds = withContents(state.items, nodeIds)
  const cut = new Map<string, Set<string>>()
  for (const e of edgeIds) {
    const { source, port, target } = parseEdgeId(e)
    const key = source + ':' + port
    if (!cut.has(key)) cut.set(key, new Set())
    cut.get(key)!.add(target)
  }
  const items: FlowObj[] = []
  for (const o of state.items) {
    if (nodeIds.has(o.id)) continue
    if (!o.wires || !o.wires.length) {
      items.push(o)
      continue
    }
    let touched = false
    const wires = o.wires.map((w, i) => {
      const c = cut.get(o.id + ':' + i)
      const nw = w.filter((t) => !nodeIds.has(t) && !c?.has(t))
      if (nw.length !== w.length) touched = true
      return nw
    })
    items.push(touched ? { ...o, wires } : o)
  }
  // Wires and ports of subflow definitions (subflowdoc.ts).
  const portEdges = [...edgeIds].map(parseEdgeId).filter((e) => isPortId(e.source) || isPortId(e.target))
  commit(dropLinksTo(removeFromSubflows(items, nodeIds, portEdges), nodeIds), { selected: empty(), selectedEdges: empty() })
}

export function deleteSelection() {
  remove(state.selected, state.selectedEdges)
}

export function selectAll() {
  const ids = state.items.filter((o) => isFlowNode(o) && o.z === state.tab).map((o) => o.id)
  setState({ selected: new Set(ids), selectedEdges: empty() })
}

/** Replaces one object (tray Done), clearing its deploy problems. */
export function updateObj(o: FlowObj, extraItems?: FlowObj[]) {
  let found = false
  let items = state.items.map((x) => {
    if (x.id !== o.id) return x
    found = true
    return o
  })
  if (!found) items = [...items, o]
  if (extraItems?.length) items = [...items, ...extraItems]
  // A link node's other side follows its links (links.ts).
  items = syncLinks(items, state.items.find((x) => x.id === o.id), o)
  const problemMap = new Map(state.problemMap)
  problemMap.delete(o.id)
  commit(items, { problemMap })
}

// ---- tabs ----

export function addTab() {
  // Node-RED's naming: the lowest "Flow N" not taken.
  const taken = new Set(tabs().map((t) => t.label))
  let i = 1
  while (taken.has(`Flow ${i}`)) i++
  const label = `Flow ${i}`
  const t: FlowObj = { id: newId(), type: 'tab', label, disabled: false, info: '' }
  commit([...state.items, t], { tab: t.id, selected: empty(), selectedEdges: empty() })
}

export function removeTab(id: string) {
  const items = state.items.filter((o) => o.id !== id && !(o.z === id))
  const remaining = items.filter(isTab)
  if (!remaining.length) {
    const t: FlowObj = { id: newId(), type: 'tab', label: 'Flow 1', disabled: false, info: '' }
    items.unshift(t)
    remaining.push(t)
  }
  const idx = tabs().findIndex((t) => t.id === id)
  const next = remaining[Math.max(0, Math.min(idx, remaining.length - 1))].id
  commit(items, { tab: state.tab === id ? next : state.tab, selected: empty(), selectedEdges: empty() })
}

export function setTab(id: string) {
  if (id === state.tab) return
  setState({ tab: id, selected: empty(), selectedEdges: empty() })
}

// ---- clipboard, import, export ----

let clipboard = ''

export function exportText(scope: ExportScope, nodeRed: boolean, pretty: boolean): string {
  // Credentials never leave in an export, as in Node-RED.
  let objs = exportSet(state.items, scope, state.tab, withContents(state.items, state.selected)).map(withoutCredentials)
  if (nodeRed) objs = objs.map((o) => {
    const t = state.names.toNodeRed.get(o.type)
    return t ? { ...o, type: t } : o
  })
  return JSON.stringify(objs, null, pretty ? 4 : undefined)
}

export function copySelection(): string {
  if (!state.selected.size) return ''
  clipboard = exportText('selected', false, false)
  return clipboard
}

export function cutSelection(): string {
  const text = copySelection()
  if (text) remove(state.selected, empty())
  return text
}

export function internalClipboard() {
  return clipboard
}

/** Imports flow JSON text into the document: paste (copy mode) or the import dialog. */
export function importText(text: string, mode: ImportMode, opts: { at?: { x: number; y: number }; offset?: { x: number; y: number }; newTab?: FlowObj } = {}) {
  const objs = parseFlowText(text)
  const unknown = [...new Set(objs.map((o) => state.names.toRunnel.get(o.type) ?? o.type))].filter(
    (t) =>
      t !== 'tab' && t !== 'subflow' && t !== 'group' && !state.typeMap.has(t) &&
      !(t.startsWith('subflow:') && objs.some((o) => o.type === 'subflow' && o.id === t.slice(8))),
  )
  // "Import to new flow": the new tab and the import are one change (one undo).
  const into = opts.newTab ? opts.newTab.id : state.tab
  const base = opts.newTab ? [...state.items, opts.newTab] : state.items
  const r = importObjs(base, objs, { mode, tab: into, at: opts.at, offset: opts.offset, toRunnel: state.names.toRunnel })
  const tab = r.firstTab && !r.nodes.some((id) => r.items.find((o) => o.id === id)?.z === into) ? r.firstTab : into
  commit(r.items, {
    tab,
    selected: new Set(r.nodes.filter((id) => r.items.find((o) => o.id === id)?.z === tab)),
    selectedEdges: empty(),
  })
  // While nodes of unknown types would run, Unknown.tsx's notice says
  // the flows will not deploy and offers to disable them; imported
  // nodes of unknown types that are disabled already are only noted.
  if (unknown.length && !enabledUnknown(state.items, state.typeMap).length) {
    notify('info', `Imported disabled nodes of unknown types: ${unknown.join(', ')}`)
  }
  return r
}

export function duplicateSelection() {
  const text = exportText('selected', false, false)
  if (state.selected.size) importText(text, 'copy', { offset: { x: 40, y: 40 } })
}

/** o without the credentials the editor is about to send (they are the server's once deployed). */
export function withoutCredentials(o: FlowObj): FlowObj {
  if (!('credentials' in o)) return o
  const { credentials: _, ...rest } = o
  return rest as FlowObj
}

// ---- trays (the node settings panel) ----

/**
 * Where each entry of a list field being edited came from (its index when
 * the tray opened, -1 for a new one) and its key for React, by node id and
 * field: on Done the wires of a node whose outputs follow the list move with
 * their entries.
 */
export interface ListOrigin {
  origin: number[]
  keys: number[]
}
const listOrigins = new Map<string, Map<string, ListOrigin>>()
let listKey = 0

export function listOrigin(id: string, field: string, length: number): ListOrigin {
  let byField = listOrigins.get(id)
  if (!byField) listOrigins.set(id, (byField = new Map()))
  let lo = byField.get(field)
  if (!lo || lo.origin.length !== length) {
    lo = { origin: Array.from({ length }, (_, i) => i), keys: Array.from({ length }, () => ++listKey) }
    byField.set(field, lo)
  }
  return lo
}

export function setListOrigin(id: string, field: string, lo: ListOrigin) {
  listOrigin(id, field, lo.origin.length)
  listOrigins.get(id)!.set(field, lo)
}

export function newListKey() {
  return ++listKey
}

/** The wires of a node after its tray: ports follow the entries of its outputsFrom list, and match its output count. */
function rewire(draft: FlowObj, cur: FlowObj | undefined): FlowObj {
  const t = typeOf(draft.type)
  const lo = t?.outputsFrom ? listOrigins.get(draft.id)?.get(t.outputsFrom) : undefined
  if (!t?.outputsFrom || !isFlowNode(draft)) return draft
  const old = cur?.wires ?? draft.wires ?? []
  const n = outputsOf(draft, t)
  const wires = Array.from({ length: n }, (_, i) => {
    const from = lo ? lo.origin[i] : i
    return from !== undefined && from >= 0 && old[from] ? [...old[from]] : []
  })
  return deepEqual(wires, draft.wires ?? []) ? draft : { ...draft, wires }
}

/**
 * A node's edited list entries without the fields their showIf hides, as
 * Node-RED's editor saves a rule with only its own fields ({"t":"else"},
 * a delete rule without "to"). Lists the tray did not change are kept as
 * they are, so opening a node and pressing Done changes nothing.
 */
function pruneHidden(draft: FlowObj, cur: FlowObj | undefined): FlowObj {
  let out = draft
  for (const f of typeOf(draft.type)?.fields ?? []) {
    const list = draft[f.name]
    if (f.kind !== 'list' || !f.item?.some((x) => x.showIf) || !Array.isArray(list) || deepEqual(list, cur?.[f.name])) continue
    const entries = list.map((e: unknown) => {
      if (!e || typeof e !== 'object' || Array.isArray(e)) return e
      const o = { ...(e as Record<string, unknown>) }
      for (const x of f.item ?? []) {
        if (matches(x.showIf, e as Record<string, unknown>)) continue
        delete o[x.name]
        if (x.kind === 'typed') delete o[x.typeProp ?? x.name + 'Type']
      }
      return o
    })
    out = { ...out, [f.name]: entries }
  }
  return out
}

export function openTray(id: string) {
  const o = state.items.find((x) => x.id === id)
  if (!o || isTab(o)) return
  if (state.trays.some((t) => t.id === id)) return
  const drafts = new Map(state.drafts)
  drafts.set(id, o)
  setState({ trays: [...state.trays, { id, initial: o }], drafts })
}

/** Opens a tray for a new config node of a type, to be stored in parentField of the tray below. */
export function openNewConfigTray(type: string, parentField?: string) {
  const n = newNode(type, 0, 0, '')
  delete n.z
  const drafts = new Map(state.drafts)
  drafts.set(n.id, n)
  setState({ trays: [...state.trays, { id: n.id, isNew: true, parentField, initial: n }], drafts })
}

export function setDraft(o: FlowObj) {
  const drafts = new Map(state.drafts)
  drafts.set(o.id, o)
  setState({ drafts })
}

export function closeTray(done: boolean) {
  const top = state.trays[state.trays.length - 1]
  if (!top) return
  const drafts = new Map(state.drafts)
  let draft = drafts.get(top.id)!
  // The draft's problems as validating found them, when they are the
  // problems of the draft as it is now (not of an earlier one).
  const live = liveFor.get(top.id) === draft ? state.liveProblems.get(top.id) : undefined
  liveFor.delete(top.id)
  drafts.delete(top.id)
  const trays = state.trays.slice(0, -1)
  if (done) {
    const cur = state.items.find((o) => o.id === draft.id)
    draft = rewire(pruneHidden(draft, cur), cur)
  }
  listOrigins.delete(top.id)
  const liveProblems = new Map(state.liveProblems)
  liveProblems.delete(top.id)
  validateSeq++
  if (!done) {
    setState({ trays, drafts, liveProblems })
    return
  }
  setState({ liveProblems })
  // What validating the draft found is the node's state now: the canvas
  // marks it before any deploy, and a later tray shows it.
  const keepLive = () => {
    if (!live) return
    const problemMap = new Map(state.problemMap)
    if (live.length) problemMap.set(top.id, live)
    else problemMap.delete(top.id)
    setState({ problemMap })
  }
  const below = trays[trays.length - 1]
  if (top.isNew && top.parentField && below) {
    // The new config node goes into the document now; the node below refers to it.
    drafts.set(below.id, { ...drafts.get(below.id)!, [top.parentField]: draft.id })
    setState({ trays, drafts })
    commit([...state.items, draft])
    keepLive()
    return
  }
  setState({ trays, drafts })
  const cur = state.items.find((o) => o.id === draft.id)
  if (!cur || !deepEqual(cur, draft)) updateObj(draft)
  keepLive()
}

export function deleteFromTray() {
  const top = state.trays[state.trays.length - 1]
  if (!top) return
  const drafts = new Map(state.drafts)
  drafts.delete(top.id)
  listOrigins.delete(top.id)
  const liveProblems = new Map(state.liveProblems)
  liveProblems.delete(top.id)
  liveFor.delete(top.id)
  validateSeq++
  setState({ trays: state.trays.slice(0, -1), drafts, liveProblems })
  if (!top.isNew) {
    const o = state.items.find((x) => x.id === top.id)
    if (o && isConfigNode(o)) {
      // Clear references to a removed config node.
      const items = state.items.filter((x) => x.id !== o.id).map((x) => {
        let y = x
        for (const [k, v] of Object.entries(x)) if (v === o.id && k !== 'id') y = { ...y, [k]: '' }
        return y
      })
      commit(items)
    } else remove(new Set([top.id]), empty())
  }
}

// ---- validating a tray's draft ----

let validateSeq = 0
/** The draft whose problems liveProblems holds, by node id. */
const liveFor = new Map<string, FlowObj>()

/**
 * Checks the document with a tray's draft in place of its node, as a deploy
 * would (POST /flows/validate, which deploys nothing), and keeps the
 * draft's problems in liveProblems. Answers that arrive after a later call,
 * or after the tray closed, are dropped; a server that refuses (a read-only
 * user) leaves the tray as it was.
 */
export async function validateDraft(id: string) {
  const draft = state.drafts.get(id)
  // A read-only user cannot deploy, and the server does not validate for one.
  if (!draft || !canDeploy()) return
  const seq = ++validateSeq
  const cur = state.items.find((o) => o.id === id)
  const node = rewire(pruneHidden(draft, cur), cur)
  const items = cur ? state.items.map((o) => (o.id === id ? node : o)) : [...state.items, node]
  let r: api.Validation | null
  try {
    r = await api.validateFlows(items)
  } catch {
    return
  }
  if (!r || seq !== validateSeq || state.drafts.get(id) !== draft) return
  const liveProblems = new Map(state.liveProblems)
  liveProblems.set(id, r.problems.filter((p) => p.id === id))
  liveFor.set(id, draft)
  setState({ liveProblems })
}

// ---- deploy ----

export async function deploy(type: DeployType = state.deployType, force = false) {
  if (state.deploying) return
  setState({ deploying: true })
  const items = state.items
  try {
    const r = await api.postFlows(items, force ? undefined : state.rev, type)
    if (r.ok) {
      ownRevs.add(r.rev)
      // The server keeps the credentials now; the editor forgets them (a
      // password is never shown back, nor sent again).
      const sent = items.some((o) => 'credentials' in o)
      const kept = sent ? items.map(withoutCredentials) : items
      const patch: Partial<State> = { ...withDeployed(kept, r.rev), problems: [], problemMap: new Map(), dialog: null }
      if (sent && state.items === items) patch.items = kept
      // A rejected or failed deploy's notice is old news now.
      // So is the last deploy's list of warnings.
      patch.notices = state.notices.filter((n) => !(n.kind === 'error' && /^Deploy (rejected|failed)/.test(n.text)) && !/^Deployed with \d+ warning/.test(n.text))
      setState(patch)
      const w = r.warnings.length
      if (w) notify('info', `Deployed with ${w} warning${w > 1 ? 's' : ''}`, r.warnings, 0)
      else notify('success', 'Successfully deployed')
    } else if (r.conflict) {
      setState({ dialog: { kind: 'conflict' } })
    } else {
      const problemMap = new Map<string, Problem[]>()
      for (const p of r.problems) {
        if (!p.id) continue
        if (!problemMap.has(p.id)) problemMap.set(p.id, [])
        problemMap.get(p.id)!.push(p)
      }
      setState({ problems: r.problems, problemMap })
      notify('error', r.problems.length ? `Deploy rejected: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}` : r.message, r.problems)
    }
  } catch (e) {
    notify('error', 'Deploy failed: ' + (e as Error).message)
  } finally {
    setState({ deploying: false })
  }
}

/** Revisions this editor deployed, so that their deploy events are not news. */
const ownRevs = new Set<string>()

/** Merges the server's current flows into the editor's changes, then deploys. */
export async function mergeAndDeploy() {
  const remote = await api.getFlows()
  const remoteItems = remote.flows.map((o) => {
    const t = state.names.toRunnel.get(o.type)
    return t ? { ...o, type: t } : o
  })
  const m = merge(state.deployed, state.items, remoteItems)
  commit(m.items, { ...withDeployed(remoteItems, remote.rev), dialog: null })
  if (m.conflicts) notify('info', `Merged; ${m.conflicts} node${m.conflicts > 1 ? 's' : ''} changed on both sides kept your version`)
  if (!m.items.some((o) => o.id === state.tab)) setState({ tab: m.items.find(isTab)?.id ?? state.tab })
  await deploy(state.deployType)
}

/** A deploy event from the server (anyone's); by says which editor session and user made it (remote.ts). */
export async function remoteDeployed(rev: string, by?: DeployBy) {
  if (!rev || rev === state.rev || ownRevs.has(rev) || !state.loaded || rollingBack) return
  if (by?.session === sessionId) return
  await remoteDeploy(by)
}

/** Asks the server for its revision, and handles it as a deploy event when it is not ours. */
export async function checkRemote() {
  try {
    const r = await api.getFlows()
    await remoteDeployed(r.rev)
  } catch {
    /* the socket's next reconnect tries again */
  }
}

export async function reloadFromServer() {
  const remote = await api.getFlows()
  const items = remote.flows.map((o) => {
    const t = state.names.toRunnel.get(o.type)
    return t ? { ...o, type: t } : o
  })
  const tab = items.some((o) => o.id === state.tab) ? state.tab : items.find(isTab)?.id ?? state.tab
  setState({ items, ...withDeployed(items, remote.rev), tab, undo: [], redo: [], selected: empty(), selectedEdges: empty(), dialog: null })
}

let rollingBack = false

/**
 * Rolls the server back to a revision (a new revision, deployed as a nodes
 * deploy), then reloads the workspace from the server: changes not deployed
 * are discarded.
 */
export async function rollback(id: number): Promise<boolean> {
  if (state.deploying) return false
  setState({ deploying: true, dialog: null })
  rollingBack = true
  try {
    const r = await postRollback(id)
    if (!r.ok) {
      notify('error', r.problems.length ? `Rollback to #${id} rejected: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}` : `Rollback to #${id} failed: ${r.message}`, r.problems)
      return false
    }
    ownRevs.add(r.rev)
    await reloadFromServer()
    setState({ problems: [], problemMap: new Map() })
    notify('success', `Rolled back to revision #${id}`)
    return true
  } catch (e) {
    notify('error', `Rollback to #${id} failed: ${(e as Error).message}`)
    return false
  } finally {
    rollingBack = false
    setState({ deploying: false })
    revisionsChanged()
  }
}

export async function fireInject(id: string) {
  try {
    await api.inject(id)
    const o = state.items.find((x) => x.id === id)
    notify('success', `Injected: ${o ? nodeLabel(o, typeOf(o.type)) : id}`, undefined, 2000)
  } catch (e) {
    notify('error', (e as Error).message, undefined, 5000)
  }
}

/** Shows a node: switches to its tab, selects it and asks the canvas to centre it. */
export function reveal(id: string) {
  const o = state.items.find((x) => x.id === id)
  if (!o) return
  if (isConfigNode(o)) {
    setState({ sidebar: 'config', sidebarOpen: true })
    openTray(id)
    return
  }
  if (o.z && o.z !== state.tab) setState({ tab: o.z })
  setState({ selected: new Set([id]), selectedEdges: empty() })
  revealListeners.forEach((l) => l(o))
}

const revealListeners = new Set<(o: FlowObj) => void>()
export function onReveal(l: (o: FlowObj) => void) {
  revealListeners.add(l)
  return () => {
    revealListeners.delete(l)
  }
}
