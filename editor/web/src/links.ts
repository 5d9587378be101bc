// Link nodes as Node-RED keeps them: a link out lists the link in nodes it
// sends to, and each of those lists the link out back. Editing either side
// updates the other. Plain data, no React.
import type { FlowObj } from './types'

/** The type a link node's links field names, or undefined for other nodes. */
export function linkTargetType(type: string): string | undefined {
  if (type === 'link out' || type === 'link call') return 'link in'
  if (type === 'link in') return 'link out'
  return undefined
}

export function linkIds(o: FlowObj | undefined): string[] {
  const l = o?.links
  return Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string') : []
}

/** The nodes a link node may link to: on tabs for a node on a tab, in its own subflow for a node in one (as Node-RED allows). */
export function linkCandidates(items: FlowObj[], node: { id?: unknown; type: string; z?: unknown }): FlowObj[] {
  const want = linkTargetType(node.type)
  if (!want) return []
  const z = typeof node.z === 'string' ? node.z : ''
  const inSubflow = items.some((o) => o.id === z && o.type === 'subflow')
  const tabs = new Set(items.filter((o) => o.type === 'tab').map((o) => o.id))
  return items.filter((o) => o.type === want && o.id !== node.id && (inSubflow ? o.z === z : typeof o.z === 'string' && tabs.has(o.z)))
}

/**
 * items with the other side of next's links made to match: a link in that
 * next (a link out) now lists gets next in its links, one it no longer
 * lists loses it; the same for a link in's link out nodes. A link call is
 * one-sided, as in Node-RED. Objects not changed stay the same objects.
 */
export function syncLinks(items: FlowObj[], prev: FlowObj | undefined, next: FlowObj): FlowObj[] {
  if (next.type !== 'link out' && next.type !== 'link in') return items
  const other = linkTargetType(next.type)!
  // A link out in return mode sends to no link in.
  const now = new Set(next.type === 'link out' && next.mode === 'return' ? [] : linkIds(next))
  const was = new Set(linkIds(prev))
  if (now.size === was.size && [...now].every((id) => was.has(id))) return items
  return items.map((o) => {
    if (o.type !== other || (!now.has(o.id) && !was.has(o.id))) return o
    const l = linkIds(o)
    const has = l.includes(next.id)
    if (now.has(o.id) && !has) return { ...o, links: [...l, next.id] }
    if (!now.has(o.id) && has) return { ...o, links: l.filter((id) => id !== next.id) }
    return o
  })
}

/**
 * The links to draw on a tab, as Node-RED draws them (dashed): [from, to]
 * for a link out or link call and a link in it reaches, both on the tab.
 */
export function linkPairs(items: FlowObj[], tab: string): [string, string][] {
  const on = new Map<string, FlowObj>()
  for (const o of items) if (o.z === tab && (o.type === 'link out' || o.type === 'link in' || o.type === 'link call')) on.set(o.id, o)
  const seen = new Set<string>()
  const out: [string, string][] = []
  const add = (from: string, to: string) => {
    const k = from + '>' + to
    if (seen.has(k)) return
    seen.add(k)
    out.push([from, to])
  }
  for (const o of on.values()) {
    for (const id of linkIds(o)) {
      const t = on.get(id)
      if (!t) continue
      if (o.type === 'link in' && t.type === 'link out' && t.mode !== 'return') add(t.id, o.id)
      else if (o.type === 'link out' && o.mode !== 'return' && t.type === 'link in') add(o.id, t.id)
      else if (o.type === 'link call' && o.linkType !== 'dynamic' && t.type === 'link in') add(o.id, t.id)
    }
  }
  return out
}

/** A link node on a tab with links to nodes on other tabs, which Node-RED marks with a dashed stub and their count. */
export interface LinkStub {
  id: string
  /** 'out': it sends to them (link out, link call), drawn on its right; 'in': they send to it, on its left. */
  side: 'out' | 'in'
  /** The nodes on other tabs: as the node lists them ('out'), in document order ('in'). */
  targets: string[]
}

/** The link nodes on tab that reach, or are reached from, link nodes on other tabs. */
export function linkStubs(items: FlowObj[], tab: string): LinkStub[] {
  const byId = new Map(items.map((o) => [o.id, o]))
  const tabs = new Set(items.filter((o) => o.type === 'tab').map((o) => o.id))
  const away = (o: FlowObj | undefined) => !!o && typeof o.z === 'string' && o.z !== tab && tabs.has(o.z)
  const sends = (o: FlowObj) => (o.type === 'link out' && o.mode !== 'return') || (o.type === 'link call' && o.linkType !== 'dynamic')
  const out: LinkStub[] = []
  for (const o of items) {
    if (o.z !== tab) continue
    if (sends(o)) {
      const targets = linkIds(o).filter((id) => byId.get(id)?.type === 'link in' && away(byId.get(id)))
      if (targets.length) out.push({ id: o.id, side: 'out', targets })
    } else if (o.type === 'link in') {
      // Both sides keep the link, but a link call only on its own side.
      const from = new Set(linkIds(o).filter((id) => { const s = byId.get(id); return !!s && sends(s) && away(s) }))
      for (const s of items) if (away(s) && sends(s) && linkIds(s).includes(o.id)) from.add(s.id)
      const targets = items.filter((s) => from.has(s.id)).map((s) => s.id)
      if (targets.length) out.push({ id: o.id, side: 'in', targets })
    }
  }
  return out
}

/** items with the removed nodes taken out of link nodes' links, as Node-RED does when a link node is deleted. */
export function dropLinksTo(items: FlowObj[], removed: Set<string>): FlowObj[] {
  return items.map((o) => {
    if (!linkTargetType(o.type) || !Array.isArray(o.links) || !o.links.some((id) => typeof id === 'string' && removed.has(id))) return o
    return { ...o, links: o.links.filter((id) => !(typeof id === 'string' && removed.has(id))) }
  })
}
