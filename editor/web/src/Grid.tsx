// The canvas's grid: lines every `gap` flow units, where React Flow's
// <Background variant="lines"> draws them (nodes snap to them), but drawn so
// that a pan does not repaint it. React Flow's Background is an SVG pattern
// whose offset follows the viewport, so every pan step re-rasterises the whole
// pane (3-4 ms a frame in software rendering, with 2,000 nodes enough to miss
// every other frame). Here the lines are drawn once on a <canvas> one cell
// larger than the pane, on a layer of its own (will-change: transform), and a
// pan only moves that layer by the viewport's offset modulo one cell: the
// compositor moves pixels already drawn. A zoom changes the cell's size on
// screen: zoomed in by a step or two, the lines drawn are scaled meanwhile and
// drawn again once the zoom stops; zoomed out (the scaled lines would not
// cover the pane) or further, they are drawn again at once. A resize of the
// pane draws them again too.
import { useStoreApi } from '@xyflow/react'
import { useLayoutEffect, useRef } from 'react'

const mod = (a: number, n: number) => ((a % n) + n) % n

export function Grid({ gap, color }: { gap: number; color: string }) {
  const store = useStoreApi()
  const ref = useRef<HTMLCanvasElement>(null)
  useLayoutEffect(() => {
    const el = ref.current
    if (!el) return
    const ctx = el.getContext('2d')
    if (!ctx) return
    // What the canvas was last drawn for: the cell on screen, the pane's size, the device pixel ratio.
    let drawn = { cell: 0, w: 0, h: 0, dpr: 0 }
    let lastT = ''
    let later = 0
    const draw = (cell: number, w: number, h: number, dpr: number, maxCell: number) => {
      // Sized for the largest cell (the most zoomed in): a zoom draws again, but on the same canvas.
      const cw = w + maxCell + 2, ch = h + maxCell + 2
      const pw = Math.ceil(cw * dpr), ph = Math.ceil(ch * dpr)
      if (el.width !== pw || el.height !== ph) {
        el.width = pw
        el.height = ph
        el.style.width = pw / dpr + 'px'
        el.style.height = ph / dpr + 'px'
      } else {
        ctx.setTransform(1, 0, 0, 1, 0, 0)
        ctx.clearRect(0, 0, pw, ph)
      }
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
      ctx.fillStyle = color
      // As React Flow's pattern strokes them: one CSS pixel wide, centred on the grid's coordinate. Lines at
      // 0, cell, 2·cell… of the canvas, which the transform puts on the grid's coordinates on screen.
      const vw = w + cell + 1, vh = h + cell + 1
      ctx.beginPath()
      for (let x = 0; x <= vw; x += cell) ctx.rect(x - 0.5, 0, 1, vh)
      for (let y = 0; y <= vh; y += cell) ctx.rect(0, y - 0.5, vw, 1)
      ctx.fill()
      drawn = { cell, w, h, dpr }
    }
    const apply = () => {
      const s = store.getState()
      const [tx, ty, k] = s.transform
      const w = s.width, h = s.height
      if (!w || !h) return
      const cell = gap * k || 1
      const dpr = window.devicePixelRatio || 1
      clearTimeout(later)
      let scale = 1
      if (w !== drawn.w || h !== drawn.h || dpr !== drawn.dpr) draw(cell, w, h, dpr, gap * s.maxZoom)
      else if (cell !== drawn.cell) {
        // A zoom step: the lines drawn, scaled, while the zoom goes on (a zoom in of up to a quarter); drawn again at
        // the new size once it has stopped. Scaled down they would not cover the pane, and scaled far up they blur.
        scale = cell / drawn.cell
        if (scale < 1 || scale > 1.25) (scale = 1), draw(cell, w, h, dpr, gap * s.maxZoom)
        else later = window.setTimeout(apply, 150)
      }
      const t = `translate(${mod(tx, cell) - cell}px,${mod(ty, cell) - cell}px)` + (scale === 1 ? '' : ` scale(${scale})`)
      if (t !== lastT) el.style.transform = lastT = t
    }
    apply()
    const off = store.subscribe((s, p) => {
      if (s.transform !== p.transform || s.width !== p.width || s.height !== p.height) apply()
    })
    return () => {
      off()
      clearTimeout(later)
    }
  }, [store, gap, color])
  return (
    <div className="rn-grid" aria-hidden>
      <canvas ref={ref} />
    </div>
  )
}
