// Navigation: the workspace search (Ctrl+F), quick-add (/ and Ctrl+click on
// the canvas), jumping to a node, and remembering the open tab. The
// overlays' state lives here, outside the editor's store, so that opening
// the search is not an edit and no other component re-renders for it.
import { useEffect, useSyncExternalStore } from 'react'
import { flowInstance } from './Canvas'
import { isConfigNode, isFlowNode, isTab } from './flowjson'
import { isGroup } from './groups'
import { paletteLabel } from './Palette'
import { getState, nodeLabel, outputsOf, reveal, setTab, subscribe, typeOf } from './store'
import { rememberTab } from './tabmemory'
import type { FlowObj, NodeType } from './types'

export interface QuickAddAt {
  /** Where the list opens, in client coordinates. */
  client: { x: number; y: number }
  /** Where the node goes, in flow coordinates. */
  flow: { x: number; y: number }
  /** The node the new one is wired from (its first output): the selected node when the list opened. */
  source?: string
  /** Move the node down from flow until it covers no other node (the centre of the view may be taken; a clicked spot is the user's choice). */
  avoid?: boolean
}

interface Nav {
  search: boolean
  quickAdd: QuickAddAt | null
}

let nav: Nav = { search: false, quickAdd: null }
const subs = new Set<() => void>()

function set(patch: Partial<Nav>) {
  nav = { ...nav, ...patch }
  subs.forEach((l) => l())
}

export function useNav<T>(sel: (n: Nav) => T): T {
  return useSyncExternalStore(
    (l) => {
      subs.add(l)
      return () => subs.delete(l)
    },
    () => sel(nav),
  )
}

export const openSearch = () => set({ search: true, quickAdd: null })
export const closeSearch = () => set({ search: false })
export const closeQuickAdd = () => set({ quickAdd: null })

/** The one selected node on the open tab, when it has an output to wire from. */
function wireSource(): string | undefined {
  const s = getState()
  if (s.selected.size !== 1) return undefined
  const o = s.items.find((x) => s.selected.has(x.id))
  if (!o || o.z !== s.tab || !isFlowNode(o) || isGroup(o)) return undefined
  return outputsOf(o, typeOf(o.type)) > 0 ? o.id : undefined
}

/** Opens quick-add at a point of the canvas (client coordinates); the node goes there. */
export function openQuickAddAt(x: number, y: number, avoid = false) {
  if (!flowInstance) return
  set({ search: false, quickAdd: { client: { x, y }, flow: flowInstance.screenToFlowPosition({ x, y }), source: wireSource(), avoid } })
}

/** Opens quick-add in the middle of the canvas; the node goes to the centre of the view. */
export function openQuickAddCentre() {
  const el = document.querySelector('.rn-canvas')
  if (!el) return
  const r = el.getBoundingClientRect()
  openQuickAddAt(r.left + r.width / 2, r.top + r.height / 2, true)
}

/** Shows an object: a tab is opened, a node's tab opened and the node centred and selected, a config node edited. */
export function jumpTo(id: string) {
  const o = getState().items.find((x) => x.id === id)
  if (!o) return
  if (isTab(o)) setTab(o.id)
  else reveal(id)
}

// ---- search ----

export interface Hit {
  o: FlowObj
  label: string
  /** The tab (or subflow) the object is on, or what it is when on none. */
  where: string
  /** The property that matched, when it was not the label, name, type or id. */
  prop?: string
  value?: string
}

/** Properties that are layout or wiring, not settings. */
const skip = new Set(['id', 'type', 'z', 'x', 'y', 'w', 'h', 'wires', 'g', 'nodes', 'credentials', 'name', 'label'])

const text = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))

/** The part of a long value around a match, on one line. */
function snippet(s: string, at: number, n: number): string {
  const from = Math.max(0, at - 24)
  const to = Math.min(s.length, at + n + 36)
  return ((from > 0 ? '…' : '') + s.slice(from, to) + (to < s.length ? '…' : '')).replace(/\s+/g, ' ')
}

/** What label the outline and search give an object. */
export function labelOf(o: FlowObj, t?: NodeType): string {
  if (isTab(o)) return String(o.label ?? o.id)
  if (isGroup(o)) return typeof o.name === 'string' && o.name ? o.name : 'Group'
  if (o.type === 'subflow') return String(o.name ?? o.id)
  return nodeLabel(o, t)
}

/**
 * The objects of every tab that contain q (case-insensitive) in their name
 * or label, type (Runnel's, Node-RED's or the palette's label), id or the
 * value of any setting; labels that match come first.
 */
export function searchFlows(items: FlowObj[], q: string): Hit[] {
  const needle = q.trim().toLowerCase()
  if (!needle) return []
  const holders = new Map(items.filter((o) => isTab(o) || o.type === 'subflow').map((o) => [o.id, o]))
  const first: Hit[] = []
  const rest: Hit[] = []
  for (const o of items) {
    if (o.type === 'subflow') continue
    const t = typeOf(o.type)
    const label = labelOf(o, t)
    const where = isTab(o) ? 'flow' : o.z ? (holders.has(o.z) ? labelOf(holders.get(o.z)!) : o.z) : isConfigNode(o) ? 'config node' : ''
    const has = (s: string) => s.toLowerCase().includes(needle)
    if (has(label) || has(text(o.name))) {
      first.push({ o, label, where })
      continue
    }
    if (has(o.id) || has(o.type) || (t && (has(paletteLabel(t)) || has(t.nodeRed ?? '')))) {
      rest.push({ o, label, where })
      continue
    }
    for (const [k, v] of Object.entries(o)) {
      if (skip.has(k)) continue
      const s = text(v)
      const at = s.toLowerCase().indexOf(needle)
      if (at >= 0) {
        rest.push({ o, label, where, prop: k, value: snippet(s, at, needle.length) })
        break
      }
    }
  }
  return [...first, ...rest]
}

// ---- keys and the remembered tab ----

const isEditable = (el: HTMLElement | null) => !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))

/**
 * Whether a key pressed with focus on el is the workspace's: on the page
 * itself, the canvas, its tabs, the palette or the header; not in a text
 * field, nor in the sidebar, a tray or a dialog, whose text the browser's
 * find is for.
 */
function onWorkspace(el: HTMLElement | null): boolean {
  if (!el || el === document.body || el === document.documentElement) return true
  return !isEditable(el) && !el.closest('.rn-sidebar, .rn-tray, .rn-modal, .rn-notices')
}

/**
 * Ctrl+F (Cmd+F) opens the search and / opens quick-add when the focus is
 * on the canvas or the page; in a text field, the code editor or the
 * sidebar the browser's own find still works. Also remembers the open tab.
 */
export function useNavKeys() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const s = getState()
      if (s.dialog || s.trays.length || !s.loaded) return
      const el = e.target as HTMLElement | null
      if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'f') {
        if (el?.closest?.('.rn-search')) {
          e.preventDefault()
          ;(el as HTMLInputElement).select?.()
          return
        }
        if (!onWorkspace(el)) return
        e.preventDefault()
        openSearch()
        return
      }
      if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !nav.search && !nav.quickAdd && onWorkspace(el)) {
        e.preventDefault()
        openQuickAddCentre()
      }
    }
    window.addEventListener('keydown', onKey)
    let tab = getState().tab
    if (tab) rememberTab(tab)
    const unsub = subscribe(() => {
      const s = getState()
      if (s.tab === tab) return
      tab = s.tab
      if (s.items.some((o) => o.id === tab && isTab(o))) rememberTab(tab)
    })
    return () => {
      window.removeEventListener('keydown', onKey)
      unsub()
    }
  }, [])
}

/**
 * onListKey is the keyboard of a type-ahead list (search, quick-add): Escape
 * closes it, the arrows move the highlight within count entries, Enter
 * chooses the highlighted one.
 */
export function onListKey(
  e: { key: string; preventDefault(): void; stopPropagation(): void },
  l: { close: () => void; count: number; setActive: (f: (a: number) => number) => void; choose: () => void },
) {
  if (e.key === 'Escape') {
    e.preventDefault()
    e.stopPropagation()
    l.close()
  } else if (e.key === 'ArrowDown') {
    e.preventDefault()
    l.setActive((a) => Math.min(a + 1, l.count - 1))
  } else if (e.key === 'ArrowUp') {
    e.preventDefault()
    l.setActive((a) => Math.max(a - 1, 0))
  } else if (e.key === 'Enter') {
    e.preventDefault()
    l.choose()
  }
}
