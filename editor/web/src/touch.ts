// Touch input, so that a flow can be built on a tablet. HTML5 drag and drop
// never starts from a finger, and a finger has no right button, so:
// - a palette entry dragged with a finger follows it as a ghost (just above
//   the fingertip) and is added where the ghost is let go on the canvas; a
//   tap adds it at the centre of the visible canvas (the mouse keeps HTML5
//   drag and drop, and its click still shows the type's help);
// - a long press (500 ms, cancelled by moving more than 10 px or by a second
//   finger) on a node, a wire or the empty canvas opens the context menu a
//   right click opens, and a tap on the empty canvas clears the selection as
//   a click does.
// Wiring (drag from a port, or tap an output port and then an input port),
// moving nodes, panning and pinch zoom are React Flow's own touch handling;
// touch.css makes the ports big enough for a finger.
import { useStoreApi } from '@xyflow/react'
import { useEffect, useRef, type RefObject } from 'react'
import { isFlowNode } from './flowjson'
import { flowInstance, snap } from './Canvas'
import { addNode, getState } from './store'
import './touch.css'

/** How long a finger must rest for a long press, and how far it may wander meanwhile. */
export const longPressMs = 500
export const slop = 10
/** A finger resting this long on a palette entry picks it up, whichever way it then moves. */
const holdMs = 350

/** Whether the main pointer is a finger (a tablet or phone): ports and targets are made bigger. */
export const coarsePointer = () => typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches

/** Where a point of the screen lands on the canvas, or null when the canvas is not under it (or something covers it). */
function canvasAt(x: number, y: number): HTMLElement | null {
  const hit = document.elementFromPoint(x, y)
  if (!hit || hit.closest('.react-flow__minimap, .react-flow__controls, .rn-menu, .rn-flow-disabled-banner')) return null
  return hit.closest<HTMLElement>('.rn-canvas')
}

/**
 * Adds a node at the centre of the visible canvas, or below it when a node is
 * already there (each tap adds one more, so they must not hide each other).
 */
export function addAtCentre(type: string) {
  const el = document.querySelector('.rn-canvas')
  if (!el || !flowInstance) return
  const r = el.getBoundingClientRect()
  const p = flowInstance.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 2 })
  const s = getState()
  const x = snap(p.x)
  let y = snap(p.y)
  const taken = (y: number) => s.items.some((o) => o.z === s.tab && isFlowNode(o) && Math.abs((o.x ?? 0) - x) < 100 && Math.abs((o.y ?? 0) - y) < 30)
  for (let i = 0; i < 50 && taken(y); i++) y += 40
  return addNode(type, x, y)
}

/**
 * Moves a menu placed at a point left and up as far as it must to stay in the
 * window (a long press is often near the canvas's edge). A callback ref.
 */
export function keepInWindow(el: HTMLElement | null) {
  if (!el) return
  const r = el.getBoundingClientRect()
  const dx = r.right - (window.innerWidth - 4)
  const dy = r.bottom - (window.innerHeight - 4)
  if (dx > 0) el.style.left = `${el.offsetLeft - Math.min(dx, r.left - 4)}px`
  if (dy > 0) el.style.top = `${el.offsetTop - Math.min(dy, r.top - 4)}px`
}

/**
 * A palette entry dragged with a finger is shown centred this far above the
 * finger, so that the finger does not hide it, and lands where it is shown.
 */
export const ghostLift = 40
const dropPoint = (x: number, y: number) => [x, y - ghostLift]

interface PaletteGesture {
  id: number
  type: string
  item: HTMLElement
  x0: number
  y0: number
  dragging: boolean
  hold: number
  ghost?: HTMLElement
  over?: HTMLElement | null
}

/**
 * Touch on the palette: drag an entry onto the canvas, or tap it. Installed on
 * the palette's element; entries are found by their data-type attribute.
 */
export function usePaletteTouch(ref: RefObject<HTMLElement | null>) {
  useEffect(() => {
    const root = ref.current
    if (!root) return
    let g: PaletteGesture | null = null
    /** The click that follows a touch on an entry is not the mouse's click (help): swallowed. */
    let swallowClickUntil = 0

    const setOver = (el: HTMLElement | null) => {
      if (!g || g.over === el) return
      g.over?.classList.remove('rn-touch-over')
      el?.classList.add('rn-touch-over')
      g.over = el
    }
    const startDrag = () => {
      if (!g || g.dragging) return
      g.dragging = true
      clearTimeout(g.hold)
      const r = g.item.getBoundingClientRect()
      const ghost = g.item.cloneNode(true) as HTMLElement
      ghost.classList.add('rn-touch-ghost')
      ghost.removeAttribute('tabindex')
      ghost.setAttribute('aria-hidden', 'true')
      ghost.style.width = r.width + 'px'
      ghost.style.height = r.height + 'px'
      document.body.appendChild(ghost)
      g.ghost = ghost
      g.item.classList.add('rn-touch-source')
    }
    const moveGhost = (x: number, y: number) => {
      if (!g?.ghost) return
      const [gx, gy] = dropPoint(x, y)
      g.ghost.style.transform = `translate(${gx - g.ghost.offsetWidth / 2}px, ${gy - g.ghost.offsetHeight / 2}px)`
      setOver(canvasAt(gx, gy))
    }
    const end = () => {
      if (!g) return
      clearTimeout(g.hold)
      g.ghost?.remove()
      g.item.classList.remove('rn-touch-source')
      setOver(null)
      g = null
      window.removeEventListener('pointermove', onMove)
      window.removeEventListener('pointerup', onUp)
      window.removeEventListener('pointercancel', onCancel)
    }

    const onDown = (e: PointerEvent) => {
      if (e.pointerType !== 'touch' || !e.isPrimary) return
      const item = (e.target as Element).closest<HTMLElement>('.rn-palette-node[data-type]')
      if (!item || !root.contains(item)) return
      end()
      g = { id: e.pointerId, type: item.dataset.type!, item, x0: e.clientX, y0: e.clientY, dragging: false, hold: 0 }
      const mine = g
      // Resting on the entry picks it up; then moving up or down drags it instead of scrolling the palette.
      g.hold = window.setTimeout(() => {
        if (g !== mine) return
        startDrag()
        moveGhost(mine.x0, mine.y0)
      }, holdMs)
      window.addEventListener('pointermove', onMove)
      window.addEventListener('pointerup', onUp)
      window.addEventListener('pointercancel', onCancel)
    }
    const onMove = (e: PointerEvent) => {
      if (!g || e.pointerId !== g.id) return
      if (!g.dragging) {
        const dx = e.clientX - g.x0, dy = e.clientY - g.y0
        if (dx * dx + dy * dy < slop * slop) return
        // Sideways (towards the canvas) picks the entry up; up or down is the palette scrolling (touch-action: pan-y).
        if (Math.abs(dx) < Math.abs(dy)) {
          end()
          return
        }
        startDrag()
      }
      moveGhost(e.clientX, e.clientY)
    }
    const onUp = (e: PointerEvent) => {
      if (!g || e.pointerId !== g.id) return
      const { type, dragging } = g
      swallowClickUntil = performance.now() + 600
      if (!dragging) {
        end()
        addAtCentre(type)
        return
      }
      const [x, y] = dropPoint(e.clientX, e.clientY)
      const canvas = canvasAt(x, y)
      end()
      if (canvas && flowInstance) {
        const p = flowInstance.screenToFlowPosition({ x, y })
        addNode(type, snap(p.x), snap(p.y))
      }
    }
    const onCancel = (e: PointerEvent) => {
      if (g && e.pointerId === g.id) end()
    }
    // Once an entry is picked up, the finger moves it, not the palette (needs a listener that may cancel).
    const onTouchMove = (e: TouchEvent) => {
      if (g?.dragging && e.cancelable) e.preventDefault()
    }
    const onClick = (e: MouseEvent) => {
      if (performance.now() < swallowClickUntil && (e.target as Element).closest('.rn-palette-node')) {
        swallowClickUntil = 0
        e.preventDefault()
        e.stopPropagation()
      }
    }
    // A browser that starts its own drag on a long press would cancel ours.
    const onDragStart = (e: DragEvent) => {
      if (g) e.preventDefault()
    }
    root.addEventListener('pointerdown', onDown)
    root.addEventListener('touchmove', onTouchMove, { passive: false })
    root.addEventListener('click', onClick, true)
    root.addEventListener('dragstart', onDragStart, true)
    return () => {
      end()
      root.removeEventListener('pointerdown', onDown)
      root.removeEventListener('touchmove', onTouchMove)
      root.removeEventListener('click', onClick, true)
      root.removeEventListener('dragstart', onDragStart, true)
    }
  }, [ref])
}

/**
 * A finger on the canvas. A long press calls onLongPress with the point and the
 * node or wire under it (neither on the empty canvas), as a right click would; not on
 * ports (a finger resting on a port is about to draw a wire), nor on the
 * canvas's own controls and menu. A tap on the empty canvas calls onPaneTap
 * and ends a wire begun by tapping a port: React Flow's pane takes a finger
 * for panning and, with selectionOnDrag, never sees that tap as a click.
 */
export function useCanvasTouch(
  ref: RefObject<HTMLElement | null>,
  on: { onLongPress: (x: number, y: number, at: { node?: string; edge?: string }) => void; onPaneTap: () => void },
) {
  const onRef = useRef(on)
  onRef.current = on
  const flow = useStoreApi()
  useEffect(() => {
    const root = ref.current
    if (!root) return
    let timer = 0
    let id = -1
    let x0 = 0, y0 = 0
    let onPane = false
    const fingers = new Set<number>()
    /** After a long press, the finger's lifting must not click (that would close the menu or select). */
    let fired = false
    let swallowUntil = 0
    const cancel = () => {
      clearTimeout(timer)
      timer = 0
      id = -1
    }
    const onDown = (e: PointerEvent) => {
      if (e.pointerType !== 'touch') return
      fingers.add(e.pointerId)
      cancel()
      fired = false
      // A second finger is a pinch, not a long press.
      if (fingers.size > 1) return
      const t = e.target as Element
      if (t.closest('.react-flow__handle, .react-flow__minimap, .react-flow__controls, .rn-menu, button, input, textarea, select')) return
      const node = t.closest<HTMLElement>('.react-flow__node')?.dataset.id
      const edge = t.closest<HTMLElement>('.react-flow__edge')?.dataset.id
      onPane = t.classList.contains('react-flow__pane')
      if (!node && !edge && !onPane && !t.closest('.react-flow__nodesselection')) return
      id = e.pointerId
      x0 = e.clientX
      y0 = e.clientY
      timer = window.setTimeout(() => {
        timer = 0
        fired = true
        swallowUntil = performance.now() + 5000
        navigator.vibrate?.(15)
        onRef.current.onLongPress(x0, y0, { node, edge })
      }, longPressMs)
    }
    const onMove = (e: PointerEvent) => {
      if (e.pointerId !== id || !timer) return
      const dx = e.clientX - x0, dy = e.clientY - y0
      if (dx * dx + dy * dy > slop * slop) cancel()
    }
    const onUp = (e: PointerEvent) => {
      fingers.delete(e.pointerId)
      if (e.pointerId !== id) return
      const tap = !!timer && onPane && e.type === 'pointerup'
      cancel()
      if (fired) swallowUntil = performance.now() + 600
      if (tap) {
        if (flow.getState().connectionClickStartHandle) flow.setState({ connectionClickStartHandle: null })
        onRef.current.onPaneTap()
      }
    }
    const onClick = (e: MouseEvent) => {
      if (!fired || performance.now() > swallowUntil) return
      fired = false
      e.preventDefault()
      e.stopPropagation()
    }
    // The browser's own long-press menu (Chrome on Android fires contextmenu) is ours already.
    const onContextMenu = (e: MouseEvent) => {
      if (!fired && !timer) return
      e.preventDefault()
      e.stopPropagation()
    }
    root.addEventListener('pointerdown', onDown, true)
    root.addEventListener('pointermove', onMove, true)
    root.addEventListener('pointerup', onUp, true)
    root.addEventListener('pointercancel', onUp, true)
    root.addEventListener('click', onClick, true)
    root.addEventListener('contextmenu', onContextMenu, true)
    return () => {
      cancel()
      root.removeEventListener('pointerdown', onDown, true)
      root.removeEventListener('pointermove', onMove, true)
      root.removeEventListener('pointerup', onUp, true)
      root.removeEventListener('pointercancel', onUp, true)
      root.removeEventListener('click', onClick, true)
      root.removeEventListener('contextmenu', onContextMenu, true)
    }
  }, [ref, flow])
}
