// Subflows as plain data (no React, no store): a subflow definition's
// ports as the canvas shows them on the subflow's own tab, wiring and
// unwiring them, adding and removing outputs, and Node-RED's "Selection to
// Subflow". The document keeps definitions as Node-RED exports them:
//
//   {"id":"S","type":"subflow","name":"Subflow 1","info":"","category":"",
//    "in":[{"x":60,"y":80,"wires":[{"id":"n1"}]}],
//    "out":[{"x":420,"y":80,"wires":[{"id":"n2","port":0}]}],
//    "env":[],"meta":{},"color":"#DDAA99","status":{"x":..,"y":..,"wires":[..]}}
//
// with the subflow's nodes having "z":"S", and instances "type":"subflow:S".
import { deepEqual, newId } from './flowjson'
import type { SizeOf } from './groups'
import type { FlowObj } from './types'

export const subflowPrefix = 'subflow:'
export const isSubflowDef = (o: FlowObj | undefined): o is FlowObj => !!o && o.type === 'subflow'
export const isInstanceOf = (o: FlowObj, def: string) => o.type === subflowPrefix + def

export interface PortWire {
  id: string
  port?: number
}
export interface Port {
  x: number
  y: number
  wires: PortWire[]
  [k: string]: unknown
}

/** The canvas ids of a definition's port nodes: its input, its outputs by index, its status output. */
export const portId = {
  in: (def: string) => `${def}~in`,
  out: (def: string, i: number) => `${def}~out${i}`,
  status: (def: string) => `${def}~status`,
}

/** What a canvas id names when it is a port of a subflow definition. */
export function parsePortId(id: string): { def: string; kind: 'in' | 'out' | 'status'; index: number } | null {
  const m = /^(.+)~(in|out|status)(\d*)$/.exec(id)
  if (!m) return null
  return { def: m[1], kind: m[2] as 'in' | 'out' | 'status', index: m[3] ? Number(m[3]) : 0 }
}

export const isPortId = (id: string) => parsePortId(id) !== null

function ports(def: FlowObj, k: 'in' | 'out'): Port[] {
  const v = def[k]
  return Array.isArray(v) ? (v as Port[]) : []
}

function statusPort(def: FlowObj): Port | undefined {
  const s = def.status
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Port) : undefined
}

const wiresOf = (p: Port): PortWire[] => (p && Array.isArray(p.wires) ? p.wires.filter((w) => w && typeof w.id === 'string') : [])

export interface PortNode {
  id: string
  kind: 'in' | 'out' | 'status'
  index: number
  x: number
  y: number
}

/** The port nodes the canvas draws on a definition's tab. */
export function portNodes(def: FlowObj): PortNode[] {
  const out: PortNode[] = []
  // A document written by hand may leave out a port's position.
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d)
  ports(def, 'in').forEach((p, i) => out.push({ id: portId.in(def.id), kind: 'in', index: i, x: num(p?.x, 60), y: num(p?.y, 80) }))
  ports(def, 'out').forEach((p, i) => out.push({ id: portId.out(def.id, i), kind: 'out', index: i, x: num(p?.x, 460), y: num(p?.y, 80 + 40 * i) }))
  const s = statusPort(def)
  if (s) out.push({ id: portId.status(def.id), kind: 'status', index: 0, x: num(s.x, 460), y: num(s.y, 160) })
  return out
}

export interface PortEdge {
  source: string
  port: number
  target: string
}

/** The wires from and to a definition's ports, as canvas edges (source, port, target). */
export function portEdges(def: FlowObj): PortEdge[] {
  const out: PortEdge[] = []
  const src = (w: PortWire) => (w.id === def.id ? portId.in(def.id) : w.id)
  for (const p of ports(def, 'in')) for (const w of wiresOf(p)) out.push({ source: portId.in(def.id), port: 0, target: w.id })
  ports(def, 'out').forEach((p, i) => {
    for (const w of wiresOf(p)) out.push({ source: src(w), port: w.id === def.id ? 0 : w.port ?? 0, target: portId.out(def.id, i) })
  })
  const s = statusPort(def)
  if (s) for (const w of wiresOf(s)) out.push({ source: src(w), port: w.id === def.id ? 0 : w.port ?? 0, target: portId.status(def.id) })
  return out
}

function replaceObj(items: FlowObj[], o: FlowObj): FlowObj[] {
  return items.map((x) => (x.id === o.id ? o : x))
}

/** A wire between a port and a node (or the input and an output), as the user drew it; null when it makes no sense. */
export function connectPort(items: FlowObj[], source: string, port: number, target: string): FlowObj[] | null {
  const s = parsePortId(source)
  const t = parsePortId(target)
  const defId = s?.def ?? t?.def
  const def = items.find((o) => o.id === defId)
  if (!isSubflowDef(def)) return null
  if (s && s.kind !== 'in') return null
  if (t && t.kind === 'in') return null
  const n: FlowObj = { ...def }
  if (s && !t) {
    const ins = ports(def, 'in').map((p) => ({ ...p }))
    if (!ins[0] || wiresOf(ins[0]).some((w) => w.id === target)) return null
    ins[0].wires = [...wiresOf(ins[0]), { id: target }]
    n.in = ins
  } else if (t) {
    const w: PortWire = s ? { id: def.id, port: 0 } : { id: source, port }
    if (t.kind === 'out') {
      const outs = ports(def, 'out').map((p) => ({ ...p }))
      const o = outs[t.index]
      if (!o || wiresOf(o).some((x) => x.id === w.id && (x.port ?? 0) === w.port)) return null
      o.wires = [...wiresOf(o), w]
      n.out = outs
    } else {
      const st = statusPort(def)
      if (!st || wiresOf(st).some((x) => x.id === w.id && (x.port ?? 0) === w.port)) return null
      n.status = { ...st, wires: [...wiresOf(st), w] }
    }
  } else return null
  return replaceObj(items, n)
}

/** Moves of port nodes applied to their definitions; items itself when none is a port. */
export function movePorts(items: FlowObj[], pos: Map<string, { x: number; y: number }>): FlowObj[] {
  const byDef = new Map<string, [ReturnType<typeof parsePortId>, { x: number; y: number }][]>()
  for (const [id, p] of pos) {
    const pp = parsePortId(id)
    if (!pp) continue
    if (!byDef.has(pp.def)) byDef.set(pp.def, [])
    byDef.get(pp.def)!.push([pp, p])
  }
  if (!byDef.size) return items
  return items.map((o) => {
    const moves = byDef.get(o.id)
    if (!moves || !isSubflowDef(o)) return o
    const n: FlowObj = { ...o, in: ports(o, 'in').map((p) => ({ ...p })), out: ports(o, 'out').map((p) => ({ ...p })) }
    for (const [pp, p] of moves) {
      const at = { x: Math.round(p.x), y: Math.round(p.y) }
      if (pp!.kind === 'status') {
        const st = statusPort(o)
        if (st) n.status = { ...st, ...at }
      } else {
        const list = n[pp!.kind] as Port[]
        if (list[pp!.index]) Object.assign(list[pp!.index], at)
      }
    }
    return n
  })
}

/**
 * The document after a delete: wires to and from ports among edgeIds
 * (source:port:target) cut, ports among nodeIds removed (an output's
 * instances lose that output's wires), and wires of ports to nodes that
 * are gone dropped. items itself when nothing changes.
 */
export function removeFromSubflows(items: FlowObj[], nodeIds: Set<string>, edges: PortEdge[]): FlowObj[] {
  const defs = items.filter(isSubflowDef)
  if (!defs.length) return items
  const present = new Set(items.filter((o) => !nodeIds.has(o.id)).map((o) => o.id))
  let out = items
  for (const def of defs) {
    const cut = edges.filter((e) => parsePortId(e.source)?.def === def.id || parsePortId(e.target)?.def === def.id)
    const removedOuts = ports(def, 'out').map((_, i) => i).filter((i) => nodeIds.has(portId.out(def.id, i)))
    const removeIn = nodeIds.has(portId.in(def.id))
    const removeStatus = nodeIds.has(portId.status(def.id))
    const keepWire = (target: string) => (w: PortWire) => {
      if (w.id !== def.id && !present.has(w.id)) return false
      const source = w.id === def.id ? portId.in(def.id) : w.id
      const port = w.id === def.id ? 0 : w.port ?? 0
      return !cut.some((e) => e.source === source && e.port === port && e.target === target)
    }
    const n: FlowObj = { ...def }
    let changed = false
    const ins = removeIn ? [] : ports(def, 'in').map((p) => {
      const wires = wiresOf(p).filter((w) => present.has(w.id) && !cut.some((e) => e.source === portId.in(def.id) && e.target === w.id))
      if (wires.length !== wiresOf(p).length) changed = true
      return wires.length !== wiresOf(p).length ? { ...p, wires } : p
    })
    if (removeIn && ports(def, 'in').length) changed = true
    const outs = ports(def, 'out')
      .map((p, i) => {
        if (removedOuts.includes(i)) return null
        const wires = wiresOf(p).filter(keepWire(portId.out(def.id, i)))
        if (wires.length !== wiresOf(p).length) changed = true
        return wires.length !== wiresOf(p).length ? { ...p, wires } : p
      })
      .filter((p): p is Port => p !== null)
    if (removedOuts.length) changed = true
    n.in = ins
    n.out = outs
    // Without an input, nothing wired to the instance: wires into them go.
    const st = statusPort(def)
    if (st) {
      if (removeStatus) {
        delete n.status
        changed = true
      } else {
        const wires = wiresOf(st).filter(keepWire(portId.status(def.id)))
        if (wires.length !== wiresOf(st).length) {
          n.status = { ...st, wires }
          changed = true
        }
      }
    }
    // In/out lists when a removed in or out also carries a direct in-to-out wire.
    if (removeIn) n.out = outs.map((p) => (wiresOf(p).some((w) => w.id === def.id) ? { ...p, wires: wiresOf(p).filter((w) => w.id !== def.id) } : p))
    if (!changed) continue
    out = replaceObj(out, n)
    if (removedOuts.length) out = dropInstanceOutputs(out, def.id, removedOuts)
    if (removeIn) out = unwireInstanceInputs(out, def.id)
  }
  return out
}

/** Instances of def without the outputs removed (their wires go; later outputs move up). */
function dropInstanceOutputs(items: FlowObj[], def: string, removed: number[]): FlowObj[] {
  return items.map((o) => {
    if (!isInstanceOf(o, def) || !Array.isArray(o.wires)) return o
    return { ...o, wires: o.wires.filter((_, i) => !removed.includes(i)) }
  })
}

/** The document without wires into def's instances (its subflow has no input any more). */
function unwireInstanceInputs(items: FlowObj[], def: string): FlowObj[] {
  const inst = new Set(items.filter((o) => isInstanceOf(o, def)).map((o) => o.id))
  if (!inst.size) return items
  return items.map((o) => {
    if (!Array.isArray(o.wires) || !o.wires.some((w) => Array.isArray(w) && w.some((t) => inst.has(t)))) return o
    return { ...o, wires: o.wires.map((w) => (Array.isArray(w) ? w.filter((t) => !inst.has(t)) : w)) }
  })
}

/** Where a new port goes: right of (or left of, for the input) what is on the subflow's tab. */
function freeSpot(items: FlowObj[], def: FlowObj, kind: 'in' | 'out' | 'status'): { x: number; y: number } {
  const nodes = items.filter((o) => o.z === def.id && typeof o.x === 'number' && typeof o.y === 'number')
  const xs = nodes.map((o) => o.x as number)
  const ys = nodes.map((o) => o.y as number)
  const outs = ports(def, 'out')
  if (kind === 'in') return { x: xs.length ? Math.max(40, Math.min(...xs) - 160) : 60, y: ys.length ? Math.min(...ys) : 80 }
  const right = Math.max(xs.length ? Math.max(...xs) + 160 : 360, ...outs.map((p) => p.x))
  if (kind === 'status') return { x: right, y: Math.max(ys.length ? Math.max(...ys) : 80, ...outs.map((p) => p.y)) + 80 }
  return { x: right, y: outs.length ? Math.max(...outs.map((p) => p.y)) + 40 : ys.length ? Math.min(...ys) : 80 }
}

/** The document with def's number of inputs set (0 or 1), as Node-RED's subflow toolbar sets it. */
export function setInputs(items: FlowObj[], defId: string, n: 0 | 1): FlowObj[] {
  const def = items.find((o) => o.id === defId)
  if (!isSubflowDef(def) || ports(def, 'in').length === n) return items
  if (n === 0) return removeFromSubflows(items, new Set([portId.in(defId)]), [])
  return replaceObj(items, { ...def, in: [{ ...freeSpot(items, def, 'in'), wires: [] }] })
}

/** The document with def's number of outputs set: new ones added at the end, the last ones removed. */
export function setOutputs(items: FlowObj[], defId: string, n: number): FlowObj[] {
  const def = items.find((o) => o.id === defId)
  if (!isSubflowDef(def) || n < 0) return items
  const cur = ports(def, 'out')
  if (n === cur.length) return items
  if (n < cur.length) {
    const gone = new Set(cur.map((_, i) => i).filter((i) => i >= n).map((i) => portId.out(defId, i)))
    return removeFromSubflows(items, gone, [])
  }
  const outs = [...cur]
  let d = { ...def, out: outs }
  while (outs.length < n) outs.push({ ...freeSpot(items, d, 'out'), wires: [] }), (d = { ...def, out: outs })
  return replaceObj(items, d).map((o) => {
    if (!isInstanceOf(o, defId)) return o
    const wires = Array.isArray(o.wires) ? [...o.wires] : []
    while (wires.length < n) wires.push([])
    return { ...o, wires }
  })
}

/** The document with def's status output added or removed. */
export function setStatus(items: FlowObj[], defId: string, on: boolean): FlowObj[] {
  const def = items.find((o) => o.id === defId)
  if (!isSubflowDef(def) || !!statusPort(def) === on) return items
  if (!on) return removeFromSubflows(items, new Set([portId.status(defId)]), [])
  return replaceObj(items, { ...def, status: { ...freeSpot(items, def, 'status'), wires: [] } })
}

/** Node-RED's name for a new subflow: "Subflow N", one more than the highest taken. */
export function nextSubflowName(items: FlowObj[]): string {
  let last = 0
  for (const o of items) {
    if (!isSubflowDef(o) || typeof o.name !== 'string') continue
    const m = /^Subflow (\d+)$/.exec(o.name)
    if (m) last = Math.max(last, Number(m[1]))
  }
  return `Subflow ${last + 1}`
}

/** A new, empty subflow definition (Node-RED's "Create Subflow"). */
export function newSubflow(items: FlowObj[]): FlowObj {
  return { id: newId(), type: 'subflow', name: nextSubflowName(items), info: '', category: '', in: [], out: [], env: [], meta: {}, color: '#DDAA99' }
}

const snap = (v: number) => Math.round(v / 20) * 20

/**
 * Node-RED's "Selection to Subflow": the selected nodes of the tab (with
 * the contents of selected groups) move into a new subflow definition;
 * wires into the selection become its input (all of them must go to one
 * node, else Node-RED refuses), each node output wired out of the
 * selection becomes one of its outputs (ordered by the node's y), and an
 * instance at the selection's centre takes their place, wired the same.
 * Nodes in one group (not selected with it) leave it and the instance
 * joins it; nodes of several such groups are refused.
 */
export function selectionToSubflow(items: FlowObj[], tab: string, selected: Set<string>, sizeOf: SizeOf): { items: FlowObj[]; def?: FlowObj; instance?: FlowObj; error?: string } {
  const byId = new Map(items.map((o) => [o.id, o]))
  // The selection with the contents of selected groups.
  const chosen = new Set<string>()
  const queue = [...selected]
  while (queue.length) {
    const id = queue.shift()!
    const o = byId.get(id)
    if (!o || o.z !== tab || chosen.has(id)) continue
    if (o.type === 'group') {
      chosen.add(id)
      for (const m of items) if (m.z === tab && m.g === id) queue.push(m.id)
      for (const m of Array.isArray(o.nodes) ? o.nodes : []) if (typeof m === 'string') queue.push(m)
    } else if (typeof o.x === 'number' && typeof o.y === 'number') chosen.add(id)
  }
  const nodes = items.filter((o) => chosen.has(o.id) && o.type !== 'group')
  if (!nodes.length) return { items, error: 'No nodes selected' }
  if (nodes.some((o) => o.type.startsWith('link ') || o.type.startsWith('link-'))) {
    // Runnel's runtime does not run link nodes inside subflows yet.
    return { items, error: 'Cannot create a subflow with link nodes: Runnel does not run link nodes inside subflows yet' }
  }
  const groups = new Set(items.filter((o) => chosen.has(o.id) && o.type === 'group').map((o) => o.id))
  const outerGroups = new Set(items.filter((o) => chosen.has(o.id) && typeof o.g === 'string' && !groups.has(o.g)).map((o) => o.g as string))
  if (outerGroups.size > 1) return { items, error: 'Cannot create a subflow across multiple groups' }
  const containingGroup = [...outerGroups][0]

  // Wires crossing the boundary.
  const inbound: { source: string; port: number; target: string }[] = []
  const outputs: { source: string; port: number; targets: string[] }[] = []
  const inputNodes = new Set<string>()
  for (const o of items) {
    if (!Array.isArray(o.wires) || o.z !== tab) continue
    o.wires.forEach((w, port) => {
      if (!Array.isArray(w)) return
      for (const t of w) {
        if (chosen.has(o.id) && !chosen.has(t)) {
          let out = outputs.find((x) => x.source === o.id && x.port === port)
          if (!out) outputs.push((out = { source: o.id, port, targets: [] }))
          out.targets.push(t)
        } else if (!chosen.has(o.id) && chosen.has(t)) {
          inbound.push({ source: o.id, port, target: t })
          inputNodes.add(t)
        }
      }
    })
  }
  if (inputNodes.size > 1) return { items, error: 'Cannot create subflow: multiple inputs to selection' }
  outputs.sort((a, b) => (byId.get(a.source)!.y as number) - (byId.get(b.source)!.y as number))

  // Bounding box, and the offset that puts the nodes near the top left of the subflow's tab.
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity]
  const size = new Map(nodes.map((o) => [o.id, sizeOf(o)]))
  for (const o of nodes) {
    const { w, h } = size.get(o.id)!
    x0 = Math.min(x0, (o.x as number) - w / 2)
    y0 = Math.min(y0, (o.y as number) - h / 2)
    x1 = Math.max(x1, (o.x as number) + w / 2)
    y1 = Math.max(y1, (o.y as number) + h / 2)
  }
  const offX = snap(x0 - 140)
  const offY = snap(y0 - 60)
  const def: FlowObj = {
    id: newId(),
    type: 'subflow',
    name: nextSubflowName(items),
    info: '',
    category: '',
    in: [...inputNodes].map((id) => {
      const n = byId.get(id)!
      return { x: snap((n.x as number) - size.get(id)!.w / 2 - 80 - offX), y: snap((n.y as number) - offY), wires: [{ id }] }
    }),
    out: outputs.map((o) => {
      const n = byId.get(o.source)!
      return { x: snap((n.x as number) + size.get(o.source)!.w / 2 + 80 - offX), y: snap((n.y as number) - offY), wires: [{ id: o.source, port: o.port }] }
    }),
    env: [],
    meta: {},
    color: '#DDAA99',
  }
  const instance: FlowObj = { id: newId(), type: subflowPrefix + def.id, z: tab }
  if (containingGroup) instance.g = containingGroup
  Object.assign(instance, {
    name: '',
    env: [],
    x: snap((x0 + x1) / 2),
    y: snap((y0 + y1) / 2),
    wires: outputs.map((o) => [...new Set(o.targets)]),
  })
  const out: FlowObj[] = []
  let placed = false
  for (const o of items) {
    if (chosen.has(o.id)) {
      // Into the subflow, wires kept inside it.
      const n: FlowObj = { ...o, z: def.id }
      if (typeof o.x === 'number') n.x = o.x - offX
      if (typeof o.y === 'number') n.y = o.y - offY
      if (Array.isArray(o.wires)) n.wires = o.wires.map((w) => (Array.isArray(w) ? w.filter((t) => chosen.has(t)) : w))
      if (typeof o.g === 'string' && !groups.has(o.g)) delete n.g
      if (!placed) {
        out.push(def)
        placed = true
      }
      out.push(n)
      continue
    }
    let n = o
    if (Array.isArray(o.wires) && o.z === tab && inbound.some((e) => e.source === o.id)) {
      n = {
        ...o,
        wires: o.wires.map((w) => {
          if (!Array.isArray(w)) return w
          const kept = w.filter((t) => !chosen.has(t))
          return kept.length !== w.length ? [...kept, instance.id] : w
        }),
      }
    }
    if (containingGroup && o.id === containingGroup) {
      const list = (Array.isArray(o.nodes) ? (o.nodes as string[]) : []).filter((id) => !chosen.has(id))
      n = { ...n, nodes: [...list, instance.id] }
    }
    out.push(n)
  }
  out.push(instance)
  return { items: out, def, instance }
}

/** The document without a subflow definition, its nodes, its instances and the wires to them. */
export function deleteSubflow(items: FlowObj[], defId: string): FlowObj[] {
  const inst = new Set(items.filter((o) => isInstanceOf(o, defId)).map((o) => o.id))
  return items
    .filter((o) => o.id !== defId && o.z !== defId && !inst.has(o.id))
    .map((o) => {
      let n = o
      if (Array.isArray(o.wires) && o.wires.some((w) => Array.isArray(w) && w.some((t) => inst.has(t)))) {
        n = { ...o, wires: o.wires.map((w) => (Array.isArray(w) ? w.filter((t) => !inst.has(t)) : w)) }
      }
      if (n.type === 'group' && Array.isArray(n.nodes) && n.nodes.some((id) => inst.has(id as string))) {
        n = { ...n, nodes: (n.nodes as string[]).filter((id) => !inst.has(id)) }
      }
      return n
    })
}

/** The subflow definitions a set of objects uses, with their nodes, nested subflows included. */
export function usedSubflows(objs: FlowObj[], all: FlowObj[]): FlowObj[] {
  const defs = new Map(all.filter(isSubflowDef).map((d) => [d.id, d]))
  if (!defs.size) return []
  const seen = new Set<string>()
  const queue = objs.filter((o) => o.type.startsWith(subflowPrefix)).map((o) => o.type.slice(subflowPrefix.length))
  while (queue.length) {
    const id = queue.pop()!
    if (seen.has(id) || !defs.has(id)) continue
    seen.add(id)
    for (const o of all) if (o.z === id && o.type.startsWith(subflowPrefix)) queue.push(o.type.slice(subflowPrefix.length))
  }
  const have = new Set(objs.map((o) => o.id))
  return all.filter((o) => !have.has(o.id) && (seen.has(o.id) || (typeof o.z === 'string' && seen.has(o.z))))
}

let changedCache: { items: FlowObj[]; deployed: Map<string, FlowObj>; ids: Set<string> } | undefined

/**
 * The ids of subflow definitions that differ from the deployed document:
 * the definition itself, or a node in it (added, changed or removed), and
 * those that hold an instance of such a subflow.
 */
export function changedSubflows(items: FlowObj[], deployed: Map<string, FlowObj>): Set<string> {
  const c = changedCache
  if (c && c.items === items && c.deployed === deployed) return c.ids
  const ids = new Set<string>()
  const defs = items.filter(isSubflowDef)
  if (defs.length) {
    const defIds = new Set(defs.map((d) => d.id))
    for (const d of defs) {
      const dep = deployed.get(d.id)
      if (dep !== d && (!dep || !deepEqual(dep, d))) ids.add(d.id)
    }
    const count = new Map<string, number>()
    for (const o of items) {
      if (typeof o.z !== 'string' || !defIds.has(o.z)) continue
      count.set(o.z, (count.get(o.z) ?? 0) + 1)
      const dep = deployed.get(o.id)
      if (dep !== o && (!dep || !deepEqual(dep, o))) ids.add(o.z)
    }
    // Nodes removed from a subflow.
    const before = new Map<string, number>()
    for (const o of deployed.values()) if (typeof o.z === 'string' && defIds.has(o.z)) before.set(o.z, (before.get(o.z) ?? 0) + 1)
    for (const [id, n] of before) if ((count.get(id) ?? 0) !== n) ids.add(id)
    // Subflows holding instances of changed ones, to any depth.
    for (let grew = true; grew; ) {
      grew = false
      for (const o of items) {
        if (typeof o.z !== 'string' || !defIds.has(o.z) || ids.has(o.z) || !o.type.startsWith(subflowPrefix)) continue
        if (ids.has(o.type.slice(subflowPrefix.length))) {
          ids.add(o.z)
          grew = true
        }
      }
    }
  }
  changedCache = { items, deployed, ids }
  return ids
}

/** An env entry of a definition or instance, as Node-RED writes it. */
export interface EnvEntry {
  name: string
  type: string
  value?: unknown
  ui?: { label?: Record<string, string>; type?: string; opts?: { types?: string[]; opts?: { l?: Record<string, string>; v: unknown }[] }; icon?: string }
  [k: string]: unknown
}

export function envList(o: FlowObj | undefined): EnvEntry[] {
  return o && Array.isArray(o.env) ? (o.env as EnvEntry[]).filter((e) => e && typeof e === 'object' && typeof e.name === 'string') : []
}
