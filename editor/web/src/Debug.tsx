// The debug sidebar: messages of debug nodes and node errors, filter, pause,
// clear, counts, and an expandable JSON view. It renders from a capped buffer
// at most ten times a second.
import { memo, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { debug, maxDebug, useDebugVersion, type DebugEntry } from './live'
import { nodeLabel, reveal, typeOf, useEditor } from './store'
import { isFlowNode } from './flowjson'

function preview(v: unknown, depth = 0): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)
  if (typeof v !== 'object') return String(v)
  if (depth > 0) return Array.isArray(v) ? `array[${v.length}]` : 'object'
  if (Array.isArray(v)) return `[ ${v.slice(0, 5).map((x) => preview(x, 1)).join(', ')}${v.length > 5 ? ', …' : ''} ]`
  const ks = Object.keys(v)
  return `{ ${ks.slice(0, 5).map((k) => `${k}: ${preview((v as Record<string, unknown>)[k], 1)}`).join(', ')}${ks.length > 5 ? ', …' : ''} }`
}

function Scalar({ v }: { v: unknown }) {
  if (v === null) return <span className="j-null">null</span>
  // As Node-RED shows strings: in quotes, the text as it is.
  if (typeof v === 'string') return <span className="j-str">"{v}"</span>
  if (typeof v === 'number') return <span className="j-num">{String(v)}</span>
  if (typeof v === 'boolean') return <span className="j-bool">{String(v)}</span>
  return <span>{String(v)}</span>
}

/** An expandable view of a JSON value; children are built only when opened. */
export const JsonTree = memo(function JsonTree({ value, name, open: startOpen = false }: { value: unknown; name?: string; open?: boolean }) {
  const [open, setOpen] = useState(startOpen)
  const isObj = value !== null && typeof value === 'object'
  const label = name !== undefined ? <span className="j-key">{name}: </span> : null
  if (!isObj) {
    return (
      <div className="j-row">
        {label}
        <Scalar v={value} />
      </div>
    )
  }
  const arr = Array.isArray(value)
  const keys = arr ? (value as unknown[]).map((_, i) => String(i)) : Object.keys(value as object)
  return (
    <div className="j-node">
      <div className="j-row j-toggle" onClick={() => setOpen(!open)} role="button" aria-expanded={open}>
        <span className="j-caret">{open ? '▾' : '▸'}</span>
        {label}
        <span className="j-type">{arr ? `array[${keys.length}]` : 'object'}</span>
        {!open && <span className="j-preview"> {preview(value)}</span>}
      </div>
      {open && (
        <div className="j-children">
          {keys.slice(0, 1000).map((k) => (
            <JsonTree key={k} name={k} value={(value as Record<string, unknown>)[k]} />
          ))}
          {keys.length > 1000 && <div className="j-row">… {keys.length - 1000} more</div>}
        </div>
      )}
    </div>
  )
})

const time = (ts: number) => {
  const d = new Date(ts)
  return d.toLocaleDateString() + ', ' + d.toLocaleTimeString()
}

const Entry = memo(function Entry({ e, label }: { e: DebugEntry; label: string }) {
  return (
    <div className={'rn-debug-msg' + (e.kind === 'error' ? ' error' : '')} data-testid="debug-msg" data-node={e.id}>
      <div className="rn-debug-meta">
        <span>{time(e.ts)}</span>
        <a href="#" onClick={(ev) => { ev.preventDefault(); reveal(e.id) }} className="rn-debug-node" title="Show the node">
          node: {label}
        </a>
      </div>
      <div className="rn-debug-meta">
        {e.kind === 'error' ? (
          <span className="rn-debug-err">error</span>
        ) : (
          <span>
            {e.topic ? <span className="rn-debug-topic">{e.topic} : </span> : null}
            msg{e.property && e.property !== 'msg' ? '.' + e.property : ''} : {e.format}
          </span>
        )}
      </div>
      <div className="rn-debug-value" data-testid="debug-value">
        {e.kind === 'error' ? <span className="j-err">{String(e.msg)}</span> : <JsonTree value={e.msg} />}
      </div>
    </div>
  )
})

type Filter = 'all' | 'flow' | 'selected' | string

export function DebugSidebar() {
  useDebugVersion()
  const tab = useEditor((s) => s.tab)
  const selected = useEditor((s) => s.selected)
  const items = useEditor((s) => s.items)
  const [filter, setFilter] = useState<Filter>('all')
  const list = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const entries = debug.view()
  const shown = useMemo(() => {
    if (filter === 'all') return entries
    if (filter === 'flow') {
      const onTab = new Set(items.filter((o) => o.z === tab && isFlowNode(o)).map((o) => o.id))
      return entries.filter((e) => (e.z ? e.z === tab : onTab.has(e.id)))
    }
    if (filter === 'selected') return entries.filter((e) => selected.has(e.id))
    return entries.filter((e) => e.id === filter)
  }, [entries, filter, tab, selected, items, entries.length, entries[entries.length - 1]?.seq])
  const sources = useMemo(() => {
    const byId = new Map(items.map((o) => [o.id, o]))
    return [...debug.counts.entries()].map(([id, n]) => ({ id, n, name: (byId.get(id)?.name as string) || byId.get(id)?.type || id }))
  }, [items, debug.total])
  const labels = useMemo(() => {
    const m = new Map<string, string>()
    for (const o of items) if (o.type === 'debug' || debug.counts.has(o.id)) m.set(o.id, nodeLabel(o, typeOf(o.type)))
    return m
    // Recomputed when the nodes change or a new node starts sending.
  }, [items, debug.counts.size])
  useLayoutEffect(() => {
    if (stick.current && list.current) list.current.scrollTop = list.current.scrollHeight
  })
  return (
    <div className="rn-debug">
      <div className="rn-debug-bar">
        <select value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter messages by node" data-testid="debug-filter">
          <option value="all">all nodes</option>
          <option value="flow">current flow</option>
          <option value="selected">selected nodes</option>
          {sources.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name} ({s.n})
            </option>
          ))}
        </select>
        <span className="rn-spacer" />
        <button onClick={() => debug.setPaused(!debug.paused)} aria-pressed={debug.paused} title={debug.paused ? 'Resume' : 'Pause'}>
          {debug.paused ? 'resume' : 'pause'}
        </button>
        <button onClick={() => debug.clear()} title="Clear messages" aria-label="Clear messages">
          clear
        </button>
      </div>
      <div className="rn-debug-counts" data-testid="debug-counts">
        <span data-testid="debug-total">{debug.total} message{debug.total === 1 ? '' : 's'}</span>
        {shown.length !== debug.total && <span> · {shown.length} shown{entries.length >= maxDebug ? ` (last ${maxDebug})` : ''}</span>}
        {debug.dropped > 0 && (
          // The server keeps the newest messages of a burst: the dropped ones came before those shown.
          <span className="rn-dropped" data-testid="debug-dropped" title="The server sends at most 25 messages every 100 ms, the newest; the earlier ones are dropped">
            {' '}· {debug.dropped.toLocaleString('en-US')} earlier message{debug.dropped === 1 ? '' : 's'} dropped
          </span>
        )}
        {debug.paused && <span className="rn-paused"> · paused{debug.missed ? `, ${debug.missed} not shown` : ''}</span>}
      </div>
      <div
        className="rn-debug-list"
        ref={list}
        onScroll={(e) => {
          const el = e.currentTarget
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30
        }}
      >
        {shown.map((e) => (
          <Entry key={e.seq} e={e} label={e.name || labels.get(e.id) || e.id} />
        ))}
      </div>
    </div>
  )
}
