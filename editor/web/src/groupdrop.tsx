// Dragging nodes into and out of groups, as Node-RED's editor does: nodes
// dropped with the pointer over a group join it (nodes in no group, or in
// a group around the one they are dropped on); nodes dragged with Alt held
// leave their group for the group around it, if any.
import { ViewportPortal } from '@xyflow/react'
import { useSyncExternalStore } from 'react'
import { descendants, isGroup, layoutGroups } from './groups'
import { commit, getState, sizeOfNode } from './store'
import type { FlowObj } from './types'

/** o with g set (right after z, where Node-RED writes it) or removed. */
function withG(o: FlowObj, g: string | undefined): FlowObj {
  if (g === undefined) {
    if (!('g' in o)) return o
    const { g: _, ...rest } = o
    return rest as FlowObj
  }
  if (o.g === g) return o
  if ('g' in o) return { ...o, g }
  const n: FlowObj = { id: o.id, type: o.type }
  for (const [k, v] of Object.entries(o)) {
    n[k] = v
    if (k === 'z') n.g = g
  }
  if (!('g' in n)) n.g = g
  return n
}

/**
 * The group that nodes of group parent (undefined: of none) dropped with
 * the pointer at `at` would join, with its box: the innermost group there,
 * when it is not their own and is inside their own (if any).
 */
export function joinTarget(items: FlowObj[], tab: string, parent: string | undefined, at: { x: number; y: number }) {
  const layout = layoutGroups(items, tab, sizeOfNode)
  let best: { id: string; x: number; y: number; w: number; h: number } | undefined
  for (const [id, b] of layout) {
    if (at.x < b.x || at.y < b.y || at.x > b.x + b.w || at.y > b.y + b.h) continue
    if (!best || b.w * b.h < best.w * best.h) best = { id, x: b.x, y: b.y, w: b.w, h: b.h }
  }
  if (!best || best.id === parent) return undefined
  if (parent && !descendants(items, [parent]).has(best.id)) return undefined
  return best
}

/**
 * The document after dropping the nodes ids with the pointer at `at`
 * (flow coordinates) on tab: in the innermost group under the pointer
 * when they may join it, or out of their group when detach (Alt) is set.
 * items itself when nothing changes.
 */
export function dropNodes(items: FlowObj[], tab: string, ids: string[], at: { x: number; y: number }, detach: boolean): FlowObj[] {
  const byId = new Map(items.map((o) => [o.id, o]))
  const moving = ids.map((id) => byId.get(id)).filter((o): o is FlowObj => !!o && o.z === tab && !isGroup(o) && typeof o.x === 'number')
  if (!moving.length) return items
  const parents = new Set(moving.map((o) => (typeof o.g === 'string' ? o.g : undefined)))
  // Node-RED: only nodes of one group (or of none) move in or out together.
  if (parents.size !== 1) return items
  const parent = [...parents][0]
  let target: string | undefined
  if (detach) {
    if (!parent) return items
    const pg = byId.get(parent)
    target = pg && typeof pg.g === 'string' ? pg.g : undefined
  } else {
    const hit = joinTarget(items, tab, parent, at)
    if (!hit) return items
    target = hit.id
  }
  const moved = new Set(moving.map((o) => o.id))
  return items.map((o) => {
    if (moved.has(o.id)) return withG(o, target)
    if (o.id === parent && Array.isArray(o.nodes)) return { ...o, nodes: (o.nodes as string[]).filter((id) => !moved.has(id)) }
    if (o.id === target) {
      const list = Array.isArray(o.nodes) ? (o.nodes as string[]).filter((id) => !moved.has(id)) : []
      return { ...o, nodes: [...list, ...moving.map((m) => m.id)] }
    }
    return o
  })
}

/** At the end of a drag on the canvas: after the move is in the document, joins or leaves groups. */
export function dropOnGroupAfterDrag(ids: string[], at: { x: number; y: number }, alt: boolean) {
  setHint(null)
  // The move commits in a microtask; this runs after it.
  setTimeout(() => {
    const s = getState()
    const items = dropNodes(s.items, s.tab, ids, at, alt)
    if (items !== s.items) commit(items)
  }, 0)
}

// ---- the group a drag would drop into, drawn while dragging ----

type Hint = { x: number; y: number; w: number; h: number } | null
let hint: Hint = null
const hintListeners = new Set<() => void>()
function setHint(h: Hint) {
  if (h === hint || (h && hint && h.x === hint.x && h.y === hint.y && h.w === hint.w && h.h === hint.h)) return
  hint = h
  hintListeners.forEach((l) => l())
}

/** During a drag: marks the group the dragged nodes would join if dropped now. */
export function dragOverGroups(ids: string[], at: { x: number; y: number }, alt: boolean) {
  const s = getState()
  const byId = new Map(s.items.map((o) => [o.id, o]))
  const moving = ids.map((id) => byId.get(id)).filter((o): o is FlowObj => !!o && !isGroup(o))
  const parents = new Set(moving.map((o) => (typeof o.g === 'string' ? o.g : undefined)))
  if (alt || !moving.length || parents.size !== 1) return setHint(null)
  setHint(joinTarget(s.items, s.tab, [...parents][0], at) ?? null)
}

export function endDragOverGroups() {
  setHint(null)
}

/** The marked group's outline, in flow coordinates (inside React Flow's viewport). */
export function GroupDropHint() {
  const h = useSyncExternalStore(
    (l) => {
      hintListeners.add(l)
      return () => hintListeners.delete(l)
    },
    () => hint,
  )
  if (!h) return null
  return (
    <ViewportPortal>
      <div
        className="rn-group-drop-hint"
        data-testid="group-drop-hint"
        style={{ position: 'absolute', transform: `translate(${h.x}px, ${h.y}px)`, width: h.w, height: h.h, pointerEvents: 'none' }}
      />
    </ViewportPortal>
  )
}
