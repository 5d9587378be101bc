// The zoomed-out canvas. Below 50 % zoom (zoomDetail.tsx's levels 1 and 2:
// no icons, ports too small to wire, labels 7 px high or not drawn at all) a
// large flow's nodes and wires are drawn on one <canvas> the size of the
// viewport, redrawn in an animation frame from React Flow's viewport and
// nodes, as the DOM draws them at those levels (labels and ports from 30 %).
// React Flow keeps the nodes (rubber-band selection, the minimap, fitting
// the view and zooming back in work as before) but is given no wires, its
// flow nodes render nothing and their wrappers are display: none (Chromium
// neither paints nor hit-tests them). With 2,000 nodes on screen a pan step
// painted, layerized and hit-tested ~20,000 elements; now it clears and fills
// one bitmap. Pointer input on the nodes is lodPointer.ts's. Wiring needs
// ports that take the pointer: zoom in past 50 % to draw a wire, as before.
// A zoom that goes on on the canvas stays on it at any zoom until the zoom
// is still (useZoomHold): the elements come back once, not at each step.
import { useStoreApi, type Edge, type Node } from '@xyflow/react'
import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react'
import './canvasLod.css'
import { statuses } from './live'
import { drawScene } from './lodDraw'
import { installPointer, type Live, type PointerHandlers } from './lodPointer'

/** Flows with fewer nodes than this on the tab stay in the DOM at every zoom: their cost there is small. */
export const canvasMinNodes = 300

/** Whether a tab of count flow nodes, at level of detail `detail`, is drawn on the canvas: below 50 %. */
export const canvasFor = (detail: number, count: number) => detail > 0 && count >= canvasMinNodes

/** How long the zoom stays still before a zoom that went on on the canvas ends there (see useZoomHold). */
export const zoomHoldMs = 200

/**
 * Whether the canvas keeps drawing the flow at any zoom because a zoom that
 * began or went on while it drew is still going (the zoom changed less than
 * zoomHoldMs ago). At 2,000 nodes each wheel step in the DOM between 50 % and
 * 100 % cost ~34 ms and crossing 50 % one frame of 150-230 ms each way; on the
 * canvas a step costs ~5 ms. So a Ctrl+wheel, pinch, key or minimap zoom that
 * starts on the canvas stays there, and the flow's elements come back once,
 * when the zoom has been still for zoomHoldMs, if it ended at 50 % or above.
 * A zoom that starts in the DOM stays in it until it goes below 50 %. While
 * a pointer is pressed (a drag begun on the canvas) the hold is kept.
 * Re-renders the caller only when the hold starts and ends (call under ReactFlowProvider).
 */
export function useZoomHold(lod: { current: boolean }, large: boolean): boolean {
  const store = useStoreApi()
  const [holding, setHolding] = useState(false)
  const largeRef = useRef(large)
  largeRef.current = large
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let held = false
    // Pointers pressed: a drag or a rubber band begun on the canvas before the hold ends ends on it too.
    const down = new Set<number>()
    const press = (e: PointerEvent) => down.add(e.pointerId)
    const lift = (e: PointerEvent) => down.delete(e.pointerId)
    const forget = () => down.clear()
    window.addEventListener('pointerdown', press, true)
    window.addEventListener('pointerup', lift, true)
    window.addEventListener('pointercancel', lift, true)
    window.addEventListener('blur', forget)
    const release = () => {
      if (down.size) {
        timer = setTimeout(release, zoomHoldMs)
        return
      }
      timer = undefined
      held = false
      setHolding(false)
    }
    const unsubscribe = store.subscribe((s, prev) => {
      if (s.transform[2] === prev.transform[2]) return
      if (!held) {
        if (!lod.current || !largeRef.current) return
        held = true
        setHolding(true)
      }
      clearTimeout(timer)
      timer = setTimeout(release, zoomHoldMs)
    })
    return () => {
      unsubscribe()
      clearTimeout(timer)
      window.removeEventListener('pointerdown', press, true)
      window.removeEventListener('pointerup', lift, true)
      window.removeEventListener('pointercancel', lift, true)
      window.removeEventListener('blur', forget)
    }
  }, [store, lod])
  return holding
}

/** From this zoom up the canvas draws labels and ports (zoomDetail.tsx's level 1). */
const labelZoom = 0.3

/** Whether the canvas draws the flow: flow nodes render nothing meanwhile (their elements are hidden). */
export const LodContext = createContext(false)

/** True while the canvas draws the flow (call in a node under LodContext's provider). */
export function useLod(): boolean {
  return useContext(LodContext)
}

interface Props extends PointerHandlers {
  /** The workspace element: its pointer input on the nodes becomes the canvas's. */
  wrap: RefObject<HTMLElement | null>
  /** The tab's wires: React Flow is given none while the canvas draws them. */
  edges: Edge[]
}

/**
 * The canvas drawing of the flow (a child of ReactFlow, rendered only while
 * the zoomed-out level is in use; the workspace sets the class rn-lod that
 * hides React Flow's nodes and wires meanwhile).
 */
export function CanvasLOD({ wrap, edges, ...handlers }: Props) {
  const store = useStoreApi<Node, Edge>()
  const ref = useRef<HTMLCanvasElement>(null)
  const on = useRef(handlers)
  on.current = handlers
  const edgesRef = useRef(edges)
  edgesRef.current = edges
  const redraw = useRef(() => {})
  useEffect(() => redraw.current(), [edges])

  useLayoutEffect(() => {
    const canvas = ref.current
    const ctx = canvas?.getContext('2d')
    const root = wrap.current
    if (!canvas || !ctx || !root) return
    let frame = 0
    let size = ''
    const draw = () => {
      frame = 0
      const s = store.getState()
      const dpr = window.devicePixelRatio || 1
      const key = `${s.width}x${s.height}@${dpr}`
      if (key !== size) {
        size = key
        canvas.width = Math.round(s.width * dpr)
        canvas.height = Math.round(s.height * dpr)
        canvas.style.width = s.width + 'px'
        canvas.style.height = s.height + 'px'
      }
      const drawn = drawScene(ctx, {
        nodeLookup: s.nodeLookup, edges: edgesRef.current, transform: s.transform, width: s.width, height: s.height,
        moves: live.moves, status: (id) => statuses.get(id), labels: s.transform[2] >= labelZoom,
      }, dpr)
      // For the browser tests: what the last frame drew.
      ;(canvas as HTMLCanvasElement & { drawn?: unknown }).drawn = drawn
    }
    const live: Live = {
      moves: null,
      settling: false,
      redraw: () => {
        if (!frame) frame = requestAnimationFrame(draw)
      },
    }
    draw()
    redraw.current = live.redraw
    const unsubscribe = store.subscribe((s, prev) => {
      if (s.nodes !== prev.nodes && live.settling) {
        // The dropped nodes' positions have reached React Flow: draw from it again.
        live.moves = null
        live.settling = false
      }
      if (s.transform !== prev.transform || s.nodes !== prev.nodes || s.width !== prev.width || s.height !== prev.height) live.redraw()
    })
    const unStatus = statuses.subscribeAll(live.redraw)
    const uninstall = installPointer(root, canvas, store.getState, live, {
      onContextMenu: (x, y) => on.current.onContextMenu(x, y),
      onClick: () => on.current.onClick(),
      onGroupedDrag: (m) => on.current.onGroupedDrag(m),
    })
    return () => {
      cancelAnimationFrame(frame)
      redraw.current = () => {}
      unsubscribe()
      unStatus()
      uninstall()
    }
  }, [store, wrap])

  return <canvas ref={ref} className="rn-lod-canvas" aria-hidden="true" data-testid="lod-canvas" />
}
