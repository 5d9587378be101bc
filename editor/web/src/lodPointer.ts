// The pointer on the zoomed-out canvas (CanvasLOD.tsx), where flow nodes are
// pixels on a <canvas> and not elements: a press is hit-tested in JS against
// the nodes' boxes. On a node it is the node's: a click selects it (Ctrl,
// Cmd or Shift toggles it), a drag moves it or the selection it is in (drawn
// on the canvas meanwhile, committed on release), a double click opens its
// edit tray, a right click or a finger's long press its menu. Anywhere else the press is React Flow's
// (rubber-band selection, panning, the groups' borders, a subflow's ports).
// A node's inject button and debug switch, drawn beside it, are buttons as in
// the DOM: a click there injects, or turns the debug node on or off.
import type { Edge, Node, ReactFlowState } from '@xyflow/react'
import { canDeploy } from './auth'
import { toggleDebug } from './DebugToggle'
import { isFlowNode } from './flowjson'
import { dragOverGroups, dropOnGroupAfterDrag } from './groupdrop'
import { descendants, isGroup } from './groups'
import type { Moves } from './lodDraw'
import { fireInject, getState, moveNodes, openTray, setState } from './store'
import { gridSize, type NodeData } from './FlowNode'
import { longPressMs } from './touch'

type Flow = ReactFlowState<Node, Edge>

/** What the gesture code shares with the drawing: the drag in progress, and a way to ask for a frame. */
export interface Live {
  moves: Moves | null
  /** Set on release: the moves stay drawn until React Flow's nodes have them. */
  settling: boolean
  redraw: () => void
}

export interface PointerHandlers {
  /** A right click or a finger's long press on a node (selected first), at (x, y) on the screen: its menu. */
  onContextMenu: (x: number, y: number) => void
  /** Any click that the canvas takes (the workspace closes its menu). */
  onClick: () => void
  /** The drag of nodes that are in a group, each step (null at the end): the groups' boxes follow them. */
  onGroupedDrag: (moves: Moves | null) => void
}

const snap = (v: number) => Math.round(v / gridSize) * gridSize

/**
 * The flow node under the point (clientX, clientY) of the screen, given the
 * canvas's box on screen: the nearest within padPx pixels (nodes are a few
 * pixels tall this far out), the topmost of several. null when none is.
 */
export function nodeAt(s: Flow, origin: DOMRect, clientX: number, clientY: number, padPx: number): string | null {
  const [tx, ty, z] = s.transform
  const fx = (clientX - origin.left - tx) / z, fy = (clientY - origin.top - ty) / z
  const pad = padPx / z
  let best: string | null = null
  let bestD = Infinity
  for (const n of s.nodeLookup.values()) {
    if (n.type !== 'flow' || n.hidden) continue
    const { x, y } = n.internals.positionAbsolute
    const w = n.measured.width ?? 0, h = n.measured.height ?? 0
    const dx = fx < x ? x - fx : fx > x + w ? fx - x - w : 0
    const dy = fy < y ? y - fy : fy > y + h ? fy - y - h : 0
    if (dx > pad || dy > pad) continue
    const d = dx * dx + dy * dy
    if (d <= bestD) (bestD = d), (best = n.id)
  }
  return best
}

/** A node's button as lodDraw.ts draws it: the inject button on the left, the debug node's switch on the right. */
export interface NodeButton {
  id: string
  kind: 'inject' | 'debug'
  /** Whether a click does something: as the DOM's button is disabled (not deployed; a read-only role). */
  enabled: boolean
}

/**
 * The button under the point (clientX, clientY) of the screen: the 22 px
 * squares beside the node (in flow units, as FlowNode.tsx's elements and
 * lodDraw.ts draw them), with padPx pixels of grace. null when none is.
 */
export function buttonAt(s: Flow, origin: DOMRect, clientX: number, clientY: number, padPx: number): NodeButton | null {
  const [tx, ty, z] = s.transform
  const fx = (clientX - origin.left - tx) / z, fy = (clientY - origin.top - ty) / z
  const pad = padPx / z
  const inside = (x: number, y: number) => fx >= x - pad && fx <= x + 22 + pad && fy >= y - pad && fy <= y + 22 + pad
  let best: NodeButton | null = null
  for (const n of s.nodeLookup.values()) {
    if (n.type !== 'flow' || n.hidden) continue
    const d = n.data as NodeData
    const { x, y } = n.internals.positionAbsolute
    const w = n.measured.width ?? 0, h = n.measured.height ?? 0
    const top = y + h / 2 - 11
    // The topmost: the last drawn.
    if (d.type?.button && inside(x - 26, top)) best = { id: n.id, kind: 'inject', enabled: d.deployed }
    else if (d.obj.type === 'debug' && inside(x + w + 4, top)) best = { id: n.id, kind: 'debug', enabled: canDeploy() }
  }
  return best
}

/** What a click on a node's button does: what the DOM's button's does (FlowNode.tsx, DebugToggle.tsx). */
function press(b: NodeButton) {
  if (!b.enabled) return
  if (b.kind === 'inject') fireInject(b.id)
  else toggleDebug(b.id)
}

/** The flow nodes a drag of the selection moves: its nodes, and the nodes of its groups. */
function movingIds(selected: Set<string>): string[] {
  const { items, tab } = getState()
  const byId = new Map(items.map((o) => [o.id, o]))
  const groups = [...selected].filter((id) => byId.get(id) && isGroup(byId.get(id)!))
  const ids = new Set<string>()
  for (const id of [...selected, ...(groups.length ? descendants(items, groups) : [])]) {
    const o = byId.get(id)
    if (o && o.z === tab && isFlowNode(o) && !isGroup(o)) ids.add(id)
  }
  return [...ids]
}

/**
 * Installs the canvas's pointer handling on the workspace element root
 * (capture listeners, so that a press on a node never reaches React Flow's
 * pane); returns the function that removes it. flow reads React Flow's state,
 * canvas is the drawing (its box is the viewport's).
 */
export function installPointer(root: HTMLElement, canvas: HTMLCanvasElement, flow: () => Flow, live: Live, on: PointerHandlers): () => void {
  interface Gesture {
    id: string
    pointer: number
    touch: boolean
    x0: number
    y0: number
    mod: boolean
    ids: string[] | null
    starts: Map<string, { x: number; y: number }>
    grouped: boolean
    /** A finger's long-press timer (0: none, or done). */
    press: number
  }
  let g: Gesture | null = null
  /** A press on a node's button: a click if it is released there, else nothing (the DOM's buttons do not drag). */
  let btn: { b: NodeButton; pointer: number; x0: number; y0: number } | null = null
  /** The click that follows a press the canvas took: swallowed, closing the workspace's menu unless a long press opened it. */
  let swallowClick: null | 'close' | 'keep' = null
  /** Until when: a finger's click comes as a task of its own, after the pointerup. */
  let swallowUntil = 0

  const hit = (e: MouseEvent) => {
    const t = e.target as Element | null
    if (!t || !root.contains(t) || !t.closest('.react-flow__renderer')) return null
    // A few pixels' grace on the empty canvas; none over a group's border or label (they take the pointer as in the DOM).
    return nodeAt(flow(), canvas.getBoundingClientRect(), e.clientX, e.clientY, t.classList.contains('react-flow__pane') ? 4 : 0)
  }
  const buttonHit = (e: MouseEvent) => {
    const t = e.target as Element | null
    if (!t || !root.contains(t) || !t.closest('.react-flow__renderer')) return null
    // A pixel's grace: the buttons are a few pixels square this far out.
    return buttonAt(flow(), canvas.getBoundingClientRect(), e.clientX, e.clientY, 1)
  }
  const onButtonUp = (e: PointerEvent) => {
    if (!btn || e.pointerId !== btn.pointer) return
    const { b, x0, y0 } = btn
    endButton()
    swallowClick = 'close'
    swallowUntil = performance.now() + 600
    if (e.type === 'pointerup' && Math.hypot(e.clientX - x0, e.clientY - y0) <= 6) press(b)
  }
  const endButton = () => {
    btn = null
    window.removeEventListener('pointerup', onButtonUp, true)
    window.removeEventListener('pointercancel', onButtonUp, true)
  }
  const toFlow = (x: number, y: number) => {
    const [tx, ty, z] = flow().transform
    const r = canvas.getBoundingClientRect()
    return { x: (x - r.left - tx) / z, y: (y - r.top - ty) / z }
  }
  const selectOnly = (id: string) => {
    const s = getState()
    if (s.selected.size !== 1 || !s.selected.has(id) || s.selectedEdges.size) setState({ selected: new Set([id]), selectedEdges: new Set() })
  }

  const startDrag = (gs: Gesture) => {
    const s = getState()
    if (!s.selected.has(gs.id)) {
      // As React Flow does: a node dragged that is not selected is selected (alone, unless Ctrl/Cmd/Shift).
      if (gs.mod) setState({ selected: new Set([...s.selected, gs.id]) })
      else setState({ selected: new Set([gs.id]), selectedEdges: new Set() })
    }
    gs.ids = movingIds(getState().selected)
    const byId = new Map(getState().items.map((o) => [o.id, o]))
    for (const id of gs.ids) {
      const o = byId.get(id)!
      gs.starts.set(id, { x: o.x as number, y: o.y as number })
      if (typeof o.g === 'string') gs.grouped = true
    }
  }
  const movesAt = (gs: Gesture, x: number, y: number): Moves => {
    const z = flow().transform[2]
    const dx = (x - gs.x0) / z, dy = (y - gs.y0) / z
    const m: Moves = new Map()
    for (const [id, p] of gs.starts) m.set(id, { x: snap(p.x + dx), y: snap(p.y + dy) })
    return m
  }

  const onMove = (e: PointerEvent) => {
    if (!g || e.pointerId !== g.pointer) return
    if (!g.ids) {
      const d = Math.hypot(e.clientX - g.x0, e.clientY - g.y0)
      if (d < (g.touch ? 4 : 1)) return
      // After a long press (the menu is open), the finger moves nothing.
      if (g.touch && !g.press) return
      clearTimeout(g.press)
      startDrag(g)
    }
    live.moves = movesAt(g, e.clientX, e.clientY)
    live.settling = false
    live.redraw()
    if (g.grouped) on.onGroupedDrag(live.moves)
    dragOverGroups(g.ids!, toFlow(e.clientX, e.clientY), e.altKey)
  }
  const end = () => {
    if (g) clearTimeout(g.press)
    window.removeEventListener('pointermove', onMove, true)
    window.removeEventListener('pointerup', onUp, true)
    window.removeEventListener('pointercancel', onCancel, true)
    g = null
  }
  const onUp = (e: PointerEvent) => {
    const gs = g
    if (!gs || e.pointerId !== gs.pointer) return
    const pressed = gs.touch && !gs.press
    end()
    swallowClick = pressed ? 'keep' : 'close'
    swallowUntil = performance.now() + 600
    if (gs.ids) {
      const moves = movesAt(gs, e.clientX, e.clientY)
      live.moves = moves
      live.settling = true
      live.redraw()
      moveNodes(moves)
      if (gs.grouped) on.onGroupedDrag(null)
      dropOnGroupAfterDrag(gs.ids, toFlow(e.clientX, e.clientY), e.altKey)
      return
    }
    if (pressed) return
    if (gs.mod) {
      const sel = new Set(getState().selected)
      if (sel.has(gs.id)) sel.delete(gs.id)
      else sel.add(gs.id)
      setState({ selected: sel })
    } else selectOnly(gs.id)
  }
  /** The gesture dropped: nothing moves. */
  const cancel = () => {
    if (!g) return
    const grouped = g.grouped && !!g.ids
    end()
    live.moves = null
    live.redraw()
    if (grouped) on.onGroupedDrag(null)
    dragOverGroups([], { x: 0, y: 0 }, true)
  }
  const onCancel = (e: PointerEvent) => {
    if (g && e.pointerId === g.pointer) cancel()
  }

  const onDown = (e: PointerEvent) => {
    // A second finger: a pinch, React Flow's; the drag it interrupts is dropped.
    if (g && e.pointerId !== g.pointer) return cancel()
    swallowClick = null
    if (e.button !== 0 || !e.isPrimary) return
    const b = buttonHit(e)
    if (b) {
      // The press is the button's: no selection, no drag, no pan.
      e.stopPropagation()
      if (e.pointerType === 'mouse') e.preventDefault()
      endButton()
      btn = { b, pointer: e.pointerId, x0: e.clientX, y0: e.clientY }
      window.addEventListener('pointerup', onButtonUp, true)
      window.addEventListener('pointercancel', onButtonUp, true)
      return
    }
    const id = hit(e)
    if (!id) return
    e.stopPropagation()
    // No mousedown to follow (React Flow's panning and d3's listen to it), and no text selection.
    if (e.pointerType === 'mouse') e.preventDefault()
    const gs: Gesture = {
      id, pointer: e.pointerId, touch: e.pointerType === 'touch', x0: e.clientX, y0: e.clientY,
      mod: e.ctrlKey || e.metaKey || e.shiftKey, ids: null, starts: new Map(), grouped: false, press: 0,
    }
    g = gs
    // A finger resting on a node opens its menu, as touch.ts's long press does on the DOM's nodes.
    if (gs.touch) {
      gs.press = window.setTimeout(() => {
        gs.press = 0
        if (g !== gs || gs.ids) return
        if (!getState().selected.has(gs.id)) setState({ selected: new Set([gs.id]), selectedEdges: new Set() })
        navigator.vibrate?.(15)
        on.onContextMenu(gs.x0, gs.y0)
      }, longPressMs)
    }
    window.addEventListener('pointermove', onMove, true)
    window.addEventListener('pointerup', onUp, true)
    window.addEventListener('pointercancel', onCancel, true)
  }
  // A finger's touchstart (d3-zoom pans by it) and any mousedown of a press the canvas took go no further.
  const onTouchStart = (e: TouchEvent) => {
    if ((g?.touch || btn) && e.touches.length === 1) e.stopPropagation()
  }
  const onMouseDown = (e: MouseEvent) => {
    if (g || btn) e.stopPropagation()
  }
  const onClick = (e: MouseEvent) => {
    if (!swallowClick || performance.now() > swallowUntil) return
    const close = swallowClick === 'close'
    swallowClick = null
    // React Flow's pane would clear the selection just made.
    e.stopPropagation()
    if (close) on.onClick()
  }
  const onDblClick = (e: MouseEvent) => {
    // As in the DOM: a double click on the debug switch is two clicks of it; on the inject button, it opens the tray too.
    const b = buttonHit(e)
    if (b?.kind === 'debug') return e.stopPropagation()
    const id = b?.id ?? hit(e)
    if (!id) return
    e.stopPropagation()
    openTray(id)
  }
  const onContextMenu = (e: MouseEvent) => {
    // On a node's button, the node's menu, as in the DOM.
    const id = buttonHit(e)?.id ?? hit(e)
    if (!id) return
    e.stopPropagation()
    e.preventDefault()
    if (!getState().selected.has(id)) setState({ selected: new Set([id]), selectedEdges: new Set() })
    on.onContextMenu(e.clientX, e.clientY)
  }

  // On the document, capturing: React's own capturing listeners (React Flow's pane starts its rubber band in one)
  // are on its root element, under the document.
  const doc = root.ownerDocument
  const listeners: [string, (e: never) => void][] = [
    ['pointerdown', onDown], ['touchstart', onTouchStart], ['mousedown', onMouseDown],
    ['click', onClick], ['dblclick', onDblClick], ['contextmenu', onContextMenu],
  ]
  for (const [t, l] of listeners) doc.addEventListener(t, l as EventListener, true)
  return () => {
    cancel()
    endButton()
    for (const [t, l] of listeners) doc.removeEventListener(t, l as EventListener, true)
  }
}
