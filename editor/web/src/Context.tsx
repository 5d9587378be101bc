// The context sidebar, as Node-RED's Context Data tab: the selected node's
// context, the current flow's (tab's) and the global one, each in both
// stores (memory and persistent), with a refresh button and a delete button
// per key that asks before it deletes. Values are drawn as the debug
// sidebar draws them.
import { useCallback, useEffect, useState } from 'react'
import './sidebar.css'
import { canDeploy } from './auth'
import { JsonTree } from './Debug'
import { deleteContext, getContext, type ContextData, type ContextValue, type Scope } from './sidebarApi'
import { nodeLabel, notify, typeOf, useEditor } from './store'

interface Row {
  store: string
  key: string
  value: ContextValue
}

function rowsOf(d: ContextData | undefined): Row[] {
  if (!d) return []
  const rows: Row[] = []
  for (const [store, keys] of Object.entries(d)) for (const [key, value] of Object.entries(keys ?? {})) rows.push({ store, key, value })
  return rows.sort((a, b) => (a.key === b.key ? a.store.localeCompare(b.store) : a.key.localeCompare(b.key)))
}

function Key({ scope, id, row, onDeleted }: { scope: Scope; id?: string; row: Row; onDeleted: () => void }) {
  const [asking, setAsking] = useState(false)
  const del = async () => {
    try {
      await deleteContext(scope, id, row.key, row.store)
      notify('success', `Deleted ${scope} context ${row.key}`, undefined, 2000)
    } catch (e) {
      notify('error', (e as Error).message, undefined, 5000)
    }
    setAsking(false)
    onDeleted()
  }
  return (
    <div className="rn-ctx-row" data-testid="context-row" data-key={row.key} data-store={row.store}>
      <div className="rn-ctx-meta">
        <span className="rn-ctx-key">{row.key}</span>
        {row.store !== 'memory' && <span className="rn-ctx-store">{row.store}</span>}
        <span className="rn-ctx-format">{row.value.format}</span>
        <span className="rn-spacer" />
        {canDeploy() &&
          (asking ? (
            <span className="rn-ctx-confirm">
              delete?{' '}
              <button onClick={del} data-testid="context-delete-yes">yes</button>
              <button onClick={() => setAsking(false)}>no</button>
            </span>
          ) : (
            <button className="rn-ctx-del" onClick={() => setAsking(true)} title={`Delete ${row.key}`} aria-label={`Delete ${row.key}`} data-testid="context-delete">
              ✕
            </button>
          ))}
      </div>
      <div className="rn-debug-value" data-testid="context-value">
        <JsonTree value={row.value.msg} />
        {row.value.truncated && <span className="rn-muted"> (cut short)</span>}
      </div>
    </div>
  )
}

function Section({ scope, id, title, empty }: { scope: Scope; id?: string; title: string; empty?: string }) {
  const [data, setData] = useState<ContextData>()
  const [err, setErr] = useState('')
  const [loading, setLoading] = useState(false)
  const load = useCallback(async () => {
    if (scope !== 'global' && !id) {
      setData(undefined)
      return
    }
    setLoading(true)
    try {
      setData(await getContext(scope, id))
      setErr('')
    } catch (e) {
      setErr((e as Error).message)
    }
    setLoading(false)
  }, [scope, id])
  useEffect(() => {
    load()
  }, [load])
  const rows = rowsOf(data)
  return (
    <section className="rn-ctx-section" data-testid={`context-${scope}`}>
      <div className="rn-ctx-head">
        <span>{title}</span>
        <span className="rn-spacer" />
        <button onClick={load} disabled={loading || (scope !== 'global' && !id)} title="Refresh" aria-label={`Refresh ${scope} context`} data-testid={`context-refresh-${scope}`}>
          ↻
        </button>
      </div>
      {scope !== 'global' && !id ? (
        <div className="rn-muted rn-ctx-none">{empty}</div>
      ) : err ? (
        <div className="rn-field-error">{err}</div>
      ) : data && rows.length === 0 ? (
        <div className="rn-muted rn-ctx-none">none</div>
      ) : (
        rows.map((r) => <Key key={r.store + '\u0000' + r.key} scope={scope} id={id} row={r} onDeleted={load} />)
      )}
    </section>
  )
}

export function ContextSidebar() {
  const items = useEditor((s) => s.items)
  const selected = useEditor((s) => s.selected)
  const tab = useEditor((s) => s.tab)
  const node = selected.size === 1 ? items.find((o) => selected.has(o.id) && o.type !== 'tab' && o.type !== 'group') : undefined
  const flow = items.find((o) => o.id === tab)
  return (
    <div className="rn-context" data-testid="context-sidebar">
      <Section scope="node" id={node?.id} title={node ? `Node: ${nodeLabel(node, typeOf(node.type))}` : 'Node'} empty="Select a node to see its context." />
      <Section scope="flow" id={tab} title={`Flow: ${String(flow?.label ?? tab)}`} />
      <Section scope="global" title="Global" />
    </div>
  )
}
