// The /comms websocket: node status, live rates, debug messages and deploy
// events. Status and rates live outside React state so that one node's update
// re-renders that node only; debug messages go to a capped buffer that the
// sidebar reads at most a few times a second.
import { useSyncExternalStore } from 'react'
import { expired, getAuth, token } from './auth'
import { revisionsChanged } from './revisions'
import { checkRemote, remoteDeployed } from './store'
import type { Rate, StatusData } from './types'

// ---- per-node keyed stores ----

class Keyed<T> {
  private m = new Map<string, T>()
  private subs = new Map<string, Set<() => void>>()
  private all = new Set<() => void>()
  get(id: string): T | undefined {
    return this.m.get(id)
  }
  set(id: string, v: T | undefined) {
    if (v === undefined) this.m.delete(id)
    else this.m.set(id, v)
    this.subs.get(id)?.forEach((l) => l())
    this.all.forEach((l) => l())
  }
  ids() {
    return [...this.m.keys()]
  }
  /** Calls l after any id's value changes (the zoomed-out canvas redraws its status dots). */
  subscribeAll(l: () => void) {
    this.all.add(l)
    return () => {
      this.all.delete(l)
    }
  }
  subscribe(id: string, l: () => void) {
    let s = this.subs.get(id)
    if (!s) this.subs.set(id, (s = new Set()))
    s.add(l)
    return () => {
      s!.delete(l)
    }
  }
}

export const statuses = new Keyed<StatusData>()
export const rates = new Keyed<Rate>()

export function useStatus(id: string): StatusData | undefined {
  return useSyncExternalStore((l) => statuses.subscribe(id, l), () => statuses.get(id))
}

export function useRate(id: string): Rate | undefined {
  return useSyncExternalStore((l) => rates.subscribe(id, l), () => rates.get(id))
}

const sameRate = (a: Rate, b: Rate) =>
  a.in === b.in && a.out === b.out && a.err === b.err && a.inTotal === b.inTotal && a.outTotal === b.outTotal && a.errTotal === b.errTotal && a.queued === b.queued

// ---- debug messages ----

export interface DebugEntry {
  seq: number
  kind: 'debug' | 'error'
  id: string
  z?: string
  name?: string
  topic?: string
  property?: string
  format?: string
  msg: unknown
  ts: number
}

/** The sidebar keeps the last maxDebug messages. */
export const maxDebug = 1000

class DebugBuffer {
  entries: DebugEntry[] = []
  total = 0
  dropped = 0
  paused = false
  /** Messages that arrived while paused (not shown). */
  missed = 0
  counts = new Map<string, number>()
  private seq = 0
  private version = 0
  private subs = new Set<() => void>()
  private timer = 0

  add(e: Omit<DebugEntry, 'seq'>) {
    this.total++
    this.counts.set(e.id, (this.counts.get(e.id) ?? 0) + 1)
    if (this.paused) {
      this.missed++
    } else {
      this.entries.push({ ...e, seq: ++this.seq })
      if (this.entries.length > maxDebug * 1.25) this.entries = this.entries.slice(-maxDebug)
    }
    this.changed()
  }
  addDropped(n: number) {
    this.dropped += n
    this.changed()
  }
  clear() {
    this.entries = []
    this.total = 0
    this.dropped = 0
    this.missed = 0
    this.counts = new Map()
    this.changed(true)
  }
  setPaused(p: boolean) {
    this.paused = p
    if (!p) this.missed = 0
    this.changed(true)
  }
  /** The shown entries, at most maxDebug. */
  view(): DebugEntry[] {
    return this.entries.length > maxDebug ? this.entries.slice(-maxDebug) : this.entries
  }
  getVersion = () => this.version
  subscribe = (l: () => void) => {
    this.subs.add(l)
    return () => {
      this.subs.delete(l)
    }
  }
  // Notify at most every 100 ms: at 1,000 messages a second the list renders 10 times a second.
  private changed(now = false) {
    if (now) {
      clearTimeout(this.timer)
      this.timer = 0
      this.flush()
      return
    }
    if (this.timer) return
    this.timer = window.setTimeout(() => {
      this.timer = 0
      this.flush()
    }, 100)
  }
  private flush() {
    this.version++
    this.subs.forEach((l) => l())
  }
}

export const debug = new DebugBuffer()

export function useDebugVersion(): number {
  return useSyncExternalStore(debug.subscribe, debug.getVersion)
}

// ---- connection ----

type ConnState = 'connecting' | 'open' | 'closed'
let conn: ConnState = 'connecting'
const connSubs = new Set<() => void>()
function setConn(c: ConnState) {
  conn = c
  connSubs.forEach((l) => l())
}
export function useConnection(): ConnState {
  return useSyncExternalStore(
    (l) => {
      connSubs.add(l)
      return () => connSubs.delete(l)
    },
    () => conn,
  )
}

interface Event {
  topic: string
  data: any
}

function handle(ev: Event) {
  const t = ev.topic
  if (typeof t !== 'string') return
  if (t.startsWith('status/')) {
    const id = t.slice(7)
    const d = ev.data
    statuses.set(id, d && (d.text || d.fill || d.shape) ? d : undefined)
  } else if (t === 'rates') {
    const d = ev.data as Record<string, Rate>
    if (!d || typeof d !== 'object') return
    for (const id of rates.ids()) if (!(id in d)) rates.set(id, undefined)
    for (const [id, r] of Object.entries(d)) {
      const old = rates.get(id)
      if (!old || !sameRate(old, r)) rates.set(id, r)
    }
  } else if (t === 'debug') {
    const d = ev.data ?? {}
    debug.add({ kind: 'debug', id: String(d.id ?? ''), z: d.z, name: d.name, topic: d.topic, property: d.property, format: d.format, msg: d.msg, ts: typeof d.ts === 'number' ? d.ts : Date.now() })
  } else if (t === 'debug/dropped') {
    debug.addDropped(Number(ev.data?.count) || 0)
  } else if (t === 'error') {
    const d = ev.data ?? {}
    debug.add({ kind: 'error', id: String(d.id ?? ''), z: d.z || undefined, name: d.name, format: 'error', msg: d.error, ts: typeof d.ts === 'number' ? d.ts : Date.now() })
  } else if (t === 'deploy') {
    revisionsChanged()
    const d = ev.data ?? {}
    remoteDeployed(String(d.rev ?? ''), { session: typeof d.session === 'string' ? d.session : undefined, user: typeof d.user === 'string' ? d.user : undefined })
  }
}

let backoff = 500
let opened = false

export function connect() {
  const url = new URL('comms', location.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  setConn('connecting')
  // While the login form shows there is no token to offer: try again later.
  if (getAuth().phase === 'login') {
    setTimeout(connect, 500)
    return
  }
  let ws: WebSocket
  try {
    ws = new WebSocket(url)
  } catch {
    retry()
    return
  }
  ws.onopen = () => {
    // Node-RED's first frame: the server answers {"auth":"ok"} or {"auth":"fail"} and closes.
    const t = token()
    if (t) ws.send(JSON.stringify({ auth: t }))
    backoff = 500
    setConn('open')
    // After a reconnect the server may run other flows (a restart, a deploy we missed).
    if (opened) {
      checkRemote()
      revisionsChanged()
    }
    opened = true
  }
  ws.onmessage = (m) => {
    if (typeof m.data !== 'string') return
    let evs: unknown
    try {
      evs = JSON.parse(m.data)
    } catch {
      return
    }
    if (evs && typeof evs === 'object' && (evs as { auth?: string }).auth === 'fail') {
      if (getAuth().phase !== 'none') expired()
      return
    }
    if (Array.isArray(evs)) for (const e of evs) handle(e as Event)
    else if (evs && typeof evs === 'object') handle(evs as Event)
  }
  ws.onclose = () => {
    setConn('closed')
    // Statuses are re-sent as a snapshot when the socket reconnects; rates stop meaning anything.
    for (const id of statuses.ids()) statuses.set(id, undefined)
    for (const id of rates.ids()) rates.set(id, undefined)
    retry()
  }
}

function retry() {
  const wait = backoff
  backoff = Math.min(backoff * 2, 10000)
  setTimeout(connect, wait)
}
