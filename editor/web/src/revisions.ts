// Flow revisions (editor/revisions.go): every deploy the server saved, which
// the history sidebar lists, shows, compares and rolls back to. The list lives
// here, outside React, so that it survives switching sidebar tabs; the
// websocket's deploy events mark it stale.
import { useSyncExternalStore } from 'react'
import { apiFetch } from './auth'
import { sessionHeader } from './session'
import type { FlowObj, Problem } from './types'

export interface Revision {
  id: number
  /** RFC 3339, UTC. */
  time: string
  user: string
  deployType: string
  summary: string
  rev: string
  nodes: number
}

export interface RevisionDiff {
  added?: string[]
  removed?: string[]
  changed?: string[]
  rewired?: string[]
  moved?: string[]
  tabs?: string[]
}

export const pageSize = 50

async function getJSON<T>(url: string): Promise<T> {
  const r = await apiFetch(url, { headers: { Accept: 'application/json' } })
  if (!r.ok) {
    const j = await r.json().catch(() => null)
    throw new Error(j?.message ?? `GET /${url}: HTTP ${r.status}`)
  }
  return r.json()
}

export async function listRevisions(before?: number, limit = pageSize): Promise<Revision[]> {
  const q = new URLSearchParams({ limit: String(limit) })
  if (before) q.set('before', String(before))
  const j = await getJSON<{ revisions?: Revision[] }>('flows/revisions?' + q)
  return j.revisions ?? []
}

// Revisions never change: their documents are kept once fetched (the last few).
const docs = new Map<number, Promise<{ revision: Revision; flows: FlowObj[] }>>()

export function getRevision(id: number): Promise<{ revision: Revision; flows: FlowObj[] }> {
  let p = docs.get(id)
  if (!p) {
    p = getJSON<{ revision: Revision; flows: FlowObj[] }>('flows/revisions/' + id)
    p.catch(() => docs.delete(id))
    docs.set(id, p)
    if (docs.size > 20) docs.delete(docs.keys().next().value!)
  }
  return p
}

export async function diffRevisions(from: number, to: number): Promise<RevisionDiff> {
  const j = await getJSON<{ diff?: RevisionDiff }>(`flows/revisions/${from}/diff/${to}`)
  return j.diff ?? {}
}

export type RollbackResult =
  | { ok: true; rev: string; revision: Revision }
  | { ok: false; message: string; problems: Problem[] }

export async function postRollback(id: number): Promise<RollbackResult> {
  const r = await apiFetch(`flows/revisions/${id}/rollback`, { method: 'POST', headers: { Accept: 'application/json', ...sessionHeader } })
  const j = await r.json().catch(() => null)
  if (r.ok && j) return { ok: true, rev: j.rev ?? '', revision: j.revision }
  return {
    ok: false,
    message: j?.message ?? `rollback failed: HTTP ${r.status}`,
    problems: Array.isArray(j?.problems) ? j.problems : [],
  }
}

/** "1 added, 2 changed", as the server's summaries say it. */
export function diffSummary(d: RevisionDiff): string {
  const parts: string[] = []
  const add = (l: string[] | undefined, what: string) => l?.length && parts.push(`${l.length} ${what}`)
  add(d.added, 'added')
  add(d.changed, 'changed')
  add(d.rewired, 'rewired')
  add(d.removed, 'removed')
  add(d.moved, 'moved')
  return parts.length ? parts.join(', ') : 'no changes'
}

// ---- the history list ----

export interface HistoryState {
  list: Revision[]
  /** Whether older revisions than the last listed may exist. */
  more: boolean
  loading: boolean
  loaded: boolean
  error: string
  /** Selected revision ids, at most two, in the order they were picked. */
  picked: number[]
  /** Bumped on deploy events: the list is stale. */
  stale: number
}

let hs: HistoryState = { list: [], more: false, loading: false, loaded: false, error: '', picked: [], stale: 0 }
const subs = new Set<() => void>()

function setHistory(p: Partial<HistoryState>) {
  hs = { ...hs, ...p }
  subs.forEach((l) => l())
}

export function historyState(): HistoryState {
  return hs
}

export function useHistory<T>(sel: (s: HistoryState) => T): T {
  return useSyncExternalStore(
    (l) => {
      subs.add(l)
      return () => subs.delete(l)
    },
    () => sel(hs),
  )
}

/** A deploy happened (the websocket said so, or this editor rolled back). */
export function revisionsChanged() {
  setHistory({ stale: hs.stale + 1 })
}

const byIdDesc = (a: Revision, b: Revision) => b.id - a.id

/** Fetches the newest page and merges it into the list (older revisions never change). */
export async function refreshRevisions() {
  setHistory({ loading: true })
  try {
    const page = await listRevisions()
    let list: Revision[]
    let more = hs.more
    const have = new Map(hs.list.map((r) => [r.id, r]))
    const top = hs.list[0]?.id ?? 0
    if (!hs.loaded || (page.length === pageSize && page[page.length - 1].id > top + 1)) {
      // First load, or more new revisions than a page: start over.
      list = page
      more = page.length === pageSize
    } else {
      for (const r of page) have.set(r.id, r)
      list = [...have.values()].sort(byIdDesc)
    }
    const ids = new Set(list.map((r) => r.id))
    setHistory({ list, more, loading: false, loaded: true, error: '', picked: hs.picked.filter((id) => ids.has(id)) })
  } catch (e) {
    setHistory({ loading: false, loaded: true, error: (e as Error).message })
  }
}

/** Fetches the page of revisions older than the last listed. */
export async function loadMoreRevisions() {
  const last = hs.list[hs.list.length - 1]
  if (!last || hs.loading) return
  setHistory({ loading: true })
  try {
    const page = await listRevisions(last.id)
    const have = new Set(hs.list.map((r) => r.id))
    setHistory({ list: [...hs.list, ...page.filter((r) => !have.has(r.id))], more: page.length === pageSize, loading: false, error: '' })
  } catch (e) {
    setHistory({ loading: false, error: (e as Error).message })
  }
}

/** Selects one revision alone. */
export function pickOnly(id: number) {
  setHistory({ picked: [id] })
}

/** Adds a revision to the selection or takes it out; a third replaces the first picked. */
export function togglePick(id: number) {
  const p = hs.picked
  if (p.includes(id)) setHistory({ picked: p.filter((x) => x !== id) })
  else setHistory({ picked: [...p, id].slice(-2) })
}

export function setPicked(ids: number[]) {
  setHistory({ picked: ids.slice(-2) })
}
