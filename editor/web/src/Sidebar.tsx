// The sidebar: info (the selected node's type help, or the flow's
// description), debug messages, the config nodes shared by the flows, and
// the history of deploys (History.tsx).
import { useMemo } from 'react'
import { ContextSidebar } from './Context'
import { DebugSidebar } from './Debug'
import { HistorySidebar } from './History'
import { isConfigNode, isFlowNode } from './flowjson'
import { Markdown } from './Markdown'
import { Outline } from './Outline'
import { paletteLabel } from './Palette'
import { nodeLabel, openNewConfigTray, openTray, setState, typeOf, useEditor } from './store'

function Info() {
  const items = useEditor((s) => s.items)
  const selected = useEditor((s) => s.selected)
  const helpType = useEditor((s) => s.helpType)
  const tab = useEditor((s) => s.tab)
  const node = selected.size === 1 ? items.find((o) => selected.has(o.id)) : undefined
  if (node) {
    const t = typeOf(node.type)
    return (
      <div className="rn-info" data-testid="info">
        <table className="rn-info-table">
          <tbody>
            <tr><th>Node</th><td className="mono">{node.id}</td></tr>
            <tr><th>Type</th><td>{node.type}{t?.nodeRed && t.nodeRed !== node.type ? ` (Node-RED: ${t.nodeRed})` : ''}{!t && node.type !== 'group' ? <span className="rn-unknown-tag">unknown</span> : null}</td></tr>
            {node.name ? <tr><th>Name</th><td>{String(node.name)}</td></tr> : null}
            {t?.module ? <tr><th>Module</th><td>{t.module}</td></tr> : null}
          </tbody>
        </table>
        <h3>{t ? paletteLabel(t) : node.type}</h3>
        {t?.help ? (
          <Markdown text={t.help} />
        ) : node.type === 'group' ? (
          <p>A group of {Array.isArray(node.nodes) ? node.nodes.length : 0}. Its nodes move with it; double-click its border or label to edit its name, style and environment variables.</p>
        ) : (
          <p>Runnel does not know this node type; it is kept as it is.</p>
        )}
        {typeof node.info === 'string' && node.info ? (
          <>
            <h3>Description</h3>
            <Markdown text={node.info} />
          </>
        ) : null}
      </div>
    )
  }
  if (selected.size > 1) return <div className="rn-info"><p>{selected.size} nodes selected.</p></div>
  const ht = helpType ? typeOf(helpType) : undefined
  if (ht) {
    return (
      <div className="rn-info" data-testid="info">
        <h3>{paletteLabel(ht)}</h3>
        <Markdown text={ht.help ?? ''} />
      </div>
    )
  }
  const t = items.find((o) => o.id === tab)
  const count = items.filter((o) => o.z === tab && isFlowNode(o)).length
  return (
    <div className="rn-info" data-testid="info">
      <table className="rn-info-table">
        <tbody>
          <tr><th>Flow</th><td>{String(t?.label ?? '')}</td></tr>
          <tr><th>Status</th><td>{t?.disabled ? 'Disabled' : 'Enabled'}</td></tr>
          <tr><th>Nodes</th><td>{count}</td></tr>
        </tbody>
      </table>
      {typeof t?.info === 'string' && t.info ? <Markdown text={t.info} /> : <p className="rn-muted">Select a node to see its help. Double-click a tab to describe the flow.</p>}
    </div>
  )
}

function ConfigNodes() {
  const items = useEditor((s) => s.items)
  const problemMap = useEditor((s) => s.problemMap)
  const types = useEditor((s) => s.types)
  const configTypes = useMemo(() => types.filter((t) => t.config || t.category === 'config'), [types])
  const groups = useMemo(() => {
    const nodes = items.filter(isConfigNode)
    const uses = new Map<string, number>()
    const ids = new Set(nodes.map((n) => n.id))
    for (const o of items) for (const [k, v] of Object.entries(o)) if (k !== 'id' && typeof v === 'string' && ids.has(v)) uses.set(v, (uses.get(v) ?? 0) + 1)
    const byType = new Map<string, { id: string; label: string; uses: number }[]>()
    for (const t of configTypes) byType.set(t.type, [])
    for (const n of nodes) {
      if (!byType.has(n.type)) byType.set(n.type, [])
      byType.get(n.type)!.push({ id: n.id, label: nodeLabel(n, typeOf(n.type)), uses: uses.get(n.id) ?? 0 })
    }
    return [...byType.entries()]
  }, [items, configTypes])
  return (
    <div className="rn-config" data-testid="config-nodes">
      {groups.map(([type, list]) => (
        <section key={type}>
          <div className="rn-config-head">
            <span>{typeOf(type)?.label ?? type}</span>
            <span className="rn-spacer" />
            {typeOf(type) && (
              <button onClick={() => openNewConfigTray(type)} title={`Add ${type}`} aria-label={`Add ${type}`}>
                +
              </button>
            )}
          </div>
          {list.length === 0 && <div className="rn-muted rn-config-none">none</div>}
          {list.map((c) => (
            <div key={c.id} className={'rn-config-node' + (c.uses ? '' : ' unused') + (problemMap.has(c.id) ? ' invalid' : '')} title={problemMap.get(c.id)?.map((p) => (p.field ? p.field + ': ' : '') + p.error).join('\n')} onDoubleClick={() => openTray(c.id)} onClick={() => openTray(c.id)} data-id={c.id}>
              <span>{c.label}</span>
              <span className="rn-config-uses">{c.uses ? c.uses : 'unused'}</span>
            </div>
          ))}
        </section>
      ))}
    </div>
  )
}

export function Sidebar() {
  const which = useEditor((s) => s.sidebar)
  return (
    <aside className="rn-sidebar" aria-label="Sidebar">
      <div className="rn-sidebar-tabs" role="tablist">
        {(['info', 'debug', 'context', 'config', 'history'] as const).map((k) => (
          <button key={k} role="tab" aria-selected={which === k} className={which === k ? 'active' : ''} onClick={() => setState({ sidebar: k })} data-sidebar={k}>
            {k === 'config' ? 'config nodes' : k}
          </button>
        ))}
      </div>
      <div className="rn-sidebar-body">
        {which === 'info' && <Outline />}
        {which === 'info' && <Info />}
        {which === 'debug' && <DebugSidebar />}
        {which === 'config' && <ConfigNodes />}
        {which === 'history' && <HistorySidebar />}
        {which === 'context' && <ContextSidebar />}
      </div>
    </aside>
  )
}
