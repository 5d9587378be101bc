// The editor's main area: the palette, the canvas and the sidebar side by
// side. The palette and the sidebar can be resized (drag the handle on their
// inner edge, or focus it and press the arrow keys) and collapsed (the button
// at their foot; a collapsed one leaves a thin strip that reopens it). What
// the user chose is remembered (layoutPrefs.ts).
import { ControlButton } from '@xyflow/react'
import { useEffect, useRef, useState, type ReactNode } from 'react'
import {
  clamp, paletteLimits, setPrefs, sidebarLimits, stripWidth, toggleMinimap, useMinimap, usePrefs, widths,
} from './layoutPrefs'
import { setState, useEditor } from './store'
import './layout.css'

function useWindowWidth(): number {
  const [w, setW] = useState(() => window.innerWidth)
  useEffect(() => {
    const on = () => setW(window.innerWidth)
    window.addEventListener('resize', on)
    return () => window.removeEventListener('resize', on)
  }, [])
  return w
}

/** Stores the sidebar's open state when it changes (a button, Ctrl+Space, a menu), not the default it started with. */
function useRememberSidebar(open: boolean) {
  const last = useRef(open)
  useEffect(() => {
    if (last.current === open) return
    last.current = open
    setPrefs({ sidebarOpen: open })
  }, [open])
}

interface ResizerProps {
  side: 'palette' | 'sidebar'
  /** The width shown now. */
  width: number
  min: number
  max: number
  /** Where the handle sits: its distance from the left (palette) or the right (sidebar) of the main area. */
  at: number
  onWidth: (w: number) => void
}

/** The handle on a pane's inner edge: drag it, or focus it and use the arrow keys, Home and End; double-click restores the initial width. */
function Resizer({ side, width, min, max, at, onWidth }: ResizerProps) {
  const drag = useRef<{ x: number; w: number } | null>(null)
  // Dragging right widens the palette and narrows the sidebar.
  const sign = side === 'palette' ? 1 : -1
  const label = side === 'palette' ? 'Resize palette' : 'Resize sidebar'
  return (
    <div
      className={'rn-resizer ' + side}
      style={side === 'palette' ? { left: at - 3 } : { right: at - 3 }}
      role="separator"
      aria-orientation="vertical"
      aria-label={label}
      aria-valuenow={width}
      aria-valuemin={min}
      aria-valuemax={max}
      tabIndex={0}
      title={label + ' (drag, or arrow keys; double-click for the initial width)'}
      data-testid={side + '-resizer'}
      onPointerDown={(e) => {
        if (e.button !== 0) return
        e.preventDefault()
        e.currentTarget.setPointerCapture(e.pointerId)
        drag.current = { x: e.clientX, w: width }
        document.body.classList.add('rn-resizing')
      }}
      onPointerMove={(e) => {
        const d = drag.current
        if (!d) return
        onWidth(clamp(d.w + sign * (e.clientX - d.x), { min, max }))
      }}
      onPointerUp={(e) => {
        drag.current = null
        e.currentTarget.releasePointerCapture(e.pointerId)
        document.body.classList.remove('rn-resizing')
      }}
      onLostPointerCapture={() => {
        drag.current = null
        document.body.classList.remove('rn-resizing')
      }}
      onDoubleClick={() => onWidth((side === 'palette' ? paletteLimits : sidebarLimits).initial)}
      onKeyDown={(e) => {
        const step = e.shiftKey ? 50 : 10
        let w: number | null = null
        if (e.key === 'ArrowLeft') w = width - sign * step
        else if (e.key === 'ArrowRight') w = width + sign * step
        else if (e.key === 'Home') w = min
        else if (e.key === 'End') w = max
        if (w === null) return
        e.preventDefault()
        e.stopPropagation()
        onWidth(clamp(w, { min, max }))
      }}
    />
  )
}

/** The strip a collapsed pane leaves: a click reopens the pane. */
function Strip({ side, onOpen }: { side: 'palette' | 'sidebar'; onOpen: () => void }) {
  return (
    <button className={'rn-strip ' + side} onClick={onOpen} aria-label={'Show ' + side} title={'Show ' + side + (side === 'sidebar' ? ' (Ctrl+Space)' : '')} data-testid={side + '-strip'}>
      <span className="rn-strip-arrow" aria-hidden="true">{side === 'palette' ? '›' : '‹'}</span>
      <span className="rn-strip-label">{side}</span>
    </button>
  )
}

/** The foot of an open pane, with the button that collapses it. */
function Foot({ side, onClose }: { side: 'palette' | 'sidebar'; onClose: () => void }) {
  return (
    <div className={'rn-pane-foot ' + side}>
      <button onClick={onClose} aria-label={'Hide ' + side} title={'Hide ' + side + (side === 'sidebar' ? ' (Ctrl+Space)' : '')} data-testid={side + '-toggle'}>
        {side === 'palette' ? '‹' : '›'}
      </button>
    </div>
  )
}

/** The main area: palette, canvas and sidebar in a grid whose columns follow the user's layout; children (the tray) float over it. */
export function MainLayout({ palette, canvas, sidebar, children }: { palette: ReactNode; canvas: ReactNode; sidebar: ReactNode; children?: ReactNode }) {
  const prefs = usePrefs()
  const sidebarOpen = useEditor((s) => s.sidebarOpen)
  const paletteOpen = prefs.paletteOpen ?? true
  const windowWidth = useWindowWidth()
  useRememberSidebar(sidebarOpen)
  const w = widths(prefs, windowWidth)
  const left = paletteOpen ? w.palette : stripWidth
  const right = sidebarOpen ? w.sidebar : stripWidth
  return (
    <main
      className={'rn-main' + (paletteOpen ? '' : ' palette-collapsed') + (sidebarOpen ? '' : ' sidebar-collapsed')}
      style={{ gridTemplateColumns: `${left}px minmax(0, 1fr) ${right}px` }}
    >
      {paletteOpen ? (
        <div className="rn-pane palette">
          {palette}
          <Foot side="palette" onClose={() => setPrefs({ paletteOpen: false })} />
        </div>
      ) : (
        <Strip side="palette" onOpen={() => setPrefs({ paletteOpen: true })} />
      )}
      {canvas}
      {sidebarOpen ? (
        <div className="rn-pane sidebar">
          {sidebar}
          <Foot side="sidebar" onClose={() => setState({ sidebarOpen: false })} />
        </div>
      ) : (
        <Strip side="sidebar" onOpen={() => setState({ sidebarOpen: true })} />
      )}
      {paletteOpen && (
        <Resizer side="palette" width={w.palette} min={paletteLimits.min} max={paletteLimits.max} at={left} onWidth={(x) => setPrefs({ paletteWidth: x })} />
      )}
      {sidebarOpen && (
        <Resizer side="sidebar" width={w.sidebar} min={sidebarLimits.min} max={w.sidebarMax} at={right} onWidth={(x) => setPrefs({ sidebarWidth: x })} />
      )}
      {children}
    </main>
  )
}

/** The canvas control that shows or hides the minimap (hidden unless the user asked for it). */
export function MinimapButton() {
  const on = useMinimap()
  return (
    <ControlButton
      onClick={toggleMinimap}
      className={'rn-minimap-toggle' + (on ? ' on' : '')}
      title={on ? 'Hide the minimap' : 'Show the minimap'}
      aria-label={on ? 'Hide the minimap' : 'Show the minimap'}
      aria-pressed={on}
      data-testid="minimap-toggle"
    >
      <svg viewBox="0 0 16 16" aria-hidden="true">
        <rect x="1.5" y="2.5" width="13" height="11" rx="1" fill="none" stroke="currentColor" strokeWidth="1.4" />
        <rect x="8" y="8" width="5" height="4" fill="currentColor" />
      </svg>
    </ControlButton>
  )
}

export { useMinimap }
