// Flow documents as plain data: classification, Node-RED names, import with
// id remapping, export sets and a three-way merge. No React here.
import { usedSubflows } from './subflowdoc'
import type { FlowObj, NodeType } from './types'

export interface Names {
  toRunnel: Map<string, string>
  toNodeRed: Map<string, string>
}

export function makeNames(types: NodeType[]): Names {
  // GET /nodes serves Node-RED's name where it differs (flows/names.go).
  const toNodeRed = new Map<string, string>()
  for (const t of types) if (t.nodeRed && t.nodeRed !== t.type) toNodeRed.set(t.type, t.nodeRed)
  const toRunnel = new Map<string, string>()
  for (const [rn, nr] of toNodeRed) toRunnel.set(nr, rn)
  return { toRunnel, toNodeRed }
}

/** A new id in Node-RED's style: 16 hex characters. */
export function newId(): string {
  const b = new Uint8Array(8)
  crypto.getRandomValues(b)
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

export const isTab = (o: FlowObj) => o.type === 'tab'
/** Node-RED's rule: a flow node has x and y; a config node has neither. */
export const isFlowNode = (o: FlowObj) => o.type !== 'tab' && o.type !== 'subflow' && typeof o.x === 'number' && typeof o.y === 'number'
export const isConfigNode = (o: FlowObj) => !isTab(o) && !isFlowNode(o) && o.type !== 'subflow'

/** Renames types between vocabularies, returning new objects only where the type changes. */
export function renameTypes(objs: FlowObj[], map: Map<string, string>): FlowObj[] {
  return objs.map((o) => {
    const t = map.get(o.type)
    return t ? { ...o, type: t } : o
  })
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/**
 * Parses pasted or uploaded text as a flow document: a Node-RED/Runnel array,
 * a v2 {"rev","flows"} object, or a single node object. Throws a readable error.
 */
export function parseFlowText(text: string): FlowObj[] {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    throw new Error('Not valid JSON: ' + (e as Error).message)
  }
  if (v && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as { flows?: unknown }).flows)) {
    v = (v as { flows: unknown }).flows
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) v = [v]
  if (!Array.isArray(v)) throw new Error('Not a flow: expected an array of nodes')
  const out: FlowObj[] = []
  for (const [i, o] of v.entries()) {
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error(`Item ${i + 1} is not an object`)
    const n = o as FlowObj
    if (typeof n.id !== 'string' || n.id === '') throw new Error(`Item ${i + 1} has no id`)
    if (typeof n.type !== 'string' || n.type === '') throw new Error(`Item ${i + 1} (${n.id}) has no type`)
    out.push(n)
  }
  return out
}

/** Ids of config nodes a node refers to (its string properties that name a config node). */
function configRefs(o: FlowObj, configIds: Set<string>): string[] {
  const out: string[] = []
  for (const [k, v] of Object.entries(o)) {
    if (k === 'id' || k === 'z' || k === 'type') continue
    if (typeof v === 'string' && configIds.has(v)) out.push(v)
  }
  return out
}

/** The config nodes that the given nodes use, transitively. */
export function usedConfigNodes(nodes: FlowObj[], all: FlowObj[]): FlowObj[] {
  const configs = new Map(all.filter(isConfigNode).map((o) => [o.id, o]))
  const ids = new Set(configs.keys())
  const seen = new Set<string>()
  const queue = nodes.flatMap((n) => configRefs(n, ids))
  while (queue.length) {
    const id = queue.pop()!
    if (seen.has(id)) continue
    seen.add(id)
    queue.push(...configRefs(configs.get(id)!, ids))
  }
  return all.filter((o) => seen.has(o.id))
}

export type ExportScope = 'selected' | 'flow' | 'all'

/** The objects to export: the selection (wires kept inside it), the current tab, or everything. */
export function exportSet(items: FlowObj[], scope: ExportScope, tab: string, selected: Set<string>): FlowObj[] {
  if (scope === 'all') return items
  if (scope === 'flow') {
    const nodes = items.filter((o) => o.id === tab || o.z === tab)
    const subflows = usedSubflows(nodes, items)
    const extra = usedConfigNodes([...nodes, ...subflows], items).filter((c) => c.z !== tab)
    return [...subflows, ...nodes, ...extra]
  }
  const nodes = items
    .filter((o) => selected.has(o.id) && isFlowNode(o))
    .map((o) => (o.wires ? { ...o, wires: o.wires.map((w) => w.filter((t) => selected.has(t))) } : o))
  // The subflows of instances go with them, as Node-RED copies them.
  const subflows = usedSubflows(nodes, items)
  return [...subflows, ...nodes, ...usedConfigNodes([...nodes, ...subflows], items)]
}

export type ImportMode = 'copy' | 'replace' | 'keep'

export interface ImportOptions {
  /** copy: every tab and flow node gets a new id (paste, duplicate); keep: ids kept unless taken (then new);
   * replace: ids kept, existing objects with the same id replaced in place. */
  mode: ImportMode
  /** The tab that receives flow nodes whose tab is not part of the import. */
  tab: string
  /** Where the top-left of the imported nodes goes; kept where they were when undefined. */
  at?: { x: number; y: number }
  /** Moves the nodes by this much (duplicate, paste in place). */
  offset?: { x: number; y: number }
  toRunnel: Map<string, string>
}

export interface ImportResult {
  items: FlowObj[]
  /** The ids of the imported flow nodes. */
  nodes: string[]
  /** The first imported tab, if any. */
  firstTab?: string
  /** Objects that replaced existing ones (mode replace). */
  replaced: number
}

/** Ids in objs that are already used in items. */
export function conflicts(items: FlowObj[], objs: FlowObj[]): string[] {
  const have = new Set(items.map((o) => o.id))
  return objs.filter((o) => have.has(o.id)).map((o) => o.id)
}

export function importObjs(items: FlowObj[], incoming: FlowObj[], opt: ImportOptions): ImportResult {
  const objs = renameTypes(incoming, opt.toRunnel)
  const existing = new Map(items.map((o) => [o.id, o]))
  const idMap = new Map<string, string>()
  // Subflow definitions hold their nodes as tabs do.
  const tabs = objs.filter((o) => isTab(o) || o.type === 'subflow')
  const tabIds = new Set(tabs.map((t) => t.id))
  const takenIds = new Set(existing.keys())
  const fresh = () => {
    let id = newId()
    while (takenIds.has(id)) id = newId()
    takenIds.add(id)
    return id
  }
  const dropped = new Set<string>()
  // A pasted subflow that is already here is the same one, as in Node-RED: use it.
  const keptSubflows = new Set(opt.mode === 'copy' ? objs.filter((o) => o.type === 'subflow' && existing.has(o.id)).map((o) => o.id) : [])
  for (const o of objs) {
    if (keptSubflows.has(o.id) || (o.z && keptSubflows.has(o.z))) {
      dropped.add(o.id)
      idMap.set(o.id, o.id)
      continue
    }
    if (isConfigNode(o) && opt.mode === 'copy' && existing.has(o.id)) {
      // A pasted config node that is already here is the same one: use it.
      dropped.add(o.id)
      idMap.set(o.id, o.id)
      continue
    }
    if (opt.mode === 'copy' && !isConfigNode(o)) idMap.set(o.id, fresh())
    else if (opt.mode === 'keep' && existing.has(o.id)) idMap.set(o.id, fresh())
    else {
      idMap.set(o.id, o.id)
      takenIds.add(o.id)
    }
  }
  // Placement of flow nodes.
  const flowNodes = objs.filter((o) => isFlowNode(o) && !(o.z && tabIds.has(o.z)))
  let dx = opt.offset?.x ?? 0
  let dy = opt.offset?.y ?? 0
  if (opt.at && flowNodes.length) {
    const minX = Math.min(...flowNodes.map((n) => n.x!))
    const minY = Math.min(...flowNodes.map((n) => n.y!))
    dx = opt.at.x - minX
    dy = opt.at.y - minY
  }
  const configIds = new Set(objs.filter(isConfigNode).map((o) => o.id))
  const groupIds = new Set(objs.filter((o) => o.type === 'group').map((o) => o.id))
  const out: FlowObj[] = []
  const nodes: string[] = []
  for (const o of objs) {
    if (dropped.has(o.id)) continue
    const n: FlowObj = { ...o, id: idMap.get(o.id)! }
    if (o.type.startsWith('subflow:') && idMap.has(o.type.slice(8))) n.type = 'subflow:' + idMap.get(o.type.slice(8))
    if (o.type === 'subflow') remapSubflowPorts(n, idMap)
    if (isFlowNode(o)) {
      if (o.z && tabIds.has(o.z)) n.z = idMap.get(o.z)!
      else n.z = opt.tab
      if (!(o.z && tabIds.has(o.z))) {
        n.x = Math.round(o.x! + dx)
        n.y = Math.round(o.y! + dy)
      }
      nodes.push(n.id)
    } else if (isConfigNode(o) && o.z) {
      // A flow-scoped config node moves with its tab, or becomes global.
      if (tabIds.has(o.z)) n.z = idMap.get(o.z)!
      else if (!existing.has(o.z) || opt.mode === 'copy') delete n.z
    }
    if (Array.isArray(o.wires)) {
      n.wires = o.wires.map((port) =>
        (Array.isArray(port) ? port : [])
          .filter((t) => (idMap.has(t) && !dropped.has(t)) || (opt.mode !== 'copy' && existing.has(t)))
          .map((t) => idMap.get(t) ?? t),
      )
    }
    // Link nodes imported together stay linked, under their new ids.
    if (Array.isArray(o.links) && /^link (in|out|call)$/.test(n.type)) {
      n.links = o.links.map((id) => (typeof id === 'string' && idMap.has(id) && !dropped.has(id) ? idMap.get(id)! : id))
    }
    for (const [k, v] of Object.entries(o)) {
      if (k === 'id' || k === 'z' || k === 'type' || k === 'wires' || k === 'g') continue
      if (typeof v === 'string' && configIds.has(v)) n[k] = idMap.get(v) ?? v
    }
    // Groups, as Node-RED imports them: a node stays in a group imported with
    // it, and a group keeps the members imported with it.
    if ('g' in o) {
      if (typeof o.g === 'string' && groupIds.has(o.g)) n.g = idMap.get(o.g)!
      else delete n.g
    }
    if (o.type === 'group' && Array.isArray(o.nodes)) {
      n.nodes = o.nodes.filter((id): id is string => typeof id === 'string' && idMap.has(id) && !dropped.has(id)).map((id) => idMap.get(id)!)
    }
    out.push(n)
  }
  let result: FlowObj[]
  let replaced = 0
  if (opt.mode === 'replace') {
    const byId = new Map(out.map((o) => [o.id, o]))
    result = items.map((o) => {
      const r = byId.get(o.id)
      if (!r) return o
      byId.delete(o.id)
      replaced++
      return r
    })
    for (const o of out) if (byId.has(o.id)) result.push(o)
  } else {
    // New tabs go after the existing tabs' objects; order otherwise as imported.
    result = [...items, ...out]
  }
  const firstTab = out.find(isTab)?.id
  return { items: result, nodes, firstTab, replaced }
}

/** A subflow definition's port wires with its nodes' new ids. */
function remapSubflowPorts(def: FlowObj, idMap: Map<string, string>) {
  const mapPort = (p: unknown) => {
    if (!p || typeof p !== 'object' || Array.isArray(p)) return p
    const q = p as { wires?: unknown }
    if (!Array.isArray(q.wires)) return p
    return { ...q, wires: q.wires.map((w: { id?: string }) => (w && typeof w.id === 'string' && idMap.has(w.id) ? { ...w, id: idMap.get(w.id) } : w)) }
  }
  for (const k of ['in', 'out']) if (Array.isArray(def[k])) def[k] = (def[k] as unknown[]).map(mapPort)
  if (def.status) def.status = mapPort(def.status)
}

/**
 * Three-way merge of the editor's changes (local) with the server's (remote),
 * both made from base. An object changed on one side only takes that side; one
 * changed on both takes the local version and counts as a conflict.
 */
export function merge(base: FlowObj[], local: FlowObj[], remote: FlowObj[]): { items: FlowObj[]; conflicts: number } {
  const b = new Map(base.map((o) => [o.id, o]))
  const l = new Map(local.map((o) => [o.id, o]))
  const r = new Map(remote.map((o) => [o.id, o]))
  const out: FlowObj[] = []
  let conflictCount = 0
  const ids = new Set<string>()
  for (const o of remote) ids.add(o.id)
  for (const o of local) ids.add(o.id)
  for (const id of ids) {
    const bo = b.get(id), lo = l.get(id), ro = r.get(id)
    const localChanged = !deepEqual(bo, lo)
    const remoteChanged = !deepEqual(bo, ro)
    let pick: FlowObj | undefined
    if (!localChanged) pick = ro
    else if (!remoteChanged) pick = lo
    else {
      if (!deepEqual(lo, ro)) conflictCount++
      pick = lo
    }
    if (pick) out.push(pick)
  }
  // Keep the remote order, then local additions in local order.
  const order = new Map<string, number>()
  remote.forEach((o, i) => order.set(o.id, i))
  local.forEach((o, i) => { if (!order.has(o.id)) order.set(o.id, remote.length + i) })
  out.sort((x, y) => order.get(x.id)! - order.get(y.id)!)
  return { items: out, conflicts: conflictCount }
}
