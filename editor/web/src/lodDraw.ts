// Drawing a zoomed-out flow on one <canvas> (CanvasLOD.tsx): each flow node a
// rectangle of its palette colour, each wire the bezier React Flow would draw,
// read from React Flow's own node lookup (positions, sizes and ports) so that
// the picture is the one the DOM would show. Groups and a subflow's ports stay
// in the DOM (there are few of them); their wires are drawn here too.
import type { Edge, InternalNode, Node } from '@xyflow/react'
import type { NodeData } from './FlowNode'
import type { StatusData } from './types'

/** Where a dragged node's centre is, by id (the drag is drawn before React Flow hears of it). */
export type Moves = Map<string, { x: number; y: number }>

export interface Scene {
  nodeLookup: Map<string, InternalNode<Node>>
  edges: Edge[]
  /** React Flow's viewport: translate x, y and zoom. */
  transform: [number, number, number]
  /** The canvas's size in CSS pixels. */
  width: number
  height: number
  moves: Moves | null
  status: (id: string) => StatusData | undefined
  /** Draw the nodes' labels and ports (zoomDetail.tsx's level 1, 30 % to 50 %; below, neither is drawn in the DOM either). */
  labels: boolean
}

const select = '#ff7f0e'
const wire = '#999'
const statusFill: Record<string, string> = { red: '#c00', green: '#5a8', yellow: '#F9DF31', blue: '#53A3F3', grey: '#c0c0c0' }

interface Box {
  x: number
  y: number
  w: number
  h: number
}

/** A node's box in flow coordinates, where a drag in progress has it. */
function boxOf(n: InternalNode<Node>, moves: Moves | null): Box {
  const w = n.measured.width ?? n.width ?? 0
  const h = n.measured.height ?? n.height ?? 0
  const m = moves?.get(n.id)
  // Flow nodes are placed by their centre (Canvas.tsx's nodeOrigin).
  if (m) return { x: m.x - w / 2, y: m.y - h / 2, w, h }
  return { x: n.internals.positionAbsolute.x, y: n.internals.positionAbsolute.y, w, h }
}

type Handle = { id?: string | null; x: number; y: number; width: number; height: number; position: string }

/** Where a wire leaves or enters a node, as React Flow's getHandlePosition puts it: the port's outer edge, halfway down. */
function portPoint(n: InternalNode<Node>, b: Box, kind: 'source' | 'target', id: string | null | undefined): [number, number] | null {
  const bounds = (n.internals.handleBounds?.[kind] ?? n.handles?.filter((h) => h.type === kind)) as Handle[] | null | undefined
  if (!bounds?.length) return null
  const h = (id ? bounds.find((x) => x.id === id) : bounds[0]) ?? null
  if (!h) return null
  const x = b.x + h.x, y = b.y + h.y + h.height / 2
  return [h.position === 'right' ? x + h.width : h.position === 'left' ? x : x + h.width / 2, y]
}

/** React Flow's calculateControlOffset, curvature 0.25. */
const offset = (d: number) => (d >= 0 ? 0.5 * d : 0.25 * 25 * Math.sqrt(-d))

/**
 * Draws the scene on ctx (a canvas of width × height CSS pixels at dpr device
 * pixels each): wires, then selected wires, then nodes with their outlines,
 * changed marks and status dots. Returns how many nodes and wires it drew
 * (those on screen).
 */
export function drawScene(ctx: CanvasRenderingContext2D, s: Scene, dpr: number): { nodes: number; wires: number } {
  const [tx, ty, z] = s.transform
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  ctx.clearRect(0, 0, s.width, s.height)
  // From here on, flow coordinates; px is one CSS pixel in them.
  ctx.setTransform(dpr * z, 0, 0, dpr * z, dpr * tx, dpr * ty)
  const px = 1 / z
  const vx0 = -tx / z, vy0 = -ty / z, vx1 = vx0 + s.width / z, vy1 = vy0 + s.height / z
  const onScreen = (x0: number, y0: number, x1: number, y1: number) => x1 >= vx0 && x0 <= vx1 && y1 >= vy0 && y0 <= vy1

  const boxes = new Map<string, Box>()
  const box = (n: InternalNode<Node>) => {
    let b = boxes.get(n.id)
    if (!b) boxes.set(n.id, (b = boxOf(n, s.moves)))
    return b
  }

  // Wires: one path for the plain ones, one for the selected (drawn over them, as the DOM's selected wire is).
  let wires = 0
  const plain = new Path2D(), chosen = new Path2D()
  for (const e of s.edges) {
    if (e.hidden) continue
    const a = s.nodeLookup.get(e.source), b = s.nodeLookup.get(e.target)
    if (!a || !b) continue
    const p = portPoint(a, box(a), 'source', e.sourceHandle), q = portPoint(b, box(b), 'target', e.targetHandle)
    if (!p || !q) continue
    const c1 = p[0] + offset(q[0] - p[0]), c2 = q[0] - offset(q[0] - p[0])
    if (!onScreen(Math.min(p[0], q[0], c2), Math.min(p[1], q[1]), Math.max(p[0], q[0], c1), Math.max(p[1], q[1]))) continue
    const path = e.selected ? chosen : plain
    path.moveTo(p[0], p[1])
    path.bezierCurveTo(c1, p[1], c2, q[1], q[0], q[1])
    wires++
  }
  // 3 px wide, as the DOM draws them, but never thinner than a pixel on screen.
  ctx.lineWidth = Math.max(3, px)
  ctx.strokeStyle = wire
  ctx.stroke(plain)
  ctx.lineWidth = Math.max(3, 1.5 * px)
  ctx.strokeStyle = select
  ctx.stroke(chosen)

  // Nodes: one path per fill colour (half transparent when disabled), then the outlines.
  const fills = new Map<string, Path2D>()
  const faded = new Map<string, Path2D>()
  const border = new Path2D(), selected = new Path2D(), invalid = new Path2D(), unknown = new Path2D(), changed = new Path2D()
  const dots = new Map<string, Path2D>()
  const ports = new Path2D()
  const text: [string, number, number, boolean][] = []
  let nodes = 0
  const mark = Math.max(9, 2 * px)
  for (const n of s.nodeLookup.values()) {
    if (n.type !== 'flow' || n.hidden) continue
    const b = box(n)
    if (!onScreen(b.x - 26, b.y, b.x + b.w + 26, b.y + b.h + mark + 3)) continue
    nodes++
    const d = n.data as NodeData
    const colour = d.type?.color ?? (d.type ? '#ddd' : '#fff')
    const group = d.obj.d === true ? faded : fills
    const fill = (c: string) => {
      let f = group.get(c)
      if (!f) group.set(c, (f = new Path2D()))
      return f
    }
    fill(colour).rect(b.x, b.y, b.w, b.h)
    if (!d.type) unknown.rect(b.x, b.y, b.w, b.h)
    else border.rect(b.x, b.y, b.w, b.h)
    // The inject button on the left, the debug node's switch on the right (FlowNode.tsx, 22 px squares).
    const cy = b.y + b.h / 2 - 11
    if (d.type?.button) {
      fill('#a6bbcf').rect(b.x - 26, cy, 22, 22)
      border.rect(b.x - 26, cy, 22, 22)
    }
    if (d.obj.type === 'debug') {
      fill(d.obj.active !== false ? '#87a980' : '#eee').rect(b.x + b.w + 4, cy, 22, 22)
      border.rect(b.x + b.w + 4, cy, 22, 22)
    }
    if (d.problems?.length) invalid.rect(b.x - px, b.y - px, b.w + 2 * px, b.h + 2 * px)
    if (n.selected) {
      const o = d.problems?.length ? 3 * px : px
      selected.rect(b.x - o, b.y - o, b.w + 2 * o, b.h + 2 * o)
    }
    if (s.labels) {
      // As FlowNode draws them at this level: no icon, the label 10 px in (right-aligned for an icon-right node), ports 10 px squares.
      if (d.label) text.push([d.label, d.iconRight ? b.x + b.w - 11 : b.x + 11, b.y + b.h / 2, d.iconRight])
      if (d.inputs > 0) ports.rect(b.x - 5, b.y + b.h / 2 - 5, 10, 10)
      const hs = n.internals.handleBounds?.source
      if (hs) for (const h of hs) ports.rect(b.x + h.x, b.y + h.y, h.width, h.height)
    }
    if (d.changed) changed.rect(b.x + b.w - mark / 2, b.y - mark / 2, mark, mark)
    const st = s.status(n.id)
    if (st && (st.fill || st.shape)) {
      const c = statusFill[st.fill ?? 'grey'] ?? statusFill.grey
      let p = dots.get(c)
      if (!p) dots.set(c, (p = new Path2D()))
      p.rect(b.x, b.y + b.h + 3, mark, mark)
    }
  }
  for (const [c, p] of fills) {
    ctx.fillStyle = c
    ctx.fill(p)
  }
  if (faded.size) {
    ctx.globalAlpha = 0.5
    for (const [c, p] of faded) {
      ctx.fillStyle = c
      ctx.fill(p)
    }
    ctx.globalAlpha = 1
  }
  if (text.length) {
    ctx.fillStyle = '#d9d9d9'
    ctx.fill(ports)
    border.addPath(ports)
  }
  ctx.lineWidth = Math.max(1, 0.5 * px)
  ctx.strokeStyle = '#999'
  ctx.stroke(border)
  if (text.length) {
    ctx.fillStyle = '#333'
    ctx.font = '14px Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif'
    ctx.textBaseline = 'middle'
    for (const [t, x, y, right] of text) {
      ctx.textAlign = right ? 'right' : 'left'
      ctx.fillText(t, x, y)
    }
  }
  ctx.strokeStyle = '#d00'
  ctx.setLineDash([4 * px, 2 * px])
  ctx.stroke(unknown)
  ctx.setLineDash([])
  // Outlines 2 px wide on screen, however far out: a selection must show.
  ctx.lineWidth = 2 * px
  ctx.stroke(invalid)
  ctx.strokeStyle = select
  ctx.stroke(selected)
  ctx.fillStyle = '#00bcff'
  ctx.fill(changed)
  for (const [c, p] of dots) {
    ctx.fillStyle = c
    ctx.fill(p)
  }
  return { nodes, wires }
}
