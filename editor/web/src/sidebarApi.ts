// The sidebar's endpoints (editor/context_api.go, editor/library.go): the
// debug node's on/off button, context data, example flows and the library.
import { apiFetch } from './auth'
import type { FlowObj } from './types'

async function fail(r: Response, what: string): Promise<never> {
  const j = await r.json().catch(() => null)
  throw new Error(j?.message ?? `${what}: HTTP ${r.status}`)
}

/** Turns a running debug node on or off, without a deploy. */
export async function setDebugActive(id: string, on: boolean): Promise<void> {
  const r = await apiFetch(`debug/${encodeURIComponent(id)}/${on ? 'enable' : 'disable'}`, { method: 'POST' })
  if (!r.ok) await fail(r, 'debug button')
}

export interface ContextValue {
  msg: unknown
  format: string
  truncated?: boolean
}

/** Every key of a scope, by store: {memory: {key: value}, persistent: {...}}. */
export type ContextData = Record<string, Record<string, ContextValue>>

export type Scope = 'global' | 'flow' | 'node'

const scopePath = (scope: Scope, id?: string) => (scope === 'global' ? 'context/global' : `context/${scope}/${encodeURIComponent(id ?? '')}`)

export async function getContext(scope: Scope, id?: string): Promise<ContextData> {
  const r = await apiFetch(scopePath(scope, id), { headers: { Accept: 'application/json' } })
  if (!r.ok) await fail(r, 'context')
  return r.json()
}

export async function deleteContext(scope: Scope, id: string | undefined, key: string, store: string): Promise<void> {
  const r = await apiFetch(`${scopePath(scope, id)}/${encodeURIComponent(key)}?store=${encodeURIComponent(store)}`, { method: 'DELETE' })
  if (!r.ok) await fail(r, 'delete context')
}

export interface ExampleInfo {
  name: string
  label: string
  info?: string
  nodes: number
}

export async function listExamples(): Promise<ExampleInfo[]> {
  const r = await apiFetch('library/examples', { headers: { Accept: 'application/json' } })
  if (!r.ok) await fail(r, 'examples')
  return r.json()
}

export async function getExample(name: string): Promise<string> {
  const r = await apiFetch('library/examples/' + encodeURIComponent(name))
  if (!r.ok) await fail(r, 'example')
  return r.text()
}

export interface LibraryEntry {
  name: string
  size: number
  modified: string
}

export async function listLibrary(): Promise<LibraryEntry[]> {
  const r = await apiFetch('library/flows', { headers: { Accept: 'application/json' } })
  if (!r.ok) await fail(r, 'library')
  return r.json()
}

export async function getLibraryEntry(name: string): Promise<string> {
  const r = await apiFetch('library/flows/' + encodeURIComponent(name))
  if (!r.ok) await fail(r, 'library entry')
  return r.text()
}

export async function saveLibraryEntry(name: string, flow: FlowObj[]): Promise<void> {
  const r = await apiFetch('library/flows/' + encodeURIComponent(name), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(flow),
  })
  if (!r.ok) await fail(r, 'save to library')
}

export async function deleteLibraryEntry(name: string): Promise<void> {
  const r = await apiFetch('library/flows/' + encodeURIComponent(name), { method: 'DELETE' })
  if (!r.ok) await fail(r, 'delete library entry')
}

/** The library's name rule (editor/library.go): 1 to 64 letters, digits, spaces, dots, dashes, underscores. */
export function libraryNameProblem(name: string): string {
  if (!name) return 'Give the entry a name'
  if ([...name].length > 64) return 'At most 64 characters'
  if (!/^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u.test(name) || /[ .]$/.test(name) || name.includes('..'))
    return 'Letters, digits, spaces, dots, dashes and underscores; begin with a letter or digit'
  return ''
}
