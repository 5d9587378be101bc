// Login for the editor and the admin API (editor/auth.go), Node-RED's way:
// GET auth/login says whether a login is needed; POST auth/token trades a
// name and password for a bearer token, kept in localStorage and sent on
// every request (apiFetch) and as the websocket's first frame.
import { useSyncExternalStore } from 'react'

export type Role = 'full' | 'read'

export interface AuthState {
  /** checking: asking the server; none: no login needed; login: show the form; in: logged in. */
  phase: 'checking' | 'none' | 'login' | 'in'
  user?: string
  role: Role
  /** Why the login form is shown again (session expired). */
  reason?: string
}

const storageKey = 'runnel-auth-tokens'

let state: AuthState = { phase: 'checking', role: 'full' }
const subs = new Set<() => void>()
function set(s: Partial<AuthState>) {
  state = { ...state, ...s }
  subs.forEach((l) => l())
}

export function useAuth(): AuthState {
  return useSyncExternalStore(
    (l) => {
      subs.add(l)
      return () => subs.delete(l)
    },
    () => state,
  )
}

export const getAuth = () => state
export const canDeploy = () => state.role === 'full'

interface Stored {
  access_token: string
  expires: number
}

/** The stored token, unless it has expired. */
export function token(): string | undefined {
  try {
    const s = JSON.parse(localStorage.getItem(storageKey) ?? 'null') as Stored | null
    if (s && typeof s.access_token === 'string' && s.expires > Date.now()) return s.access_token
  } catch {
    /* not ours: ignore */
  }
  return undefined
}

function clearToken() {
  localStorage.removeItem(storageKey)
}

/** fetch with the bearer token; a 401 shows the login form again. */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const t = token()
  const headers = new Headers(init.headers)
  if (t) headers.set('Authorization', 'Bearer ' + t)
  const r = await fetch(url, { ...init, headers })
  if (r.status === 401 && state.phase !== 'none') expired()
  return r
}

/** The session is no longer valid: ask for a login again. */
export function expired() {
  clearToken()
  if (state.phase === 'in' || state.phase === 'checking') set({ phase: 'login', reason: 'Your session has expired: please log in again.' })
}

let onReady: (() => void) | undefined
let readyDone = false
function ready() {
  if (readyDone) return
  readyDone = true
  onReady?.()
}

/** Finds out whether a login is needed, and calls then once the editor may load. */
export async function startAuth(then: () => void) {
  onReady = then
  let need = false
  try {
    const r = await fetch('auth/login', { headers: { Accept: 'application/json' } })
    const j = r.ok ? await r.json() : {}
    need = !!j && j.type === 'credentials'
  } catch {
    /* the server is unreachable: the editor shows its own error */
  }
  if (!need) {
    set({ phase: 'none', role: 'full' })
    ready()
    return
  }
  if (token() && (await whoAmI())) return
  clearToken()
  set({ phase: 'login' })
}

async function whoAmI(): Promise<boolean> {
  const t = token()
  if (!t) return false
  const r = await fetch('auth/me', { headers: { Accept: 'application/json', Authorization: 'Bearer ' + t } })
  if (!r.ok) return false
  const j = await r.json().catch(() => null)
  const u = j?.user
  if (!u) return false
  set({ phase: 'in', user: String(u.username ?? ''), role: u.role === 'read' ? 'read' : 'full', reason: undefined })
  ready()
  return true
}

/** Logs in; it returns the error to show, or undefined on success. */
export async function login(username: string, password: string): Promise<string | undefined> {
  const body = new URLSearchParams({ client_id: 'node-red-editor', grant_type: 'password', scope: '*', username, password })
  let r: Response
  try {
    r = await fetch('auth/token', { method: 'POST', body })
  } catch (e) {
    return 'Login failed: ' + (e as Error).message
  }
  const j = await r.json().catch(() => null)
  if (!r.ok || !j?.access_token) {
    if (r.status === 401) return 'Wrong username or password'
    return j?.message ?? `Login failed: HTTP ${r.status}`
  }
  const s: Stored = { access_token: j.access_token, expires: Date.now() + Number(j.expires_in ?? 0) * 1000 }
  localStorage.setItem(storageKey, JSON.stringify(s))
  if (!(await whoAmI())) return 'Login failed'
  return undefined
}

/** Logs out: the server forgets the token, the page starts over. */
export async function logout() {
  const t = token()
  clearToken()
  if (t) {
    await fetch('auth/revoke', {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + t },
      body: new URLSearchParams({ token: t }),
    }).catch(() => undefined)
  }
  location.reload()
}
