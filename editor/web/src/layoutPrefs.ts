// The editor's layout preferences: the palette's and the sidebar's widths,
// whether the palette is collapsed, and whether the canvas shows its minimap
// (whether the sidebar is open lives in the editor's store, as sidebarOpen,
// because menus and shortcuts open it). Kept in localStorage, so that they
// survive reloads; only what the user chose is stored, so that a default
// (the sidebar collapsed on a narrow window) follows the window it opens in.
import { useSyncExternalStore } from 'react'

export interface Limits {
  min: number
  max: number
  initial: number
}

export const paletteLimits: Limits = { min: 120, max: 400, initial: 180 }
export const sidebarLimits: Limits = { min: 240, max: 800, initial: 340 }
/** The width of the strip a collapsed palette or sidebar leaves, to reopen it. */
export const stripWidth = 24
/** Windows narrower than this start with the sidebar collapsed (unless the user chose otherwise). */
export const narrowWidth = 900
/** What the palette and the sidebar leave the canvas at least, when the window allows. */
export const minCanvas = 360

export interface Prefs {
  paletteWidth?: number
  sidebarWidth?: number
  paletteOpen?: boolean
  sidebarOpen?: boolean
  minimap?: boolean
}

const storageKey = 'runnel.layout'

function load(): Prefs {
  try {
    const v = JSON.parse(localStorage.getItem(storageKey) ?? '{}')
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {}
    const p: Prefs = {}
    for (const k of ['paletteWidth', 'sidebarWidth'] as const) if (typeof v[k] === 'number' && Number.isFinite(v[k])) p[k] = v[k]
    for (const k of ['paletteOpen', 'sidebarOpen', 'minimap'] as const) if (typeof v[k] === 'boolean') p[k] = v[k]
    return p
  } catch {
    return {}
  }
}

let prefs: Prefs = load()
const subs = new Set<() => void>()

/** Records the user's choices and stores them. */
export function setPrefs(patch: Prefs) {
  prefs = { ...prefs, ...patch }
  try {
    localStorage.setItem(storageKey, JSON.stringify(prefs))
  } catch {
    /* storage full or disabled: the choice lasts until the page reloads */
  }
  subs.forEach((l) => l())
}

export function getPrefs(): Prefs {
  return prefs
}

function subscribe(l: () => void) {
  subs.add(l)
  return () => {
    subs.delete(l)
  }
}

export function usePrefs(): Prefs {
  return useSyncExternalStore(subscribe, getPrefs)
}

export function useMinimap(): boolean {
  return usePrefs().minimap ?? false
}

export function toggleMinimap() {
  setPrefs({ minimap: !(prefs.minimap ?? false) })
}

/** Whether the sidebar starts open: as the user left it, or open unless the window is narrow. */
export function initialSidebarOpen(): boolean {
  if (prefs.sidebarOpen !== undefined) return prefs.sidebarOpen
  return typeof window === 'undefined' || window.innerWidth >= narrowWidth
}

export const clamp = (v: number, l: { min: number; max: number }) => Math.round(Math.min(l.max, Math.max(l.min, v)))

/**
 * The palette's and sidebar's widths for a window width: the user's widths
 * within their limits, the sidebar narrowed (not below its minimum) so that
 * the canvas keeps minCanvas pixels. The stored widths are kept as chosen, so
 * that a wider window gives them back.
 */
export function widths(p: Prefs, windowWidth: number): { palette: number; sidebar: number; sidebarMax: number } {
  const palette = clamp(p.paletteWidth ?? paletteLimits.initial, paletteLimits)
  const sidebarMax = Math.max(sidebarLimits.min, Math.min(sidebarLimits.max, windowWidth - palette - minCanvas))
  const sidebar = clamp(p.sidebarWidth ?? sidebarLimits.initial, { min: sidebarLimits.min, max: sidebarMax })
  return { palette, sidebar, sidebarMax }
}
