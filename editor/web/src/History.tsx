// The history sidebar: the revisions the server saved (one per deploy), the
// details of one, what changed between two, and rolling back to one.
import { useEffect, useMemo, useRef, useState } from 'react'
import { useAuth } from './auth'
import { Modal } from './Dialogs'
import { deepEqual, isTab } from './flowjson'
import {
  diffRevisions, diffSummary, getRevision, loadMoreRevisions, pickOnly, refreshRevisions, setPicked,
  togglePick, useHistory, type Revision, type RevisionDiff,
} from './revisions'
import { isDirty, nodeLabel, reveal, rollback, setState, setTab, typeOf, useEditor } from './store'
import type { FlowObj } from './types'
import './history.css'

// ---- time ----

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })

/** "just now", "3 minutes ago", "yesterday". */
export function relativeTime(t: number, now: number): string {
  const s = Math.round((t - now) / 1000)
  const a = Math.abs(s)
  if (a < 45) return 'just now'
  if (a < 45 * 60) return rtf.format(Math.round(s / 60), 'minute')
  if (a < 22 * 3600) return rtf.format(Math.round(s / 3600), 'hour')
  if (a < 26 * 86400) return rtf.format(Math.round(s / 86400), 'day')
  if (a < 320 * 86400) return rtf.format(Math.round(s / (30 * 86400)), 'month')
  return rtf.format(Math.round(s / (365 * 86400)), 'year')
}

const pad = (n: number) => String(n).padStart(2, '0')

/** Local time as 2026-11-22 15:29:51. */
export function absoluteTime(t: number): string {
  const d = new Date(t)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

function useNow(every = 30_000): number {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), every)
    return () => clearInterval(t)
  }, [every])
  return now
}

function When({ time, now }: { time: string; now: number }) {
  const t = Date.parse(time)
  return (
    <>
      <time dateTime={time} className="rn-rev-rel">{relativeTime(t, now)}</time>
      <span className="rn-rev-abs">{absoluteTime(t)}</span>
    </>
  )
}

const typeLabels: Record<string, string> = { full: 'full', flows: 'flows', nodes: 'nodes', reload: 'reload' }

// ---- the list ----

function Row({ r, picked, focus, latest, now }: { r: Revision; picked: boolean; focus: boolean; latest: boolean; now: number }) {
  return (
    <div
      role="option"
      aria-selected={picked}
      tabIndex={focus ? 0 : -1}
      className={'rn-rev' + (picked ? ' picked' : '')}
      data-id={r.id}
      data-testid="revision"
      onClick={(e) => (e.shiftKey || e.ctrlKey || e.metaKey ? togglePick(r.id) : pickOnly(r.id))}
      onMouseDown={(e) => e.shiftKey && e.preventDefault()}
    >
      <input
        type="checkbox"
        tabIndex={-1}
        checked={picked}
        aria-label={`Compare revision #${r.id}`}
        title="Tick two revisions to compare them"
        onClick={(e) => e.stopPropagation()}
        onChange={() => togglePick(r.id)}
        data-testid="revision-check"
      />
      <div className="rn-rev-main">
        <div className="rn-rev-line">
          <span className="rn-rev-id" data-testid="revision-id">#{r.id}</span>
          <span className={'rn-rev-type t-' + r.deployType} data-testid="revision-type" title="Deploy type">{typeLabels[r.deployType] ?? r.deployType}</span>
          {latest && <span className="rn-rev-current" title="The flows running now">deployed</span>}
          <span className="rn-spacer" />
          <span className="rn-rev-nodes" data-testid="revision-nodes">{r.nodes} node{r.nodes === 1 ? '' : 's'}</span>
        </div>
        <div className="rn-rev-summary" data-testid="revision-summary" title={r.summary}>{r.summary}</div>
        <div className="rn-rev-time">
          <When time={r.time} now={now} />
          {r.user ? <span className="rn-rev-user">{r.user}</span> : null}
        </div>
      </div>
    </div>
  )
}

function RevisionList({ now }: { now: number }) {
  const list = useHistory((s) => s.list)
  const picked = useHistory((s) => s.picked)
  const more = useHistory((s) => s.more)
  const loading = useHistory((s) => s.loading)
  const ref = useRef<HTMLDivElement>(null)
  const [focusId, setFocusId] = useState<number | null>(null)
  const focus = focusId !== null && list.some((r) => r.id === focusId) ? focusId : (picked[picked.length - 1] ?? list[0]?.id)
  const moveTo = (id: number | undefined) => {
    if (id === undefined) return
    setFocusId(id)
    ref.current?.querySelector<HTMLElement>(`[data-id="${id}"]`)?.focus()
  }
  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.target instanceof HTMLButtonElement) return
    const i = list.findIndex((r) => r.id === focus)
    const k = e.key
    let handled = true
    if (k === 'ArrowDown') moveTo(list[Math.min(i + 1, list.length - 1)]?.id)
    else if (k === 'ArrowUp') moveTo(list[Math.max(i - 1, 0)]?.id)
    else if (k === 'Home') moveTo(list[0]?.id)
    else if (k === 'End') moveTo(list[list.length - 1]?.id)
    else if (k === 'Enter' && focus !== undefined) pickOnly(focus)
    else if (k === ' ' && focus !== undefined) togglePick(focus)
    else handled = k === 'Delete' || k === 'Backspace'
    // The canvas's shortcuts (arrows move nodes, Delete deletes them) stay out of the list.
    if (handled) {
      e.preventDefault()
      e.stopPropagation()
    }
  }
  return (
    <div
      className="rn-rev-list"
      role="listbox"
      aria-label="Revisions"
      aria-multiselectable="true"
      ref={ref}
      onKeyDown={onKeyDown}
      onFocus={(e) => {
        const id = Number((e.target as HTMLElement).dataset?.id)
        if (id) setFocusId(id)
      }}
      data-testid="revision-list"
    >
      {list.map((r, i) => (
        <Row key={r.id} r={r} picked={picked.includes(r.id)} focus={r.id === focus} latest={i === 0} now={now} />
      ))}
      {more && (
        <button className="rn-rev-more" onClick={() => loadMoreRevisions()} disabled={loading} data-testid="revisions-more">
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  )
}

// ---- one revision ----

function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { value?: T; error?: string } {
  const [s, set] = useState<{ value?: T; error?: string; key?: string }>({})
  const key = JSON.stringify(deps)
  useEffect(() => {
    let live = true
    fn().then(
      (value) => live && set({ value, key }),
      (e) => live && set({ error: (e as Error).message, key }),
    )
    return () => {
      live = false
    }
  }, [key])
  return s.key === key ? s : {}
}

const tabLabel = (t: FlowObj | undefined, id: string) => (t && typeof t.label === 'string' && t.label) || id

function Details({ id, now }: { id: number; now: number }) {
  const listed = useHistory((s) => s.list)
  const editorRev = useEditor((s) => s.rev)
  const items = useEditor((s) => s.items)
  const deploying = useEditor((s) => s.deploying)
  const { value: doc, error } = useAsync(() => getRevision(id), [id])
  const r = listed.find((x) => x.id === id) ?? doc?.revision
  const latest = listed[0]
  const tabs = useMemo(() => {
    if (!doc) return []
    const counts = new Map<string, number>()
    for (const o of doc.flows) if (o.z) counts.set(o.z, (counts.get(o.z) ?? 0) + 1)
    return doc.flows.filter(isTab).map((t) => ({ id: t.id, label: tabLabel(t, t.id), n: counts.get(t.id) ?? 0, disabled: !!t.disabled }))
  }, [doc])
  const configs = doc ? doc.flows.filter((o) => !isTab(o) && !o.z && o.type !== 'subflow').length : 0
  const readOnly = useAuth().role === 'read'
  if (!r) return error ? <p className="rn-history-error" role="alert">{error}</p> : <p className="rn-muted">Loading…</p>
  const running = r.rev === editorRev
  return (
    <div className="rn-rev-details" data-testid="revision-details">
      <h3>Revision #{r.id}</h3>
      <table className="rn-info-table">
        <tbody>
          <tr><th>Time</th><td>{absoluteTime(Date.parse(r.time))} <span className="rn-muted">({relativeTime(Date.parse(r.time), now)})</span></td></tr>
          <tr><th>Deploy</th><td>{r.deployType}</td></tr>
          <tr><th>Summary</th><td>{r.summary}</td></tr>
          <tr><th>Nodes</th><td>{r.nodes}</td></tr>
          <tr><th>User</th><td>{r.user || <span className="rn-muted">—</span>}</td></tr>
          <tr><th>Rev</th><td className="mono">{r.rev}</td></tr>
        </tbody>
      </table>
      {doc && (
        <>
          <h4>Flows</h4>
          <ul className="rn-rev-tabs">
            {tabs.map((t) => (
              <li key={t.id}>
                {items.some((o) => o.id === t.id) ? (
                  <button className="rn-link" onClick={() => setTab(t.id)} title="Show this flow">{t.label}</button>
                ) : (
                  <span title="Not in the workspace">{t.label}</span>
                )}
                {t.disabled ? <span className="rn-muted"> (disabled)</span> : null}
                <span className="rn-muted"> · {t.n} node{t.n === 1 ? '' : 's'}</span>
              </li>
            ))}
            {configs > 0 && <li className="rn-muted">{configs} config node{configs === 1 ? '' : 's'}</li>}
          </ul>
        </>
      )}
      <div className="rn-rev-actions">
        <button
          className="primary"
          disabled={running || deploying || readOnly}
          title={readOnly ? 'Read-only: your role cannot roll back' : running ? 'These are the flows deployed now' : `Deploy revision #${r.id}'s flows again`}
          onClick={() => setState({ dialog: { kind: 'rollback', id: r.id } })}
          data-testid="rollback"
        >
          Roll back to this revision
        </button>
        {latest && latest.id !== r.id && (
          <button onClick={() => setPicked([r.id, latest.id])} title={`Show what changed from #${r.id} to #${latest.id}`} data-testid="compare-latest">
            Compare with #{latest.id}
          </button>
        )}
      </div>
      {running && <p className="rn-muted rn-rev-note">The flows of this revision are the ones deployed now.</p>}
    </div>
  )
}

// ---- two revisions ----

const kinds = [
  ['added', 'Added'],
  ['removed', 'Removed'],
  ['changed', 'Changed'],
  ['rewired', 'Rewired'],
  ['moved', 'Moved'],
] as const

type Kind = (typeof kinds)[number][0]

interface Entry {
  id: string
  kind: Kind
  label: string
  type: string
  /** The node's tab's label, "" for a tab itself, "config nodes" for a config node. */
  tab: string
  tabId: string
  before?: FlowObj
  after?: FlowObj
}

const short = (v: unknown) => {
  const s = JSON.stringify(v)
  return s.length > 160 ? s.slice(0, 160) + '…' : s
}

/** An old or new property value; a property one side does not have is "unset". */
function Value({ v, as: Tag }: { v: unknown; as: 'del' | 'ins' }) {
  return v === undefined ? <span className="rn-muted">unset</span> : <Tag>{short(v)}</Tag>
}

function nameOf(o: FlowObj | undefined, id: string): string {
  if (!o) return id
  if (isTab(o)) return tabLabel(o, id)
  return nodeLabel(o, typeOf(o.type))
}

/** What differs between two versions of a node, property by property. */
function Changes({ e, a, b }: { e: Entry; a: Map<string, FlowObj>; b: Map<string, FlowObj> }) {
  const { before: o, after: n } = e
  if (!o || !n) return null
  if (e.kind === 'moved') return <div className="rn-diff-props">x, y: {o.x}, {o.y} → {n.x}, {n.y}</div>
  if (e.kind === 'rewired') {
    const fmt = (w: unknown) => (Array.isArray(w) ? w.map((p: string[]) => (p.length ? p.map((t) => nameOf(b.get(t) ?? a.get(t), t)).join(', ') : '∅')).join(' | ') : '∅')
    return <div className="rn-diff-props">wires: {fmt(o.wires)} → {fmt(n.wires)}</div>
  }
  const keys = [...new Set([...Object.keys(o), ...Object.keys(n)])].filter((k) => k !== 'id' && k !== 'x' && k !== 'y' && k !== 'wires' && !deepEqual(o[k], n[k]))
  if (!keys.length) {
    const tab = n.z ? b.get(n.z) : undefined
    const ta = n.z ? a.get(n.z) : undefined
    const why = tab && ta && !deepEqual(tab, ta) ? 'its flow changed' : 'a config node it uses changed'
    return <div className="rn-diff-props rn-muted">{why}</div>
  }
  return (
    <table className="rn-diff-props">
      <tbody>
        {keys.map((k) => (
          <tr key={k}>
            <th>{k}</th>
            <td><Value v={o[k]} as="del" /> → <Value v={n[k]} as="ins" /></td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function DiffView({ from, to }: { from: number; to: number }) {
  const items = useEditor((s) => s.items)
  const { value, error } = useAsync(() => Promise.all([diffRevisions(from, to), getRevision(from), getRevision(to)]), [from, to])
  const model = useMemo(() => {
    if (!value) return null
    const [diff, ra, rb] = value as [RevisionDiff, { flows: FlowObj[] }, { flows: FlowObj[] }]
    const a = new Map(ra.flows.map((o) => [o.id, o]))
    const b = new Map(rb.flows.map((o) => [o.id, o]))
    const groups = kinds.map(([kind, title]) => {
      const entries: Entry[] = (diff[kind] ?? []).map((id) => {
        const before = a.get(id)
        const after = b.get(id)
        const o = (kind === 'removed' ? before : after) ?? before ?? after
        const z = o?.z ?? ''
        const tabObj = z ? b.get(z) ?? a.get(z) : undefined
        return {
          id, kind, before, after,
          label: nameOf(o, id),
          type: !o ? '' : isTab(o) ? 'flow' : o.type,
          tab: !o || isTab(o) ? '' : z ? tabLabel(tabObj, z) : 'config nodes',
          tabId: z,
        }
      })
      // Grouped by tab, in the order the tabs come in the newer document.
      const order = new Map([...b.values(), ...a.values()].filter(isTab).map((t, i) => [t.id, i]))
      entries.sort((x, y) => (order.get(x.tabId) ?? 1e9) - (order.get(y.tabId) ?? 1e9) || x.label.localeCompare(y.label))
      const byTab: { tab: string; tabId: string; entries: Entry[] }[] = []
      for (const e of entries) {
        const last = byTab[byTab.length - 1]
        if (last && last.tabId === e.tabId && last.tab === e.tab) last.entries.push(e)
        else byTab.push({ tab: e.tab, tabId: e.tabId, entries: [e] })
      }
      return { kind, title, count: entries.length, byTab }
    }).filter((g) => g.count)
    const tabNames = (diff.tabs ?? []).map((id) => tabLabel(b.get(id) ?? a.get(id), id))
    return { diff, a, b, groups, tabNames }
  }, [value])
  const inWorkspace = useMemo(() => new Set(items.map((o) => o.id)), [items])
  if (error) return <p className="rn-history-error" role="alert">{error}</p>
  if (!model) return <p className="rn-muted">Loading…</p>
  return (
    <div className="rn-diff" data-testid="revision-diff">
      <h3>
        #{from} → #{to}
      </h3>
      <p className="rn-diff-summary" data-testid="diff-summary">{diffSummary(model.diff)}</p>
      {model.tabNames.length > 0 && (
        <p className="rn-diff-flows">Flows affected: {model.tabNames.join(', ')}</p>
      )}
      {model.groups.map((g) => (
        <section key={g.kind} className={'rn-diff-group k-' + g.kind} data-kind={g.kind} data-testid="diff-group">
          <h4>
            {g.title} <span className="rn-diff-count">{g.count}</span>
          </h4>
          {g.byTab.map((t) => (
            <div key={t.tabId + t.tab} className="rn-diff-tab">
              {t.tab && <div className="rn-diff-tabname" data-testid="diff-tab">{t.tab}</div>}
              <ul>
                {t.entries.map((e) => {
                  const here = inWorkspace.has(e.id)
                  const show = () => (e.type === 'flow' ? setTab(e.id) : reveal(e.id))
                  const detail = e.kind !== 'added' && e.kind !== 'removed'
                  return (
                    <li key={e.id} data-id={e.id} data-testid="diff-entry">
                      <div className="rn-diff-entry">
                        <span className="rn-diff-mark" aria-hidden="true">{e.kind === 'added' ? '+' : e.kind === 'removed' ? '−' : e.kind === 'moved' ? '↔' : '~'}</span>
                        <span className="rn-diff-label" data-testid="diff-label">{e.label}</span>
                        {e.type && e.type !== e.label && <span className="rn-diff-type" data-testid="diff-type">{e.type}</span>}
                        <span className="rn-spacer" />
                        {here ? (
                          <button className="rn-link" onClick={show} title="Show it on the canvas" aria-label={`Show ${e.label} on the canvas`} data-testid="diff-show">
                            show
                          </button>
                        ) : (
                          <span className="rn-muted rn-diff-gone" title="Not in the current workspace">not in workspace</span>
                        )}
                      </div>
                      {detail && <Changes e={e} a={model.a} b={model.b} />}
                    </li>
                  )
                })}
              </ul>
            </div>
          ))}
        </section>
      ))}
      {!model.groups.length && <p className="rn-muted">The two revisions have the same flows.</p>}
    </div>
  )
}

// ---- the sidebar tab ----

export function HistorySidebar() {
  const stale = useHistory((s) => s.stale)
  const loaded = useHistory((s) => s.loaded)
  const loading = useHistory((s) => s.loading)
  const error = useHistory((s) => s.error)
  const count = useHistory((s) => s.list.length)
  const picked = useHistory((s) => s.picked)
  const now = useNow()
  useEffect(() => {
    refreshRevisions()
  }, [stale])
  const [a, b] = [...picked].sort((x, y) => x - y)
  return (
    <div className="rn-history" data-testid="history">
      <div className="rn-history-bar">
        <span className="rn-history-hint">Click one to show it · Shift+click or tick two to compare</span>
        <span className="rn-spacer" />
        <button onClick={() => refreshRevisions()} disabled={loading} title="Refresh the list" aria-label="Refresh the list of revisions">
          ↻
        </button>
      </div>
      {error && <p className="rn-history-error" role="alert">Could not load the revisions: {error}</p>}
      {loaded && !count && !error && <p className="rn-muted rn-history-empty">No revisions yet: every deploy is saved as one.</p>}
      <RevisionList now={now} />
      <div className="rn-rev-pane" data-testid="revision-pane">
        {picked.length === 1 ? (
          <Details id={picked[0]} now={now} />
        ) : picked.length === 2 ? (
          <DiffView from={a} to={b} />
        ) : count ? (
          <p className="rn-muted rn-history-empty">Select a revision to see it, or two to see what changed between them.</p>
        ) : null}
      </div>
    </div>
  )
}

// ---- the confirmation ----

export function RollbackDialog({ id }: { id: number }) {
  const dirty = useEditor(isDirty)
  const deploying = useEditor((s) => s.deploying)
  const r = useHistory((s) => s.list.find((x) => x.id === id))
  const latest = useHistory((s) => s.list[0])
  const back = useRef<Element | null>(document.activeElement)
  const { value: change } = useAsync(
    () => (latest && latest.id !== id ? diffRevisions(latest.id, id).then(diffSummary) : Promise.resolve('')),
    [id, latest?.id],
  )
  useEffect(() => () => {
    const el = back.current as HTMLElement | null
    if (el?.isConnected) el.focus()
  }, [])
  const cancel = () => setState({ dialog: null })
  return (
    <Modal
      title={`Roll back to revision #${id}`}
      buttons={
        <>
          <button onClick={cancel} autoFocus data-testid="rollback-cancel">Cancel</button>
          <button className="primary" disabled={deploying} onClick={() => rollback(id)} data-testid="rollback-confirm">
            {dirty ? 'Discard my changes and roll back' : 'Roll back'}
          </button>
        </>
      }
    >
      <p className="rn-first">
        Deploy the flows of revision #{id}
        {r ? <> ({absoluteTime(Date.parse(r.time))}, {r.summary})</> : null} again?
      </p>
      {change ? (
        <p data-testid="rollback-change">
          Compared with the flows deployed now (#{latest?.id}): <b>{change}</b>.
        </p>
      ) : null}
      <p className="rn-muted">
        The rollback is a new revision, deployed as a “modified nodes” deploy: nodes it does not change keep running with their state.
      </p>
      {dirty && (
        <div className="rn-history-warn" role="alert" data-testid="rollback-dirty">
          You have changes in the editor that are not deployed. Rolling back discards them: the workspace is reloaded with revision #{id}’s flows.
        </div>
      )}
    </Modal>
  )
}
