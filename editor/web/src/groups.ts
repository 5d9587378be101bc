// Node-RED's groups as plain data: who is in which group, the box Node-RED
// draws (and writes as x, y, w, h) around a group's members, and the edits
// of the document that groups need (group, ungroup, delete with contents,
// move with members). No React here.
//
// Node-RED's editor (4.1, ui/view.js redraw and ui/group.js) is the
// reference: a group's box is its members' bounds plus a margin of 26,
// wider for a node's button, at least as wide as its label, taller for a
// label of several lines; an empty group is 40 by 40 where it is. The
// group's `nodes` list says who is in it (as Node-RED's import reads it),
// and the members' `g` names the group.
import { nodeSize, textWidth } from './FlowNode'
import { newId } from './flowjson'
import type { FlowObj, NodeType } from './types'

export const isGroup = (o: FlowObj) => o.type === 'group'

/** Node-RED's padding around a group's members. */
export const groupMargin = 26

/** The style a new group gets, as Node-RED's editor writes it (its CSS defaults read back as text). */
export const defaultGroupStyle = {
  stroke: '#999999',
  'stroke-opacity': '1',
  fill: 'none',
  'fill-opacity': '1',
  label: true,
  'label-position': 'nw',
  color: '#a4a4a4',
}

export interface GroupStyle {
  stroke?: string
  fill?: string
  'stroke-opacity'?: string | number
  'fill-opacity'?: string | number
  label?: boolean
  'label-position'?: string
  color?: string
}

export interface Box {
  x: number
  y: number
  w: number
  h: number
}

export interface GroupLayout extends Box {
  /** The label's lines (none when the label is hidden or the group has no name). */
  labels: string[]
  /** 0 for a group in no group, 1 for one inside it, … */
  depth: number
  /** The ids of its members (nodes and groups), as drawn. */
  members: string[]
  /** The group it is in, if any. */
  parent?: string
}

export function styleOf(g: FlowObj): GroupStyle {
  const s = g.style
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as GroupStyle) : {}
}

/** Node-RED's label lines: the name split at a literal backslash-n followed by a space. */
export function labelLines(name: string): string[] {
  const lines = name.split(/\\n /)
  let out: string[] = []
  if (lines.length > 1) {
    let i = 0
    for (i = 0; i < lines.length - 1; i++) {
      if (/\\$/.test(lines[i])) {
        out.push(lines[i] + '\\n ' + lines[i + 1])
        i++
      } else out.push(lines[i])
    }
    if (i === lines.length - 1) out.push(lines[lines.length - 1])
  } else out = lines
  return out.map((l) => l.replace(/\\\\n /g, '\\n ').trim())
}

/** What sizing a node needs: its label, ports and type. */
export type SizeOf = (o: FlowObj) => { w: number; h: number; buttonLeft: boolean; buttonRight: boolean }

/** A node's size as the canvas draws it; Node-RED's debug node has its button on the right, inject on the left. */
export function sizer(typeOf: (t: string) => NodeType | undefined, label: (o: FlowObj, t?: NodeType) => string, outputs: (o: FlowObj, t?: NodeType) => number): SizeOf {
  return (o) => {
    const t = typeOf(o.type)
    const { w, h } = nodeSize(label(o, t), t ? t.inputs : 1, outputs(o, t))
    const right = t?.nodeRed === 'debug' || o.type === 'debug'
    return { w, h, buttonLeft: !!t?.button && !right, buttonRight: right }
  }
}

const num = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : d)

/**
 * Who is in which group on one tab: each group's members in the order of
 * its `nodes` list (ids that are not on the tab left out), a node listed by
 * two groups in the one its `g` names (else the first), a node whose `g`
 * names a group that does not list it added at the end of that group, and
 * a group that would be inside itself taken out of its parent.
 */
export function membership(items: FlowObj[], tab: string): { groups: FlowObj[]; members: Map<string, string[]>; owner: Map<string, string> } {
  const onTab = new Map<string, FlowObj>()
  const groups: FlowObj[] = []
  for (const o of items) {
    if (o.z !== tab || o.type === 'tab') continue
    if (isGroup(o)) {
      if (!onTab.has(o.id)) groups.push(o)
    } else if (typeof o.x !== 'number' || typeof o.y !== 'number') continue
    if (!onTab.has(o.id)) onTab.set(o.id, o)
  }
  const owner = new Map<string, string>()
  for (const g of groups) {
    if (!Array.isArray(g.nodes)) continue
    for (const id of g.nodes) {
      if (typeof id !== 'string' || id === g.id) continue
      const m = onTab.get(id)
      if (!m) continue
      const cur = owner.get(id)
      if (cur === undefined || (m.g === g.id && m.g !== cur)) owner.set(id, g.id)
    }
  }
  // A node (or group) whose g names a group on the tab that does not list it.
  for (const m of onTab.values()) {
    if (owner.has(m.id) || typeof m.g !== 'string' || m.g === m.id) continue
    const g = onTab.get(m.g)
    if (g && isGroup(g)) owner.set(m.id, g.id)
  }
  // No group inside itself, however deep.
  for (const g of groups) {
    const seen = new Set([g.id])
    let p = owner.get(g.id)
    while (p !== undefined) {
      if (p === g.id) {
        owner.delete(g.id)
        break
      }
      if (seen.has(p)) break
      seen.add(p)
      p = owner.get(p)
    }
  }
  const members = new Map<string, string[]>(groups.map((g) => [g.id, []]))
  for (const g of groups) {
    const list = members.get(g.id)!
    const listed = new Set<string>()
    if (Array.isArray(g.nodes)) {
      for (const id of g.nodes) {
        if (typeof id === 'string' && owner.get(id) === g.id && !listed.has(id)) {
          listed.add(id)
          list.push(id)
        }
      }
    }
    for (const m of onTab.values()) if (owner.get(m.id) === g.id && !listed.has(m.id)) list.push(m.id)
  }
  return { groups, members, owner }
}

/**
 * The boxes of the groups of one tab, as Node-RED draws them, with pos
 * overriding nodes' positions (a drag under way). Inner groups are
 * measured before the groups around them.
 */
export function layoutGroups(items: FlowObj[], tab: string, sizeOf: SizeOf, pos?: Map<string, { x: number; y: number }>): Map<string, GroupLayout> {
  const { groups, members, owner } = membership(items, tab)
  const out = new Map<string, GroupLayout>()
  if (!groups.length) return out
  const byId = new Map<string, FlowObj>()
  for (const o of items) if (o.z === tab && !byId.has(o.id)) byId.set(o.id, o)
  // Depth-first from the outermost groups; measured in reverse (innermost first).
  const order: { g: FlowObj; depth: number }[] = []
  const groupById = new Map(groups.map((g) => [g.id, g]))
  const visit = (g: FlowObj, depth: number) => {
    order.push({ g, depth })
    for (const id of members.get(g.id) ?? []) {
      const c = groupById.get(id)
      if (c) visit(c, depth + 1)
    }
  }
  for (const g of groups) if (!owner.has(g.id)) visit(g, 0)
  for (let i = order.length - 1; i >= 0; i--) {
    const { g, depth } = order[i]
    const ms = members.get(g.id) ?? []
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
    for (const id of ms) {
      const m = byId.get(id)
      if (!m) continue
      if (isGroup(m)) {
        const b = out.get(id)
        if (!b) continue
        minX = Math.min(minX, b.x - groupMargin)
        minY = Math.min(minY, b.y - groupMargin)
        maxX = Math.max(maxX, b.x + b.w + groupMargin)
        maxY = Math.max(maxY, b.y + b.h + groupMargin)
      } else {
        const p = pos?.get(id)
        const x = p ? p.x : num(m.x)
        const y = p ? p.y : num(m.y)
        const s = sizeOf(m)
        minX = Math.min(minX, x - s.w / 2 - groupMargin - (s.buttonLeft ? 20 : 0))
        minY = Math.min(minY, y - s.h / 2 - groupMargin)
        maxX = Math.max(maxX, x + s.w / 2 + groupMargin + (s.buttonRight ? 20 : 0))
        maxY = Math.max(maxY, y + s.h / 2 + groupMargin)
      }
    }
    const hasMembers = minX !== Infinity
    let box: Box = hasMembers ? { x: minX, y: minY, w: maxX - minX, h: maxY - minY } : { x: num(g.x), y: num(g.y), w: 40, h: 40 }
    const style = styleOf(g)
    const name = typeof g.name === 'string' ? g.name : ''
    let labels: string[] = []
    let minWidth = 40
    if (style.label && name) {
      labels = labelLines(name)
      minWidth = Math.max(0, ...labels.map((l) => Math.round(textWidth(l)))) + 8
    }
    box = { ...box, w: Math.max(minWidth, box.w) }
    if (labels.length) {
      const lp = typeof style['label-position'] === 'string' && style['label-position'] ? style['label-position'] : 'nw'
      let extra = (labels.length - 1) * 16
      if (lp[0] === 's') extra += 8
      box.h += extra
      if (lp[0] === 'n' && hasMembers) box.y -= extra
    }
    out.set(g.id, { ...box, labels, depth, members: ms, parent: owner.get(g.id) })
  }
  return out
}

/** Ids of the tabs that have groups. */
function groupTabs(items: FlowObj[]): Set<string> {
  const s = new Set<string>()
  for (const o of items) if (isGroup(o) && typeof o.z === 'string') s.add(o.z)
  return s
}

/**
 * The document with every group's x, y, w, h as Node-RED would write them,
 * its `nodes` list without ids that are not (or no longer) its members, and
 * each member's `g` naming its group. Objects that do not change are kept
 * as they are; items itself when nothing changes.
 */
export function syncGroups(items: FlowObj[], sizeOf: SizeOf): FlowObj[] {
  const tabs = groupTabs(items)
  if (!tabs.size) return items
  const patch = new Map<string, Record<string, unknown>>()
  for (const tab of tabs) {
    const layout = layoutGroups(items, tab, sizeOf)
    const { groups, members, owner } = membership(items, tab)
    for (const g of groups) {
      const b = layout.get(g.id)
      const ms = members.get(g.id) ?? []
      const p: Record<string, unknown> = {}
      if (b && (g.x !== b.x || g.y !== b.y || g.w !== b.w || g.h !== b.h)) Object.assign(p, { x: b.x, y: b.y, w: b.w, h: b.h })
      const cur = Array.isArray(g.nodes) ? g.nodes : []
      if (cur.length !== ms.length || cur.some((id, i) => id !== ms[i])) p.nodes = ms
      if (Object.keys(p).length) patch.set(g.id, p)
    }
    for (const [id, gid] of owner) {
      const p = patch.get(id) ?? {}
      p.g = gid
      patch.set(id, p)
    }
  }
  let changed = false
  const out = items.map((o) => {
    const p = patch.get(o.id)
    if (!p) return o
    const n = withProps(o, p)
    if (n !== o) changed = true
    return n
  })
  return changed ? out : items
}

/** o with the properties of p set, in Node-RED's order for a new g (after z); o itself when nothing changes. */
function withProps(o: FlowObj, p: Record<string, unknown>): FlowObj {
  let same = true
  for (const [k, v] of Object.entries(p)) {
    if (Array.isArray(v) ? !(Array.isArray(o[k]) && (o[k] as unknown[]).length === v.length && v.every((x, i) => (o[k] as unknown[])[i] === x)) : o[k] !== v) same = false
  }
  if (same) return o
  if ('g' in p && !('g' in o)) {
    // Node-RED writes g right after z.
    const n: FlowObj = { id: o.id, type: o.type }
    for (const [k, v] of Object.entries(o)) {
      n[k] = v
      if (k === 'z') n.g = p.g
    }
    if (!('g' in n)) n.g = p.g
    return { ...n, ...p }
  }
  return { ...o, ...p }
}

/** o without its g. */
function withoutG(o: FlowObj): FlowObj {
  if (!('g' in o)) return o
  const { g: _, ...rest } = o
  return rest as FlowObj
}

/** The ids of a group's members, nested groups' members included. */
export function descendants(items: FlowObj[], ids: Iterable<string>): Set<string> {
  const out = new Set<string>()
  const byTab = new Map<string, ReturnType<typeof membership>>()
  const byId = new Map(items.map((o) => [o.id, o]))
  const queue = [...ids]
  while (queue.length) {
    const id = queue.pop()!
    const g = byId.get(id)
    if (!g || !isGroup(g) || typeof g.z !== 'string') continue
    let m = byTab.get(g.z)
    if (!m) byTab.set(g.z, (m = membership(items, g.z)))
    for (const c of m.members.get(id) ?? []) {
      if (out.has(c)) continue
      out.add(c)
      queue.push(c)
    }
  }
  return out
}

/** What to delete: the ids, and the contents of the groups among them (Node-RED deletes a group with its nodes). */
export function withContents(items: FlowObj[], ids: Set<string>): Set<string> {
  if (![...ids].some((id) => items.some((o) => o.id === id && isGroup(o)))) return ids
  return new Set([...ids, ...descendants(items, ids)])
}

/** Moves of groups turned into moves of their nodes (by the group's own move); groups themselves follow their members. */
export function memberMoves(items: FlowObj[], pos: Map<string, { x: number; y: number }>): Map<string, { x: number; y: number }> {
  const byId = new Map(items.map((o) => [o.id, o]))
  const groupIds = [...pos.keys()].filter((id) => {
    const o = byId.get(id)
    return o && isGroup(o)
  })
  if (!groupIds.length) return pos
  const out = new Map(pos)
  for (const id of groupIds) {
    const g = byId.get(id)!
    const p = pos.get(id)!
    out.delete(id)
    const dx = p.x - num(g.x)
    const dy = p.y - num(g.y)
    for (const m of descendants(items, [id])) {
      const o = byId.get(m)
      if (!o || isGroup(o) || pos.has(m) || out.has(m)) continue
      out.set(m, { x: num(o.x) + dx, y: num(o.y) + dy })
    }
  }
  return out
}

/**
 * The selection as Node-RED groups it: without what is inside a selected
 * group, on the given tab. Everything must be in the same group (or none).
 */
export function groupable(items: FlowObj[], tab: string, selected: Set<string>): { ids: string[]; parent?: string; error?: string } {
  const { owner } = membership(items, tab)
  const inSelectedGroup = descendants(items, selected)
  const ids = items
    .filter((o) => selected.has(o.id) && o.z === tab && typeof o.x === 'number' && typeof o.y === 'number' && !inSelectedGroup.has(o.id))
    .map((o) => o.id)
  const parents = new Set(ids.map((id) => owner.get(id)))
  if (parents.size > 1) return { ids: [], error: 'Cannot create a group with nodes from different groups' }
  return { ids, parent: [...parents][0] }
}

/** The document with the selection in a new group (Node-RED's "Group selection"), and the new group's id. */
export function groupSelection(items: FlowObj[], tab: string, selected: Set<string>, sizeOf: SizeOf): { items: FlowObj[]; id?: string; error?: string } {
  const { ids, parent, error } = groupable(items, tab, selected)
  if (error) return { items, error }
  if (!ids.length) return { items }
  const id = newId()
  const group: FlowObj = { id, type: 'group', z: tab }
  if (parent) group.g = parent
  Object.assign(group, { name: '', style: { ...defaultGroupStyle }, nodes: ids, x: 0, y: 0, w: 0, h: 0 })
  const set = new Set(ids)
  const first = items.findIndex((o) => set.has(o.id))
  const out: FlowObj[] = []
  items.forEach((o, i) => {
    if (i === first) out.push(group)
    if (set.has(o.id)) out.push(withProps(o, { g: id }))
    else if (parent && o.id === parent) {
      const list = (Array.isArray(o.nodes) ? (o.nodes as string[]) : []).filter((x) => !set.has(x))
      out.push({ ...o, nodes: [...list, id] })
    } else out.push(o)
  })
  // Its members' positions give its box.
  return { items: syncGroups(out, sizeOf), id }
}

/** The document without the given groups (Node-RED's "Ungroup"): their members go to the group around them, if any. Returns the members. */
export function ungroup(items: FlowObj[], groupIds: Set<string>, sizeOf: SizeOf): { items: FlowObj[]; members: string[] } {
  const byId = new Map(items.map((o) => [o.id, o]))
  const moved = new Map<string, string | undefined>()
  const add = new Map<string, string[]>()
  const members: string[] = []
  // Innermost first, so that ungrouping a group and its parent leaves their members in neither.
  const ids = [...groupIds].filter((id) => byId.get(id) && isGroup(byId.get(id)!))
  for (const id of ids) {
    const g = byId.get(id)!
    const m = typeof g.z === 'string' ? membership(items, g.z) : undefined
    let parent = m?.owner.get(id)
    while (parent && groupIds.has(parent)) parent = m?.owner.get(parent)
    for (const c of m?.members.get(id) ?? []) {
      if (groupIds.has(c)) continue
      moved.set(c, parent)
      members.push(c)
      if (parent) {
        if (!add.has(parent)) add.set(parent, [])
        add.get(parent)!.push(c)
      }
    }
  }
  const gone = new Set(ids)
  const out: FlowObj[] = []
  for (const o of items) {
    if (gone.has(o.id)) continue
    let n = o
    if (moved.has(o.id)) {
      const p = moved.get(o.id)
      n = p ? withProps(n, { g: p }) : withoutG(n)
    }
    if (isGroup(n) && (add.has(n.id) || (Array.isArray(n.nodes) && n.nodes.some((x) => gone.has(x as string))))) {
      const list = (Array.isArray(n.nodes) ? (n.nodes as string[]) : []).filter((x) => !gone.has(x))
      n = { ...n, nodes: [...list, ...(add.get(n.id) ?? []).filter((x) => !list.includes(x))] }
    }
    out.push(n)
  }
  return { items: syncGroups(out, sizeOf), members }
}
